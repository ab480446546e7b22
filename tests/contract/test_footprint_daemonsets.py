"""The footprint counts every DaemonSet once per node. Which workloads are DaemonSets is
read from the pinned charts' own templates (the chart sources tools/chart_sources.py
finds), not from our code."""

from __future__ import annotations

import re

import pytest

from kernel import footprint
from kernel.catalogue import CHARTS
from kernel.footprint import CHART_DAEMONSET_VALUES, from_object
from tools.chart_sources import chart_dir
from tools.offline import Evaluation

_VALUES_RESOURCES = re.compile(r"\.Values\.((?:[A-Za-z0-9_]+\.)*)resources\b")


def upstream_daemonset_paths(chart: str) -> set[str]:
    """Values paths whose `resources` a template holding `kind: DaemonSet` reads."""
    base = chart_dir(CHARTS[chart]) / "templates"
    if not base.is_dir():
        pytest.fail(f"chart {chart}: no templates under {base}")
    found: set[str] = set()
    for template in base.rglob("*"):
        if template.suffix not in (".yaml", ".tpl"):
            continue
        text = template.read_text()
        if "kind: DaemonSet" not in text:
            continue
        # The chart's sidecars block is shared by its Deployment and DaemonSet templates.
        found |= {
            m.rstrip(".") for m in _VALUES_RESOURCES.findall(text) if not m.startswith("sidecars.")
        }
    return found


@pytest.mark.parametrize("chart", sorted(CHART_DAEMONSET_VALUES))
def test_the_daemonset_table_is_what_the_chart_templates_say(chart: str) -> None:
    assert set(CHART_DAEMONSET_VALUES[chart]) == upstream_daemonset_paths(chart)


def _chart_workloads(ev: Evaluation) -> dict[str, dict[str, object]]:
    return {k: v for k, v in ev.outputs["footprint"]["byWorkload"].items() if ":" in k}


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_every_chart_daemonset_is_counted_once_per_node(
    stack_name: str, dev: Evaluation, prod: Evaluation
) -> None:
    ev = dev if stack_name == "dev" else prod
    fp = ev.outputs["footprint"]
    nodes = fp["nodesAssumed"]
    checked = []
    for name, w in _chart_workloads(ev).items():
        chart, path = name.split(":", 1)
        dotted = "" if path == "<root>" else path
        if chart in CHART_DAEMONSET_VALUES and dotted in upstream_daemonset_paths(chart):
            assert w["daemonset"] and w["replicas"] == nodes, (name, w)
            checked.append(name)
    if stack_name == "prod":
        # Cilium agent and the EBS CSI node plugin run on every node of a capi cluster.
        assert {"cilium:<root>", "aws-ebs-csi-driver:node"} <= set(checked), checked
    for name in ("kube-prometheus-stack:prometheus-node-exporter", "alloy:alloy"):
        assert fp["byWorkload"][name]["replicas"] == nodes, name


def test_a_daemonset_object_is_multiplied_by_the_node_count() -> None:
    pod = {"containers": [{"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    (w,) = from_object("DaemonSet", "agent", {"spec": {"template": {"spec": pod}}})
    summary = footprint.summarise([w], nodes=6)
    assert summary["cpuMillis"] == 600 and summary["byWorkload"]["DaemonSet/agent"]["replicas"] == 6


def test_every_chart_the_table_names_has_a_source_with_templates() -> None:
    for chart in CHART_DAEMONSET_VALUES:
        assert (chart_dir(CHARTS[chart]) / "templates").is_dir(), chart
