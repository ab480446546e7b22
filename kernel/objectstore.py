"""The one validator for S3 object-store settings, wherever a section names a bucket
(persistence.backups.objectStore, observability.loki.objectStore): the same key names,
the same rules, the same messages."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kernel.config import MISSING, Section, matches

# S3 general purpose bucket naming rules (AWS S3 User Guide, "Bucket naming rules").
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_BUCKET_RULES = (
    "an S3 bucket name: 3-63 characters a-z 0-9 . -, starting and ending with a letter or "
    "digit, no '..', not an IP address"
)


def bucket_name(value: str) -> str | None:
    """None when `value` is a valid S3 bucket name, else what is allowed."""
    if not _BUCKET.fullmatch(value) or ".." in value:
        return f"expected {_BUCKET_RULES}"
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        pass
    else:
        return f"expected {_BUCKET_RULES}"
    for prefix in _RESERVED_PREFIXES:
        if value.startswith(prefix):
            return f"S3 reserves the prefix '{prefix}' for bucket names"
    for suffix in _RESERVED_SUFFIXES:
        if value.endswith(suffix):
            return f"S3 reserves the suffix '{suffix}' for bucket names"
    return None


# Region codes: eu-west-1, us-gov-west-1, ap-southeast-2, cn-north-1.
AWS_REGION = matches(r"[a-z]{2}(-[a-z]+){1,2}-\d{1,2}", "an AWS region such as eu-west-1")
ENDPOINT = matches(r"https?://[^\s/]+(/\S*)?", "an http(s) URL such as https://s3.example.com")
KEY_PREFIX = matches(
    r"[a-zA-Z0-9][-a-zA-Z0-9_./]*[a-zA-Z0-9]|[a-zA-Z0-9]", "a key prefix such as prod/velero"
)
ROLE_ARN = matches(r"arn:aws[-a-z]*:iam::\d{12}:role/\S+", "an IAM role ARN")


@dataclass(frozen=True)
class Location:
    """Where an object store is and which role reaches it; None where unset."""

    bucket: str | None
    region: str | None
    endpoint: str | None
    role_arn: str | None


def read_location(
    o: Section,
    *,
    bucket: Any = None,
    region: Any = None,
    docs: Mapping[str, str],
) -> Location:
    """Read `bucket`, `region`, `endpoint` and `roleArn` of the section `o` with the
    shared checks; `bucket`/`region` are the defaults (MISSING = required)."""
    return Location(
        bucket=o.string("bucket", bucket, doc=docs["bucket"], check=bucket_name),
        region=o.string("region", region, doc=docs["region"], check=AWS_REGION),
        endpoint=o.string("endpoint", None, doc=docs["endpoint"], check=ENDPOINT),
        role_arn=o.string("roleArn", None, doc=docs["roleArn"], check=ROLE_ARN),
    )


__all__ = [
    "AWS_REGION",
    "ENDPOINT",
    "KEY_PREFIX",
    "MISSING",
    "ROLE_ARN",
    "Location",
    "bucket_name",
    "read_location",
]
