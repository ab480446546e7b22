"""Where alerts go: the Alertmanager config kube-prometheus-stack renders from the program's
values passes `amtool check-config`, and prod refuses to page nobody."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kernel.loader import SettingsError
from settings import load
from tools.alert_tools import tool
from tools.fullrender import FullRender
from tools.offline import DELETE, apply_overrides, stack_config

# The fixture kubeconfig (tests/conftest.py): settings read it at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")

AMTOOL = tool("amtool")


def rendered_config(full: FullRender) -> dict[str, Any]:
    """alertmanager.yaml of the Secret the kps chart renders for the operator."""
    (secret,) = [
        o
        for o in full.of_kind("Secret")
        if o.source == "kps" and "alertmanager.yaml" in (o.doc.get("data") or {})
    ]
    text = base64.b64decode(secret.doc["data"]["alertmanager.yaml"]).decode()
    config: dict[str, Any] = yaml.safe_load(text)
    return config


@pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (.ci/run installs it)")
def test_amtool_accepts_the_prod_config_with_its_receivers(
    full_prod: FullRender, tmp_path: Path
) -> None:
    config = rendered_config(full_prod)
    names = {r["name"] for r in config["receivers"]}
    # Pulumi.prod.yaml: PagerDuty for critical, Slack for warnings, the dead man's switch.
    assert {"oncall", "team-chat", "deadmansswitch"} <= names, names
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config))
    assert AMTOOL is not None
    run = subprocess.run(
        [AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 receivers" in run.stdout, run.stdout


def test_prod_routes_critical_to_pagerduty_and_warnings_to_slack(full_prod: FullRender) -> None:
    config = rendered_config(full_prod)
    routes = {r["receiver"]: r for r in config["route"]["routes"]}
    assert routes["oncall"]["matchers"] == ['severity =~ "critical"']
    assert routes["team-chat"]["matchers"] == ['severity =~ "warning"']
    assert routes["deadmansswitch"]["matchers"] == ['alertname = "Watchdog"']
    for receiver in config["receivers"]:
        # Credentials only as files from the mounted Secret, never inline.
        assert "url:" not in yaml.safe_dump(receiver), receiver


def test_prod_refuses_to_deploy_without_an_alert_receiver() -> None:
    no_receivers = {"observability.alerting": DELETE}
    with pytest.raises(SettingsError) as err:
        load(apply_overrides(stack_config("prod"), no_receivers), "prod")
    assert [p.key for p in err.value.problems] == ["observability.alerting.receivers"]
    assert "at least one alert receiver" in str(err.value)
    accepted = {**no_receivers, "acceptRisks": ["observability.alerting.receivers"]}
    assert load(apply_overrides(stack_config("prod"), accepted), "prod")


def test_dev_may_run_without_receivers() -> None:
    assert load(stack_config("dev"), "dev").observability.alerting.receivers == ()


def test_tools_are_found_where_ci_puts_them() -> None:
    if os.environ.get("CI") == "true":
        assert AMTOOL, "amtool missing in CI: .ci/run must install it"
