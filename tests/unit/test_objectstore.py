"""Every object-store field is checked by one validator, with S3's bucket naming rules
(AWS S3 User Guide, "General purpose bucket naming rules") and AWS region codes."""

from __future__ import annotations

import pytest

from kernel.objectstore import AWS_REGION, bucket_name

VALID_BUCKETS = [
    "abc",
    "acme-prod-velero-backups",
    "docexamplebucket1",
    "my.example.bucket",
    "a" * 63,
]
INVALID_BUCKETS = {
    "ab": "too short",
    "a" * 64: "too long",
    "Acme-Backups": "uppercase",
    "acme_backups": "underscore",
    "-acme": "starts with a hyphen",
    "acme.": "ends with a period",
    "acme..backups": "two adjacent periods",
    "192.168.5.4": "formatted as an IP address",
    "xn--acme": "reserved prefix xn--",
    "sthree-acme": "reserved prefix sthree-",
    "acme-s3alias": "reserved suffix -s3alias",
    "acme--ol-s3": "reserved suffix --ol-s3",
}


@pytest.mark.parametrize("name", VALID_BUCKETS)
def test_valid_bucket_names_pass(name: str) -> None:
    assert bucket_name(name) is None


@pytest.mark.parametrize("name", sorted(INVALID_BUCKETS), ids=sorted(INVALID_BUCKETS.values()))
def test_invalid_bucket_names_say_what_is_allowed(name: str) -> None:
    message = bucket_name(name)
    assert message is not None
    assert "bucket name" in message


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "ap-southeast-2", "cn-north-1"])
def test_aws_region_codes_pass(region: str) -> None:
    assert AWS_REGION(region) is None


@pytest.mark.parametrize("region", ["Ireland", "eu-west", "EU-WEST-1", "eu_west_1", "euwest1"])
def test_other_region_strings_fail(region: str) -> None:
    assert AWS_REGION(region) == "expected an AWS region such as eu-west-1"
