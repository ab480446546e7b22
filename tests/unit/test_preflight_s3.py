"""The backup bucket preflight, against moto: every problem, one line each, in one error."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components.persistence import preflight as preflight_s3
from components.persistence.preflight import BucketPreflightError, bucket_problems
from components.persistence.settings import EXTERNAL, ObjectStoreSettings

BUCKET = "backups"
REGION = "eu-west-1"
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto, reached through the preflight's real boto3 client."""
    monkeypatch.setattr(preflight_s3, "client_factory", preflight_s3.s3_client)
    with mock_aws():
        yield boto3.client("s3", region_name=REGION)


NONCURRENT_EXPIRY = {
    "ID": "expire-noncurrent",
    "Status": "Enabled",
    "Filter": {},
    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
}


def make_bucket(
    s3: Any,
    *,
    versioning: bool = True,
    encryption: bool = True,
    lifecycle: bool = True,
    block: dict[str, bool] | None,
) -> None:
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioning:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    if lifecycle:
        s3.put_bucket_lifecycle_configuration(
            Bucket=BUCKET,
            LifecycleConfiguration={"Rules": [NONCURRENT_EXPIRY]},
        )
    if encryption:
        s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
    if block is not None:
        s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=block)


def store(preflight: bool = True) -> ObjectStoreSettings:
    return ObjectStoreSettings(
        mode=EXTERNAL, bucket=BUCKET, region=REGION, prefix="prod", preflight=preflight
    )


def test_a_safe_bucket_passes(s3: Any) -> None:
    make_bucket(s3, block=BLOCK_ALL)
    assert bucket_problems(s3, BUCKET) == []
    preflight_s3.run(store())


def test_a_missing_bucket_is_one_clear_problem(s3: Any) -> None:
    (problem,) = bucket_problems(s3, BUCKET)
    assert "does not exist" in problem


def test_each_bad_property_gets_its_own_line_in_one_error(s3: Any) -> None:
    make_bucket(s3, versioning=False, encryption=False, block=None)
    with pytest.raises(BucketPreflightError) as err:
        preflight_s3.run(store())
    problems = err.value.problems
    assert len(problems) == 3
    assert "versioning" in problems[0]
    assert "encryption" in problems[1]
    assert "public access" in problems[2]
    message = str(err.value)
    assert message.count("\n  - ") == 3
    assert "objectStore.preflight: false" in message


def test_a_partial_public_access_block_names_the_open_settings(s3: Any) -> None:
    make_bucket(s3, block={**BLOCK_ALL, "BlockPublicPolicy": False})
    (problem,) = bucket_problems(s3, BUCKET)
    assert "BlockPublicPolicy" in problem and "BlockPublicAcls" not in problem


def test_suspended_versioning_is_a_problem(s3: Any) -> None:
    make_bucket(s3, block=BLOCK_ALL)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    (problem,) = bucket_problems(s3, BUCKET)
    assert "Suspended" in problem


def test_preflight_off_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_: Any, **__: Any) -> Any:
        raise AssertionError("the preflight is off: no AWS client may be created")

    monkeypatch.setattr(boto3, "client", no_network)
    preflight_s3.run(store(preflight=False))


def test_the_program_stops_before_deploying_on_a_bad_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tools.offline import evaluate

    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        bucket = "acme-prod-velero-backups"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
        # The real boto3 client, against moto, instead of the session's in-memory bucket.
        monkeypatch.setattr(preflight_s3, "client_factory", preflight_s3.s3_client)
        with pytest.raises(BucketPreflightError, match="versioning is Suspended") as err:
            evaluate("prod")
    assert "nothing was changed" in str(err.value)


def test_a_versioned_bucket_without_noncurrent_expiry_is_a_problem(s3: Any) -> None:
    make_bucket(s3, lifecycle=False, block=BLOCK_ALL)
    (problem,) = bucket_problems(s3, BUCKET)
    assert "noncurrent versions" in problem
    # A rule that expires only current objects does not count.
    current_only = {"ID": "x", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 90}}
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [current_only]}
    )
    (problem,) = bucket_problems(s3, BUCKET)
    assert "noncurrent versions" in problem


@pytest.mark.parametrize(
    ("raised", "says"),
    [
        ("NoCredentialsError", "no AWS credentials found"),
        ("EndpointConnectionError", "cannot connect to the S3 endpoint"),
        ("ReadTimeoutError", "cannot ask S3 about the bucket: ReadTimeoutError"),
    ],
)
def test_no_credentials_or_no_route_is_one_clear_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, raised: str, says: str
) -> None:
    # The real boto3 client with no credentials anywhere: botocore raises NoCredentialsError
    # (a BotoCoreError, not a ClientError) from the first call.
    from botocore import exceptions

    if raised == "NoCredentialsError":
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setattr(preflight_s3, "client_factory", preflight_s3.s3_client)
    else:
        error = getattr(exceptions, raised)
        kwargs = {"endpoint_url": "https://s3.example.invalid"}

        class Unreachable:
            def head_bucket(self, **_: Any) -> Any:
                raise error(**kwargs)

        monkeypatch.setattr(preflight_s3, "client_factory", lambda _: Unreachable())
    with pytest.raises(BucketPreflightError) as err:
        preflight_s3.run(store())
    (problem,) = err.value.problems
    assert says in problem
    assert "Traceback" not in str(err.value)


class VeleroLeastPrivilege:
    """S3 as Velero's documented IAM user sees it (velero-plugin-for-aws README):
    s3:ListBucket on the bucket, object actions on its keys, no bucket-settings reads."""

    def head_bucket(self, **_: Any) -> dict[str, Any]:
        return {}

    def __getattr__(self, name: str) -> Any:
        from botocore.exceptions import ClientError

        def denied(**_: Any) -> Any:
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise ClientError(error, name)

        return denied


def test_velero_least_privilege_keys_get_the_missing_rights_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kernel.loader import Secret

    monkeypatch.setattr(preflight_s3, "client_factory", lambda _: VeleroLeastPrivilege())
    keys = Secret("velero-s3", "[default]\naws_access_key_id=a\naws_secret_access_key=b\n")
    with pytest.raises(BucketPreflightError) as err:
        preflight_s3.run(dataclasses.replace(store(), credentials=keys))
    (problem,) = err.value.problems
    for action in preflight_s3.READ_ACTIONS:
        assert action in problem
    assert "secrets.velero-s3 (Velero's credentials)" in problem
    assert "preflight: false" in problem
