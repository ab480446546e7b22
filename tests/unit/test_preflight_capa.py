"""The CAPA preflight against moto: every missing prerequisite is its own line in one
error, and a complete account passes. No network: moto runs in-process."""

from __future__ import annotations

from typing import Any

import pytest

from components.control_plane import preflight as preflight_capa
from components.control_plane.preflight import INSTANCE_PROFILES, PreflightError, problems
from settings import load
from tests.aws import KEY_PAIR, PINNED_AMI, REGION, fake_aws
from tools.offline import FIXTURE_KUBECONFIG, stack_config


def run(session: Any, **overrides: Any) -> list[str]:
    kwargs: dict[str, Any] = {
        "region": REGION,
        "zones": (f"{REGION}a", f"{REGION}b", f"{REGION}c"),
        "ssh_key_name": KEY_PAIR,
        "ami_id": PINNED_AMI,
        **overrides,
    }
    return problems(session, **kwargs)


def test_a_complete_account_has_no_problems() -> None:
    with fake_aws() as session:
        assert run(session) == []


def test_each_missing_instance_profile_is_one_line_with_the_fix() -> None:
    with fake_aws(profiles=INSTANCE_PROFILES[:1]) as session:
        found = run(session)
    assert len(found) == 2
    for profile in INSTANCE_PROFILES[1:]:
        line = next(p for p in found if profile in p)
        assert "does not exist" in line and "clusterawsadm bootstrap iam" in line


def test_an_instance_profile_without_a_role_is_reported() -> None:
    with fake_aws(roleless=(INSTANCE_PROFILES[0],)) as session:
        (line,) = run(session)
    assert INSTANCE_PROFILES[0] in line and "no role" in line


def test_missing_key_pair_and_ami_are_separate_lines() -> None:
    with fake_aws(key_pairs=()) as session:
        found = run(session, ami_id="ami-0fedcba9876543210")
    assert len(found) == 2
    assert any(KEY_PAIR in p and "aws ec2 create-key-pair" in p for p in found)
    assert any("ami-0fedcba9876543210" in p and "image-builder" in p for p in found)


def test_unknown_zones_are_reported_with_the_available_ones() -> None:
    with fake_aws() as session:
        (line,) = run(session, zones=("eu-west-1a", "eu-west-1b", "eu-west-1z"))
    assert "eu-west-1z" in line and "eu-west-1c" in line


def test_everything_missing_is_one_error_with_one_line_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(FIXTURE_KUBECONFIG))
    raw = stack_config("prod")
    raw["cluster"]["capi"]["aws"]["amiId"] = "ami-0fedcba9876543210"
    settings = load(raw, "prod")
    with fake_aws(profiles=(), key_pairs=()) as session, pytest.raises(PreflightError) as err:
        preflight_capa.check(settings.cluster, session)
    lines = [ln for ln in str(err.value).splitlines() if ln.startswith("  - ")]
    assert len(lines) == 5  # three instance profiles, the key pair, the AMI
    assert isinstance(err.value, Exception) and err.value.problems == [ln[4:] for ln in lines]


def test_preflight_can_be_turned_off_for_previews_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(FIXTURE_KUBECONFIG))
    raw = stack_config("prod")
    raw["cluster"]["capi"]["aws"]["preflight"] = False
    settings = load(raw, "prod")

    def no_aws(region: str) -> Any:
        raise AssertionError("AWS was queried although the preflight is off")

    monkeypatch.setattr(preflight_capa, "session_factory", no_aws)
    preflight_capa.check(settings.cluster)
