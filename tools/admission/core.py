"""evaluate(): would the Kyverno ClusterPolicies among these objects admit them (CREATE)?

Kyverno's webhooks judge them, minus their default scope exclusions. A pod controller is
also judged through the Pod it will create (its template). Pod Security, our
ValidatingAdmissionPolicies and the Kyverno ValidatingPolicies (CEL) are judged by the real
API server (tests/apiserver), not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .kyverno import ClusterPolicy, in_kyverno_scope, load_cluster_policies
from .request import Obj, Request, pod_from_controller
from .result import Denial, Finding, to_denial

# Namespaces every cluster has (kubernetes.io/docs/concepts/overview/working-with-objects/
# namespaces/#initial-namespaces).
BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


@dataclass
class Report:
    denials: list[Denial] = field(default_factory=list)
    warnings: list[Denial] = field(default_factory=list)  # Audit/Warn-only findings
    evaluated: int = 0
    pods: int = 0  # Pods evaluated through the controller that creates them


def _namespace_obj(name: str, stack_namespaces: dict[str, Any]) -> Obj | None:
    if not name:
        return None
    ns = stack_namespaces.get(name)
    if ns is None and name in BUILTIN_NAMESPACES:
        ns = {}  # created by the API server itself, unlabelled
    if ns is None:
        return None
    obj: Obj = (
        dict(ns)
        if "metadata" in ns
        else {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(ns)},
        }
    )
    md = dict(obj.get("metadata") or {})
    # the API server always sets this label (NamespaceDefaultLabelName)
    md["labels"] = {**(md.get("labels") or {}), "kubernetes.io/metadata.name": name}
    obj["metadata"] = md
    return obj


def drop_nulls(value: Any) -> Any:
    """The API server decodes into typed objects, so a `null` field arrives absent
    (e.g. a chart's `annotations: null` reaches policies as no annotations)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


class Evaluator:
    def __init__(
        self,
        objects: list[Obj],
        stack_namespaces: dict[str, Any],
        kyverno_namespace: str = "kyverno",
    ) -> None:
        self.cluster_policies: list[ClusterPolicy] = load_cluster_policies(objects)
        self.namespaces = stack_namespaces
        self.kyverno_namespace = kyverno_namespace

    def findings(self, obj: Obj) -> list[Finding]:
        ns = str((obj.get("metadata") or {}).get("namespace") or "")
        req = Request(obj, _namespace_obj(ns, self.namespaces))
        kyverno = in_kyverno_scope(req, self.kyverno_namespace)
        out: list[Finding] = []
        if kyverno:
            for cp in self.cluster_policies:
                out += cp.evaluate(req)
        return out

    def run(self, objects: list[Obj]) -> Report:
        report = Report()
        for raw in objects:
            if not isinstance(raw, dict) or not raw.get("kind"):
                continue
            report.evaluated += 1
            obj = drop_nulls(raw)
            seen: set[tuple[str, str, str]] = set()
            for f in self.findings(obj):
                self._add(report, to_denial(f), f.deny, seen)
            pod = pod_from_controller(obj)
            if pod is not None:
                report.pods += 1
                for f in self.findings(pod):
                    self._add(report, to_denial(f, "pod", owner=obj), f.deny, seen)
        return report

    @staticmethod
    def _add(report: Report, d: Denial, deny: bool, seen: set[tuple[str, str, str]]) -> None:
        key = (d.ref, d.source, d.message)
        if key in seen:
            return
        seen.add(key)
        (report.denials if deny else report.warnings).append(d)


def evaluate(objects: list[Obj], stack_namespaces: dict[str, Any]) -> list[Denial]:
    """Every denial for CREATE of `objects`. `stack_namespaces` maps a namespace
    name to its Namespace object (or to its labels)."""
    return Evaluator(objects, stack_namespaces).run(objects).denials
