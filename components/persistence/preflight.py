"""Preflight for the backup bucket: fail before deploying anything if it is unsafe.

The program never creates or deletes the bucket (backups must outlive the stack),
so it checks the one it is given: it exists, versioning is on (an overwritten or
deleted backup can be recovered), default encryption is on, and public access is
blocked. Every failure is reported at once, one line each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pulumi

from kernel.config import problem_report

if TYPE_CHECKING:
    from components.persistence.settings import ObjectStoreSettings

PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


class BucketPreflightError(pulumi.RunError):
    """All bucket problems, one per line. A RunError prints without a traceback."""

    def __init__(self, bucket: str, problems: list[str]) -> None:
        self.bucket = bucket
        self.problems = problems
        super().__init__(
            problem_report(
                f"Backup bucket '{bucket}' failed the preflight",
                problems,
                "persistence.backups.objectStore.preflight: false skips this check",
            )
        )


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


# The read-only rights the preflight needs beyond Velero's own (velero-plugin-for-aws
# README: s3:ListBucket on the bucket, object actions on bucket/*).
READ_ACTIONS = (
    "s3:GetBucketVersioning",
    "s3:GetLifecycleConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketPublicAccessBlock",
)


class _Denied(Exception):
    """An S3 call the credentials may not make: one problem line, not a traceback."""

    def __init__(self, *actions: str) -> None:
        super().__init__(*actions)
        self.actions = list(actions)


def _read(call: Callable[..., Any], bucket: str, action: str) -> Any:
    from botocore.exceptions import ClientError

    try:
        return call(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) in ("403", "AccessDenied"):
            raise _Denied(action) from exc
        raise


def bucket_problems(s3: Any, bucket: str, identity: str = "the credentials used") -> list[str]:
    """What is wrong with `bucket`, one sentence each; [] when it is fit for backups.
    `identity` names whose credentials ask, for the access-denied sentences."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = _code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return ["bucket does not exist; create it first (this program never creates it)"]
        if code in ("403", "AccessDenied"):
            return [f"access denied to the bucket; grant s3:ListBucket to {identity}"]
        return [f"cannot reach the bucket: {code or exc}"]
    problems: list[str] = []
    denied: list[str] = []
    for check in (_versioning_problems, _encryption_problems, _public_access_problems):
        try:
            problems += check(s3, bucket)
        except _Denied as exc:
            denied += exc.actions
    if denied:
        problems.append(
            f"access denied to {', '.join(denied)}: grant these read-only rights on the bucket "
            f"to {identity} (the preflight reads the bucket's settings with them), or set "
            "persistence.backups.objectStore.preflight: false"
        )
    return problems


def _versioning_problems(s3: Any, bucket: str) -> list[str]:
    try:
        found = _read(s3.get_bucket_versioning, bucket, "s3:GetBucketVersioning")
    except _Denied as exc:
        # Name every missing right at once: the lifecycle read comes next.
        try:
            _lifecycle_problems(s3, bucket)
        except _Denied as more:
            raise _Denied(*exc.actions, *more.actions) from exc
        raise
    versioning = found.get("Status")
    if versioning != "Enabled":
        return [
            f"versioning is {versioning or 'off'}; enable it so a deleted or overwritten "
            "backup can be recovered"
        ]
    return _lifecycle_problems(s3, bucket)


def _encryption_problems(s3: Any, bucket: str) -> list[str]:
    from botocore.exceptions import ClientError

    off = ["default encryption is off; enable SSE-S3 or SSE-KMS"]
    try:
        found = _read(s3.get_bucket_encryption, bucket, "s3:GetEncryptionConfiguration")
    except ClientError as exc:
        if _code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return off
        return [f"cannot read default encryption: {_code(exc) or exc}"]
    return [] if found["ServerSideEncryptionConfiguration"]["Rules"] else off


def _public_access_problems(s3: Any, bucket: str) -> list[str]:
    from botocore.exceptions import ClientError

    try:
        config = _read(s3.get_public_access_block, bucket, "s3:GetBucketPublicAccessBlock")
    except ClientError as exc:
        if _code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return [
                "public access is not blocked; add a public access block with all four "
                "settings true"
            ]
        return [f"cannot read the public access block: {_code(exc) or exc}"]
    open_flags = [
        f for f in PUBLIC_ACCESS_FLAGS if not config["PublicAccessBlockConfiguration"].get(f)
    ]
    if open_flags:
        return ["public access is not fully blocked; set " + ", ".join(open_flags) + " to true"]
    return []


def _lifecycle_problems(s3: Any, bucket: str) -> list[str]:
    """A versioned bucket keeps every pruned snapshot and expired backup as a noncurrent
    version: some enabled lifecycle rule must expire those."""
    from botocore.exceptions import ClientError

    missing = (
        "no lifecycle rule expires noncurrent versions, so deleted backups and pruned "
        "etcd snapshots are kept forever; add one (e.g. NoncurrentVersionExpiration 30 days)"
    )
    try:
        found = _read(s3.get_bucket_lifecycle_configuration, bucket, "s3:GetLifecycleConfiguration")
    except ClientError as exc:
        if _code(exc) == "NoSuchLifecycleConfiguration":
            return [missing]
        return [f"cannot read the lifecycle configuration: {_code(exc) or exc}"]
    expiring = [
        r
        for r in found.get("Rules", [])
        if r.get("Status") == "Enabled" and r.get("NoncurrentVersionExpiration")
    ]
    return [] if expiring else [missing]


def s3_client(store: ObjectStoreSettings) -> Any:
    import boto3

    from components.persistence.formats import parse_aws_ini

    # No credentials given: boto3's chain (IRSA, instance profile, env, ~/.aws).
    pair = parse_aws_ini(store.credentials.plaintext()) if store.credentials else None
    key, secret = pair if pair else (None, None)
    return boto3.client(
        "s3",
        region_name=store.region,
        endpoint_url=store.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


client_factory: Callable[[ObjectStoreSettings], Any] = s3_client


def _unreachable(exc: Exception) -> str:
    """One sentence for the errors botocore raises before S3 answers at all (a
    BotoCoreError, not a ClientError): no credentials, no route to the endpoint."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found: set credentialsSecret, or run where IRSA, an instance "
            "profile or AWS_PROFILE provides them"
        )
    if isinstance(exc, EndpointConnectionError):
        return f"cannot connect to the S3 endpoint: {exc}"
    return f"cannot ask S3 about the bucket: {type(exc).__name__}: {exc}"


"""How `run` gets its S3 client; tests swap in an in-memory bucket or moto."""


def run(store: ObjectStoreSettings) -> None:
    """The one call __main__.py makes; a no-op unless the preflight is enabled."""
    if not store.preflight:
        return
    from botocore.exceptions import BotoCoreError

    identity = (
        f"the keys in secrets.{store.credentials.key} (Velero's credentials)"
        if store.credentials
        else "the deployer's AWS credentials (boto3's default chain)"
    )
    try:
        problems = bucket_problems(client_factory(store), store.bucket, identity)
    except BotoCoreError as exc:
        problems = [_unreachable(exc)]
    if problems:
        raise BucketPreflightError(store.bucket, problems)
