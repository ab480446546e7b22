"""dev, Cilium included, fits the laptop budget: 2 vCPU and 5 GiB of requests on the kind
cluster in kind/ (1 control plane + 3 workers), every DaemonSet counted once per node.

Counted from the full render (what `pulumi up` applies, chart defaults included), plus the
pods operators create from custom resources (Prometheus, Alertmanager, Envoy proxies), plus,
for a sub-chart hidden by a chart-source gap, the requests our values give it."""

from __future__ import annotations

from typing import Any

import yaml

from kernel import footprint
from tools.fullrender import FullRender
from tools.offline import ROOT, Evaluation

KIND = ROOT / "kind" / "dev-cluster.yaml"


def _requests(containers: list[dict[str, Any]]) -> tuple[int, int]:
    reqs = [((c.get("resources") or {}).get("requests") or {}) for c in containers]
    return (
        sum(footprint.cpu_millis(r.get("cpu", 0)) for r in reqs),
        sum(footprint.memory_bytes(r.get("memory", 0)) for r in reqs),
    )


def dev_requests(full: FullRender, dev: Evaluation, nodes: int) -> tuple[int, int]:
    cpu = mem = 0
    for o in full.workload():
        spec = o.doc.get("spec") or {}
        if o.kind in ("Deployment", "StatefulSet", "DaemonSet"):
            c, m = _requests((spec["template"].get("spec") or {}).get("containers") or [])
            n = nodes if o.kind == "DaemonSet" else int(spec.get("replicas") or 1)
        elif o.kind in ("Prometheus", "Alertmanager"):
            c, m = _requests([{"resources": spec.get("resources") or {}}])
            n = int(spec.get("replicas") or 1)
        elif o.kind == "EnvoyProxy":
            k = ((spec.get("provider") or {}).get("kubernetes") or {}).get("envoyDeployment") or {}
            c, m = _requests([k.get("container") or {}])
            n = int(k.get("replicas") or 1)
        else:
            continue
        cpu, mem = cpu + c * n, mem + m * n
    for gap in full.gaps:  # hidden sub-charts: our values' requests for them
        chart = next(c for c in dev.charts() if str(c.inputs.get("chart", "")).endswith(gap.chart))
        sub = (chart.inputs.get("values") or {}).get(gap.dependency) or {}
        for w in footprint.from_values(gap.dependency, sub):
            c, m = w.total(nodes)
            cpu, mem = cpu + c, mem + m
    return cpu, mem


def test_dev_with_cilium_fits_2_cpu_and_5_gib_of_requests(
    full_dev: FullRender, dev: Evaluation
) -> None:
    nodes = len(yaml.safe_load(KIND.read_text())["nodes"])
    assert nodes == 4
    assert full_dev.from_chart("cilium"), "Cilium must be part of dev"
    cpu, mem = dev_requests(full_dev, dev, nodes)
    assert cpu <= 2000, f"{cpu}m CPU requested"
    assert mem <= 5 * 2**30, f"{mem / 2**20:.0f}Mi requested"


def test_kind_runs_without_its_default_cni() -> None:
    assert yaml.safe_load(KIND.read_text())["networking"]["disableDefaultCNI"] is True
