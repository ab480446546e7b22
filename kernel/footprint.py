"""Resource footprint: the CPU and memory REQUESTS of every workload, summed per stack.

Two sources, because Chart v4 renders nothing under mocks or at plan time:
- objects the program creates itself (Deployment, StatefulSet, DaemonSet, Job, CronJob,
  Pod): requests x replicas, DaemonSets x the assumed node count;
- chart values: every `resources.requests` block in a chart's values, multiplied by the
  nearest `replicas` / `replicaCount` found in the same mapping or an ancestor.

Limits of the chart method (documented in docs/guardrails.md): a chart's own defaults
that our values do not override are not counted; a block is a DaemonSet (x nodes) when
the chart's DaemonSet templates read it (CHART_DAEMONSET_VALUES, checked against the
charts' templates by a test), when a key on its path says so (`daemonset`,
`nodeExporter`, `node-exporter`, `controller.type: daemonset`) or the caller lists the
path; sidecars the chart injects are not seen.

`kube.helm_chart` records every chart's values as it registers the chart; `report()`
turns what this program run recorded into the `footprint` stack output.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

ASSUMED_NODES = {"dev": 4, "prod": 6}
"""DaemonSet multiplier: dev is kind (1 control plane + 3 workers); prod 3 + 3."""

CHART_DAEMONSET_VALUES: dict[str, tuple[str, ...]] = {
    # Values paths ("" = the root) whose `resources` a DaemonSet template of the pinned
    # chart reads: cilium templates/cilium-agent/daemonset.yaml (.Values.resources,
    # .Values.cni/.monitor/.cgroup.autoMount.resources) and its envoy, nodeinit,
    # preflight, ztunnel and spire agent DaemonSets; aws-ebs-csi-driver _node.tpl
    # (.Values.node.resources); aws-cloud-controller-manager templates/daemonset.yaml;
    # velero templates/node-agent-daemonset.yaml (.Values.nodeAgent.resources).
    "cilium": (
        "",
        "cni",
        "monitor",
        "cgroup.autoMount",
        "envoy",
        "nodeinit",
        "preflight",
        "encryption.ztunnel",
        "authentication.mutual.spire.install.agent",
    ),
    "aws-ebs-csi-driver": ("node",),
    "aws-cloud-controller-manager": ("",),
    "velero": ("nodeAgent",),
}
"""Per chart: the values blocks that belong to a DaemonSet, counted once per node."""

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
_DAEMONSET_HINTS = ("daemonset", "nodeexporter", "node-exporter")


@dataclass(frozen=True)
class Workload:
    name: str
    cpu_millis: int
    """Per replica."""
    memory_bytes: int
    replicas: int
    daemonset: bool = False

    def total(self, nodes: int) -> tuple[int, int]:
        n = nodes if self.daemonset else self.replicas
        return self.cpu_millis * n, self.memory_bytes * n


_MEMORY = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
}


def cpu_millis(value: Any) -> int:
    """'250m' -> 250, '1.5' -> 1500, 2 -> 2000; anything unreadable counts as 0."""
    try:
        text = str(value).strip()
        if text.endswith("m"):
            return int(float(text[:-1]))
        return int(float(text) * 1000)
    except ValueError:
        return 0


def memory_bytes(value: Any) -> int:
    text = str(value).strip()
    try:
        for suffix in sorted(_MEMORY, key=len, reverse=True):
            if text.endswith(suffix):
                return int(float(text[: -len(suffix)]) * _MEMORY[suffix])
        return int(float(text))
    except ValueError:
        return 0


def _replicas(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is_daemonset(path: Sequence[str], nodes: Sequence[Mapping[str, Any]]) -> bool:
    if any(h in p.lower() for p in path for h in _DAEMONSET_HINTS):
        return True
    for node in nodes:
        for key in ("kind", "type"):
            if str(node.get(key, "")).lower() == "daemonset":
                return True
        controller = node.get("controller")
        if isinstance(controller, Mapping) and str(controller.get("type", "")).lower() == (
            "daemonset"
        ):
            return True
    return False


def release_label(chart: str, release: str) -> str:
    """The name a chart's workloads are reported under: the chart, or the release when it
    is a second install of that chart (`alloy-audit` beside `alloy`)."""
    return release if release.startswith(f"{chart}-") else chart


def from_values(
    chart: str, values: Mapping[str, Any], *, daemonsets: Iterable[str] = (), label: str = ""
) -> list[Workload]:
    """Every `resources.requests` block in `values` (see the module doc for the method)."""
    forced = set(daemonsets) | set(CHART_DAEMONSET_VALUES.get(chart, ()))
    found: list[Workload] = []

    def walk(node: Mapping[str, Any], path: list[str], stack: list[Mapping[str, Any]]) -> None:
        chain = [*stack, node]
        res = node.get("resources")
        requests = res.get("requests") if isinstance(res, Mapping) else None
        # A PVC template's `resources.requests` asks for storage, not CPU or memory.
        if isinstance(requests, Mapping) and ({"cpu", "memory"} & set(requests)):
            req = requests
            replicas = next(
                (
                    r
                    for n in reversed(chain)
                    for r in (_replicas(n.get("replicas")), _replicas(n.get("replicaCount")))
                    if r is not None
                ),
                1,
            )
            dotted = ".".join(path)
            found.append(
                Workload(
                    name=f"{label or chart}:{dotted or '<root>'}",
                    cpu_millis=cpu_millis(req.get("cpu", 0)),
                    memory_bytes=memory_bytes(req.get("memory", 0)),
                    replicas=replicas,
                    daemonset=dotted in forced or _is_daemonset(path, chain),
                )
            )
        for key, child in node.items():
            if isinstance(child, Mapping) and key != "resources":
                walk(child, [*path, str(key)], chain)

    walk(values, [], [])
    return found


def from_object(kind: str, name: str, body: Mapping[str, Any]) -> list[Workload]:
    """A Kubernetes workload object as the program registers it (camelCase inputs),
    reported as `<Kind>/<name>`."""
    if kind not in WORKLOAD_KINDS:
        return []
    spec = body.get("spec") or {}
    if kind == "Pod":
        pod = spec
    elif kind == "CronJob":
        pod = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get(
            "spec"
        ) or {}
    else:
        pod = (spec.get("template") or {}).get("spec") or {}
    replicas = 1 if kind in ("Pod", "Job", "CronJob") else _replicas(spec.get("replicas")) or 1
    cpu = mem = 0
    for c in pod.get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += cpu_millis(req.get("cpu", 0))
        mem += memory_bytes(req.get("memory", 0))
    return [Workload(f"{kind}/{name}", cpu, mem, replicas, daemonset=kind == "DaemonSet")]


def summarise(workloads: Iterable[Workload], nodes: int) -> dict[str, Any]:
    """{cpu, memory, cpuMillis, memoryBytes, nodesAssumed, byWorkload: {name: {...}}}."""
    by: dict[str, dict[str, Any]] = {}
    total_cpu = total_mem = 0
    for w in workloads:
        cpu, mem = w.total(nodes)
        total_cpu += cpu
        total_mem += mem
        by[w.name] = {
            "cpu": f"{cpu}m",
            "memory": f"{mem // 2**20}Mi",
            "replicas": nodes if w.daemonset else w.replicas,
            "daemonset": w.daemonset,
        }
    return {
        "cpu": f"{total_cpu}m",
        "memory": f"{total_mem // 2**20}Mi",
        "cpuMillis": total_cpu,
        "memoryBytes": total_mem,
        "nodesAssumed": nodes,
        "byWorkload": by,
    }


# ---- recording during a program run --------------------------------------------------------

# Keyed by the root Stack resource, so each program run (and each offline evaluation
# in one test process) starts empty.
_RECORDED: weakref.WeakKeyDictionary[Any, list[Workload]] = weakref.WeakKeyDictionary()


def _bucket() -> list[Workload] | None:
    from pulumi.runtime.settings import get_root_resource

    root = get_root_resource()
    if root is None:
        return None
    return _RECORDED.setdefault(root, [])


def record(workloads: Iterable[Workload]) -> None:
    bucket = _bucket()
    if bucket is not None:
        bucket.extend(workloads)


def record_chart(
    chart: str, values: Mapping[str, Any], daemonsets: Iterable[str] = (), release: str = ""
) -> None:
    label = release_label(chart, release or chart)
    record(from_values(chart, values, daemonsets=daemonsets, label=label))


def report(profile: str) -> pulumi.Output[dict[str, Any]]:
    """The `footprint` stack output for everything recorded so far in this run."""
    return pulumi.Output.from_input(summarise(_bucket() or [], ASSUMED_NODES[profile]))
