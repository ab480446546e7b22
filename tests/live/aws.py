"""An AWS account for the capi stacks' preflights: moto's server on loopback, holding what
the CAPA and S3 preflights check (the stack's AMI, key pair, CAPA's instance profiles, a
versioned, encrypted, private backup bucket with a noncurrent-version rule)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from components.control_plane.preflight import INSTANCE_PROFILES
from tests.live.cluster import free_port

KEYS = {"AWS_ACCESS_KEY_ID": "AKIALIVESUITE0000000", "AWS_SECRET_ACCESS_KEY": "live-suite"}


def _seed(env: dict[str, str], capi: dict[str, Any], buckets: list[str]) -> None:
    region = capi["aws"]["region"]
    kw = {"region_name": region, "endpoint_url": env["AWS_ENDPOINT_URL"]}
    session = boto3.Session(
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
    )
    iam, ec2, s3 = (session.client(s, **kw) for s in ("iam", "ec2", "s3"))
    trust = {"Version": "2012-10-17", "Statement": []}
    for profile in INSTANCE_PROFILES:
        iam.create_role(RoleName=profile, AssumeRolePolicyDocument=json.dumps(trust))
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=profile)
    ec2.create_key_pair(KeyName=capi["aws"]["sshKeyName"])
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=dict.fromkeys(
                (
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                ),
                True,
            ),
        )
        rule = {"ID": "noncurrent", "Status": "Enabled", "Filter": {}}
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [{**rule, "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]
            },
        )


@contextmanager
def account(root: Path, capi: dict[str, Any], buckets: list[str]) -> Iterator[dict[str, str]]:
    """The environment that points boto3 (the preflights) at a seeded moto server."""
    amis = root / "amis.json"
    amis.write_text(
        json.dumps(
            [
                {
                    "ami_id": capi["aws"]["amiId"],
                    "name": "capa-live",
                    "owner_id": "123456789012",
                    "state": "available",
                    "virtualization_type": "hvm",
                    "architecture": "x86_64",
                }
            ]
        )
    )
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "MOTO_AMIS_PATH": str(amis)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        **KEYS,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{env['AWS_ENDPOINT_URL']}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        _seed(env, capi, buckets)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)
