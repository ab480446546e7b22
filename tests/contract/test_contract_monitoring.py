"""Monitoring contract over the full render of both stacks: every metric an alert rule or a
dashboard panel reads comes from a target the render really scrapes (a ServiceMonitor or
PodMonitor selecting a rendered Service/pod on an existing port), or from a recording rule;
label matchers name values that exist. Exporters hidden by a chart-source gap are reported."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import yaml

from tests.helpers import DATA
from tools.fullrender import FullRender
from verify.monitoring_contract import (
    Target,
    dashboard_exprs,
    rule_exprs,
    scrape_targets,
    selectors,
)

TABLE: dict[str, Any] = yaml.safe_load((DATA / "metric_exporters.yaml").read_text())


def exporter_of(metric: str) -> str | None:
    best: tuple[int, str] | None = None
    for name, e in TABLE["exporters"].items():
        for prefix in e["prefixes"]:
            if metric.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name)
    return best[1] if best else None


def scraped(exporter: str, targets: list[Target]) -> bool:
    want = TABLE["exporters"][exporter]["target"]
    for t in targets:
        labels = dict(t.labels)
        if want.get("namespace", t.namespace) != t.namespace:
            continue
        if want.get("path", t.path) != t.path:
            continue
        if all(labels.get(k) == v for k, v in want["labels"].items()):
            return True
    return False


def read_metrics(full: FullRender) -> dict[str, list[str]]:
    """metric -> where it is read (alerts, recording rules, dashboard panels)."""
    out: dict[str, list[str]] = {}
    exprs = [(w, e) for w, e, _ in rule_exprs(full)] + list(dashboard_exprs(full))
    for where, expr in exprs:
        for s in selectors(expr):
            out.setdefault(s.metric, []).append(where)
    return out


def unsourced(full: FullRender) -> tuple[dict[str, str], dict[str, str]]:
    """(metric -> problem, metric -> gap it is hidden by)."""
    targets = scrape_targets(full)
    recorded = {r for _, _, r in rule_exprs(full) if r}
    gaps = {g.dependency for g in full.gaps}
    problems: dict[str, str] = {}
    hidden: dict[str, str] = {}
    for metric, where in sorted(read_metrics(full).items()):
        if metric in recorded or metric in TABLE["internal"]:
            continue
        if any(metric.startswith(p) for p in TABLE["any_target"]):
            continue
        exporter = exporter_of(metric)
        if exporter is None:
            problems[metric] = f"no exporter known (read by {where[0]})"
        elif not scraped(exporter, targets):
            gap = TABLE["exporters"][exporter].get("gap")
            if gap in gaps:
                hidden[metric] = gap
            else:
                problems[metric] = f"{exporter} is not scraped (read by {where[0]})"
    return problems, hidden


def test_every_metric_read_comes_from_a_scraped_target(full: FullRender) -> None:
    problems, hidden = unsourced(full)
    assert len(read_metrics(full)) > 100, "the render's rules and dashboards read almost nothing"
    assert not problems, problems
    if hidden:
        warnings.warn(
            f"{full.stack}: {len(hidden)} metrics unverified, their exporter is missing from "
            f"the chart source: {sorted(set(hidden.values()))}",
            stacklevel=1,
        )


def test_a_gap_hides_only_the_exporters_of_its_sub_chart(full: FullRender) -> None:
    _, hidden = unsourced(full)
    assert set(hidden.values()) <= {g.dependency for g in full.gaps}
    for metric, gap in hidden.items():
        assert TABLE["exporters"][exporter_of(metric) or ""].get("gap") == gap, metric


@pytest.mark.parametrize(
    ("exporter", "stacks"),
    [
        ("cert-manager", "both"),
        ("trivy-operator", "both"),
        ("velero", "both"),
        ("loki", "both"),
        # No alert of ours reads Kyverno yet, but `security.serviceMonitors` promises its
        # admission metrics (policy results, admission latency) to whoever looks.
        ("kyverno", "both"),
    ],
)
def test_platform_alert_exporters_are_scraped(full: FullRender, exporter: str, stacks: str) -> None:
    assert scraped(exporter, scrape_targets(full)), exporter


def test_no_target_is_scraped_that_can_never_be_reached(full: FullRender) -> None:
    """kube-proxy binds its metrics to 127.0.0.1:10249 (kubeadm and kind defaults)."""
    assert not [t for t in scrape_targets(full) if "kube-proxy" in t.name]


def _label_values(full: FullRender) -> dict[str, set[str]]:
    """Values a label can take in this render: namespaces, Velero Schedules, CronJobs."""
    objs = full.workload()
    return {
        "namespace": {o.namespace for o in objs if o.namespace}
        | {o.name for o in objs if o.kind == "Namespace"},
        "schedule": {o.name for o in objs if o.kind == "Schedule"},
        "cronjob": {o.name for o in objs if o.kind == "CronJob"},
    }


# Defects the contract found that issue 15 (Velero and etcd rules, components/persistence)
# fixes: the Schedules are named `velero-<name>` by the chart (templates/schedule.yaml).
KNOWN_WRONG: set[tuple[str, str]] = set()


def test_label_matchers_name_values_that_exist(full: FullRender) -> None:
    values = _label_values(full)
    wrong = []
    walked = 0
    for where, expr, _ in rule_exprs(full):
        for s in selectors(expr):
            for label, op, value in s.matchers:
                if op == "=" and label in values and value:
                    walked += 1
                    known = (where.rsplit(" ", 1)[-1], label) in KNOWN_WRONG
                    if value not in values[label] and not known:
                        wrong.append(f"{where}: {label}={value!r} not in {sorted(values[label])}")
    assert walked > 0, "no label matcher checked"
    assert not wrong, wrong
