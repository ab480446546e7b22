"""An in-memory AWS account where every CAPA prerequisite exists and the backup bucket
passes the S3 preflight, for evaluating the prod stack (whose preflights are on) without
moto's start-up cost. The preflights' real boto3 calls are tested against moto in
test_preflight_capa.py and test_preflight_s3.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from components.control_plane import preflight as preflight_capa
from components.persistence import preflight as preflight_s3


class _Client:
    def __init__(self, region: str) -> None:
        self.region = region

    def describe_availability_zones(self, **_: Any) -> dict[str, Any]:
        return {"AvailabilityZones": [{"ZoneName": f"{self.region}{z}"} for z in "abc"]}

    def get_instance_profile(self, InstanceProfileName: str) -> dict[str, Any]:
        return {"InstanceProfile": {"Roles": [{"RoleName": InstanceProfileName}]}}

    def describe_key_pairs(self, **_: Any) -> dict[str, Any]:
        return {"KeyPairs": [{}]}

    def describe_images(self, ImageIds: list[str]) -> dict[str, Any]:
        return {"Images": [{"ImageId": i} for i in ImageIds]}


class _S3:
    """A backup bucket that passes every check of the S3 preflight."""

    def head_bucket(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_bucket_versioning(self, **_: Any) -> dict[str, Any]:
        return {"Status": "Enabled"}

    def get_bucket_encryption(self, **_: Any) -> dict[str, Any]:
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
        return {"ServerSideEncryptionConfiguration": {"Rules": [rule]}}

    def get_bucket_lifecycle_configuration(self, **_: Any) -> dict[str, Any]:
        rule = {"ID": "noncurrent", "Status": "Enabled", "Filter": {}}
        return {"Rules": [{**rule, "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]}

    def get_public_access_block(self, **_: Any) -> dict[str, Any]:
        keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        return {"PublicAccessBlockConfiguration": dict.fromkeys(keys, True)}


class SatisfiedAccount:
    def __init__(self) -> None:
        self.calls = 0

    def client(self, name: str, region_name: str) -> _Client:
        self.calls += 1
        return _Client(region_name)


@contextmanager
def satisfied_aws() -> Iterator[SatisfiedAccount]:
    account = SatisfiedAccount()
    saved = preflight_capa.session_factory, preflight_s3.client_factory

    def s3(store: Any) -> _S3:
        account.calls += 1
        return _S3()

    preflight_capa.session_factory = lambda region: account
    preflight_s3.client_factory = s3
    try:
        yield account
    finally:
        preflight_capa.session_factory, preflight_s3.client_factory = saved
