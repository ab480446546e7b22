"""Alerting as code: promtool checks every PrometheusRule the render creates and runs the
rule unit tests kept beside each component's rules (components/*/data/rules/tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.alert_tools import ROOT, prometheus_rules, rule_test_files, tool, write_rules
from tools.fullrender import FullRender

PROMTOOL = tool("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (.ci/run installs it: Debian trixie)"
)
# The platform's own alerts beyond kube-prometheus-stack's defaults: ours plus Watchdog,
# the dead man's switch source.
OWN_RULES_FROM_KPS = ("kps-platform-alerts",)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_ci_has_promtool_and_amtool() -> None:
    """CI never skips the rule checks: .ci/run installs both tools."""
    if os.environ.get("CI") != "true":
        pytest.skip("outside CI the promtool tests skip when the tool is missing")
    assert tool("promtool"), "promtool missing in CI: .ci/run must install it"
    assert tool("amtool"), "amtool missing in CI: .ci/run must install it"


@needs_promtool
def test_promtool_accepts_every_rendered_prometheus_rule(full: FullRender, tmp_path: Path) -> None:
    files = write_rules(full, tmp_path)
    assert len(files) > 10, "the render holds (almost) no PrometheusRule"
    run = promtool("check", "rules", *[f.name for f in files], cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
@pytest.mark.parametrize("test_file", rule_test_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_rule_unit_tests_pass_on_the_rendered_rules(
    test_file: Path, full_dev: FullRender, full_prod: FullRender, tmp_path: Path
) -> None:
    """Rule files are named after the PrometheusRule; prod's win, dev fills in the rest."""
    write_rules(full_dev, tmp_path)
    write_rules(full_prod, tmp_path)
    listed = yaml.safe_load(test_file.read_text())["rule_files"]
    missing = [f for f in listed if not (tmp_path / f).is_file()]
    assert not missing, f"{test_file.name}: no rendered PrometheusRule for {missing}"
    (tmp_path / test_file.name).write_text(test_file.read_text())
    run = promtool("test", "rules", test_file.name, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_rule_unit_tests_exist() -> None:
    assert len(rule_test_files()) >= 1, "no components/*/data/rules/tests/*.test.yaml found"


def _cases() -> dict[str, set[bool]]:
    """alertname -> {True if a case expects it firing, False if one expects silence}."""
    out: dict[str, set[bool]] = {}
    for path in rule_test_files():
        for t in yaml.safe_load(path.read_text()).get("tests") or []:
            for case in t.get("alert_rule_test") or []:
                out.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    return out


def _own_alerts(full: FullRender) -> set[str]:
    rules = prometheus_rules(full)
    own = {o.name for o in full.of_kind("PrometheusRule") if o.source == "program"}
    own |= {n for n in rules if n.endswith(OWN_RULES_FROM_KPS)}
    names: set[str] = {"Watchdog"}
    for name in own:
        groups: list[dict[str, Any]] = rules[name]["groups"]
        names |= {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    return names


def test_every_platform_alert_has_a_firing_and_a_silent_case(full: FullRender) -> None:
    cases = _cases()
    own = _own_alerts(full)
    assert len(own) > 5, own
    # Watchdog fires by design: it has no silent case.
    need = {a: {True} if a == "Watchdog" else {True, False} for a in own}
    gaps = {
        a: "no firing case" if True not in cases.get(a, set()) else "no silent case"
        for a, expected in need.items()
        if not expected <= cases.get(a, set())
    }
    assert not gaps, gaps
