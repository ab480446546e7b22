"""An S3 API on loopback (moto's server) that enforces IAM policies on chosen users."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.realjobs.etcd import free_port

# What docs/persistence.md says the instance profile needs on the snapshot prefix.
DOCUMENTED_RIGHTS = ("s3:PutObject", "s3:ListBucket", "s3:DeleteObject")


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }


class ObjectStore:
    """moto in server mode on 127.0.0.1:<random>; `enforce()` turns IAM checks on.

    moto authorises every request until INITIAL_NO_AUTH_ACTION_COUNT requests were made
    (default: infinity). POST <url>/moto-api/reset-auth with "0" makes every later request
    pass signature and IAM policy checks; "inf" turns them off again. The in-process
    equivalent is moto.core.set_initial_no_auth_action_count(0) / enable_iam_authentication().
    """

    def __init__(self) -> None:
        # Its own process: moto's IAM switch and state are process-wide, and the in-process
        # moto tests (preflights) of the same pytest worker must not see them.
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        server = Path(sys.executable).parent / "moto_server"
        self._proc = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.admin = Keys("AKIAADMINADMINADMIN0", "admin-secret")  # replaced in reset()
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{self.url}/moto-api/", timeout=1)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()

    def _auth(self, value: str) -> None:
        requests.post(f"{self.url}/moto-api/reset-auth", data=value.encode(), timeout=5)

    def reset(self) -> None:
        """Empty store, no IAM checks, one admin user (used by the tests, not the jobs)."""
        self._auth("inf")
        requests.post(f"{self.url}/moto-api/reset", timeout=5).raise_for_status()
        self.admin = self.user("admin", ["*"], ["*"])

    def enforce(self) -> None:
        self._auth("0")

    def client(self, service: str, keys: Keys | None = None, region: str = "eu-west-1") -> Any:
        keys = keys or self.admin
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=keys.access_key_id,
            aws_secret_access_key=keys.secret_access_key,
        )

    def user(self, name: str, actions: Sequence[str], resources: Sequence[str]) -> Keys:
        """An IAM user whose only inline policy allows `actions` on `resources`."""
        iam = self.client("iam", region="us-east-1")
        iam.create_user(UserName=name)
        statement = {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Keys(key["AccessKeyId"], key["SecretAccessKey"])

    def snapshot_user(self, bucket: str, prefix: str, *, without: Sequence[str] = ()) -> Keys:
        """The job's identity: the documented rights on its prefix, minus `without`."""
        actions = [a for a in DOCUMENTED_RIGHTS if a not in without]
        resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{prefix}/*"]
        return self.user(
            "etcd-snapshot-" + "-".join(["ok", *without]).replace(":", ""), actions, resources
        )

    def create_bucket(self, bucket: str, region: str) -> None:
        s3 = self.client("s3", region=region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
