"""An in-memory AWS account where every CAPA prerequisite exists, for evaluating the
prod stack (whose preflight is on) without moto's start-up cost. The preflight's real
boto3 calls are exercised against moto in test_preflight_capa.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from components import preflight_capa


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


class SatisfiedAccount:
    def __init__(self) -> None:
        self.calls = 0

    def client(self, name: str, region_name: str) -> _Client:
        self.calls += 1
        return _Client(region_name)


@contextmanager
def satisfied_aws() -> Iterator[SatisfiedAccount]:
    account = SatisfiedAccount()
    saved = preflight_capa.session_factory
    preflight_capa.session_factory = lambda region: account
    try:
        yield account
    finally:
        preflight_capa.session_factory = saved
