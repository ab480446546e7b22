"""Where alerts go: the Alertmanager config kube-prometheus-stack renders from the program's
values passes `amtool check-config`, and prod refuses to page nobody."""

from __future__ import annotations

import base64
import itertools
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
from tools.offline import DELETE, ROOT, apply_overrides, stack_config

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


def _seconds(duration: str) -> float:
    """A Prometheus duration as Alertmanager's config holds them (`20s`, `1m`, `1h30m`)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total, number = 0.0, ""
    for i, ch in enumerate(duration):
        if ch.isdigit():
            number += ch
        elif ch in "smhd" and number:
            unit = "ms" if duration[i : i + 2] == "ms" else ch
            total += int(number) * units[unit]
            number = ""
    assert not number, f"bad duration {duration!r}"
    return total


def resend_gaps(wait: float, group: float, repeat: float, latency: float) -> set[float]:
    """Gaps between notifications of one always-firing alert, as Alertmanager's dispatcher
    and dedup stage produce them: the group flushes at group_wait, then every group_interval
    (dispatch.go: the timer is reset before the flush); an unchanged group is sent only when
    the logged notification is strictly older than repeat_interval, and it is logged when
    the send returns (notify.go DedupStage.needsUpdate, SetNotifiesStage)."""
    sent: list[float] = []
    logged: float | None = None
    t = wait
    while t < 200 * max(group, repeat):
        if logged is None or logged < t - repeat:
            sent.append(t)
            logged = t + latency
        t += group
    return {round(b - a, 3) for a, b in itertools.pairwise(sent[1:])}


@pytest.mark.parametrize(
    ("group", "repeat", "gap", "source"),
    [
        ("5m", "5m", "10m", "alertmanager#676: 5m/5m sends every 10 minutes"),
        ("3m", "5m", "6m", "alertmanager#676: 3m/5m sends every 5-6 minutes"),
        ("1m", "3m", "4m", "alertmanager#917: 1m/3m repeats every 4m"),
        ("5m", "1m", "5m", "alertmanager#917: repeat 1m under the default 5m repeats at 5m"),
        ("1m", "1m", "2m", "issue 20: the Watchdog measured at 120 s gaps with 1m/1m"),
    ],
)
def test_the_resend_model_matches_what_alertmanager_users_measured(
    group: str, repeat: str, gap: str, source: str
) -> None:
    gaps = resend_gaps(0, _seconds(group), _seconds(repeat), latency=0.2)
    assert gaps == {_seconds(gap)}, source


def test_dead_mans_switch_gets_the_watchdog_at_the_documented_cadence(
    full_prod: FullRender,
) -> None:
    routes = [
        r
        for r in rendered_config(full_prod)["route"]["routes"]
        if r["receiver"] == "deadmansswitch"
    ]
    assert len(routes) == 1, "prod has no dead man's switch route"
    r = routes[0]
    group, repeat = _seconds(r["group_interval"]), _seconds(r["repeat_interval"])
    # Any webhook answer faster than one group_interval keeps the same cadence.
    for latency in (0.05, group / 2, group * 0.95):
        assert resend_gaps(_seconds(r["group_wait"]), group, repeat, latency) == {60}, r
    doc = (ROOT / "docs" / "observability.md").read_text()
    assert "every 60 s" in doc and "every minute" not in doc
