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


def bucket_problems(s3: Any, bucket: str) -> list[str]:
    """What is wrong with `bucket`, one sentence each; [] when it is fit for backups."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = _code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return ["bucket does not exist; create it first (this program never creates it)"]
        if code in ("403", "AccessDenied"):
            return ["access denied to the bucket; grant s3:ListBucket to the credentials used"]
        return [f"cannot reach the bucket: {code or exc}"]

    problems: list[str] = []
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if versioning != "Enabled":
        problems.append(
            f"versioning is {versioning or 'off'}; enable it so a deleted or overwritten "
            "backup can be recovered"
        )
    if versioning == "Enabled":
        problems += _lifecycle_problems(s3, bucket)
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
        if not rules:
            problems.append("default encryption is off; enable SSE-S3 or SSE-KMS")
    except ClientError as exc:
        if _code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            problems.append("default encryption is off; enable SSE-S3 or SSE-KMS")
        else:
            problems.append(f"cannot read default encryption: {_code(exc) or exc}")
    try:
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        open_flags = [f for f in PUBLIC_ACCESS_FLAGS if not config.get(f)]
        if open_flags:
            problems.append(
                "public access is not fully blocked; set " + ", ".join(open_flags) + " to true"
            )
    except ClientError as exc:
        if _code(exc) == "NoSuchPublicAccessBlockConfiguration":
            problems.append(
                "public access is not blocked; add a public access block with all four "
                "settings true"
            )
        else:
            problems.append(f"cannot read the public access block: {_code(exc) or exc}")
    return problems


def _lifecycle_problems(s3: Any, bucket: str) -> list[str]:
    """A versioned bucket keeps every pruned snapshot and expired backup as a noncurrent
    version: some enabled lifecycle rule must expire those."""
    from botocore.exceptions import ClientError

    missing = (
        "no lifecycle rule expires noncurrent versions, so deleted backups and pruned "
        "etcd snapshots are kept forever; add one (e.g. NoncurrentVersionExpiration 30 days)"
    )
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as exc:
        if _code(exc) == "NoSuchLifecycleConfiguration":
            return [missing]
        return [f"cannot read the lifecycle configuration: {_code(exc) or exc}"]
    expiring = [
        r for r in rules if r.get("Status") == "Enabled" and r.get("NoncurrentVersionExpiration")
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
    return None


"""How `run` gets its S3 client; tests swap in an in-memory bucket or moto."""


def run(store: ObjectStoreSettings) -> None:
    """The one call __main__.py makes; a no-op unless the preflight is enabled."""
    if not store.preflight:
        return
    from botocore.exceptions import BotoCoreError

    try:
        problems = bucket_problems(client_factory(store), store.bucket)
    except BotoCoreError as exc:
        problems = [_unreachable(exc)]
    if problems:
        raise BucketPreflightError(store.bucket, problems)
