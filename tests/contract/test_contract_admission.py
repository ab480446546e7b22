"""Contract: the platform admits itself, for the rules no engine here can judge: the Kyverno
ClusterPolicies (the Kyverno CLI is not among the engines; tools/admission models them).
Every object of the full render (ours and every chart's) is created against the
ClusterPolicies the same stack installs; a controller is also judged by the Pod it creates.
"dev behaves like prod": a rule that only audits in dev counts as a denial, because prod
enforces it. Denials are fixed or listed in fixtures/admission_exemptions.yaml. Pod Security,
our ValidatingAdmissionPolicies and the Kyverno ValidatingPolicies are judged by a real API
server (tests/apiserver)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import yaml

from tests.helpers import FIXTURES
from tools.admission.core import BUILTIN_NAMESPACES, Evaluator, Report
from tools.admission.request import CLUSTER_SCOPED, TEMPLATE_PATHS
from tools.admission.result import Denial
from tools.fullrender import FullRender

EXEMPTIONS = FIXTURES / "admission_exemptions.yaml"


@dataclass(frozen=True)
class Admission:
    stack: str
    evaluators: dict[str, Evaluator]
    reports: dict[str, Report]

    def failures(self) -> list[Denial]:
        out = [d for r in self.reports.values() for d in r.denials]
        if self.stack == "dev":  # Audit here, Enforce in prod: dev must not differ
            out += [d for r in self.reports.values() for d in r.warnings]
        return out


_CACHE: dict[str, Admission] = {}


def admission(full: FullRender) -> Admission:
    """Each cluster of the stack (workload, CAPI management) against its own rules."""
    if full.stack not in _CACHE:
        clusters = sorted({o.cluster for o in full.objects})
        evaluators, reports = {}, {}
        for cluster in clusters:
            docs = [o.doc for o in full.objects if o.cluster == cluster]
            ns = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Namespace"}
            evaluators[cluster] = Evaluator(docs, ns, kyverno_namespace=_kyverno_ns(full))
            reports[cluster] = evaluators[cluster].run(docs)
        _CACHE[full.stack] = Admission(full.stack, evaluators, reports)
    return _CACHE[full.stack]


def _kyverno_ns(full: FullRender) -> str:
    return next(o.namespace or "" for o in full.from_chart("kyverno") if o.namespace)


def _exemptions(stack: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(EXEMPTIONS.read_text())["exemptions"] or []
    for e in entries:
        missing = {"stack", "object", "rule", "reason", "reviewed"} - {k for k, v in e.items() if v}
        assert not missing, f"{EXEMPTIONS.name}: entry {e} lacks {sorted(missing)}"
    return [e for e in entries if e["stack"] in (stack, "both")]


def _exempt(d: Denial, e: dict[str, Any]) -> bool:
    return bool(d.ref == e["object"] and d.source == e["rule"])


def test_every_object_is_admitted_by_the_platforms_own_rules(full: FullRender) -> None:
    exemptions = _exemptions(full.stack)
    refused = [d for d in admission(full).failures() if not any(_exempt(d, e) for e in exemptions)]
    for gap in full.gaps:  # objects a missing sub-chart hides were not judged: say so
        warnings.warn(
            f"admission contract ({full.stack}): {gap.hides} not evaluated ({gap})", stacklevel=1
        )
    assert not refused, f"{full.stack}: {len(refused)} refused:\n" + "\n".join(map(str, refused))


def test_every_exemption_still_matches_a_denial(full: FullRender) -> None:
    failures = admission(full).failures()
    stale = [e for e in _exemptions(full.stack) if not any(_exempt(d, e) for d in failures)]
    assert not stale, f"stale exemptions in {EXEMPTIONS.name}: {stale}"


def test_the_walk_covers_the_objects_and_every_installed_cluster_policy(full: FullRender) -> None:
    adm = admission(full)
    workload = adm.evaluators["workload"]
    report = adm.reports["workload"]
    assert report.evaluated == len(full.workload()) > 300
    controllers = [o for o in full.workload() if o.kind in TEMPLATE_PATHS]
    assert report.pods == len(controllers) > 10, "every controller is judged through its Pod"
    assert (
        {p.name for p in workload.cluster_policies}
        == {o.name for o in full.workload() if o.kind == "ClusterPolicy"}
        != set()
    )


def test_every_namespaced_object_lands_in_a_namespace_that_exists(full: FullRender) -> None:
    for cluster in sorted({o.cluster for o in full.objects}):
        objects = [o for o in full.objects if o.cluster == cluster]
        created = {o.name for o in objects if o.kind == "Namespace"} | BUILTIN_NAMESPACES
        homeless = [
            o.ref
            for o in objects
            if o.kind not in CLUSTER_SCOPED and o.namespace and o.namespace not in created
        ]
        assert not homeless, f"{cluster}: namespace never created for {homeless}"


def _tenant_namespace(full: FullRender) -> str:
    return next(
        o.name
        for o in full.of_kind("Namespace")
        if "k8s-platform/tenant" in (o.doc["metadata"].get("labels") or {})
    )


def test_a_tenant_deployment_without_probes_is_refused_itself(full: FullRender) -> None:
    """Not only its Pods: a Deployment whose Pods will be refused must fail at apply time
    (Kyverno autogen, kyverno.io/docs/policy-types/cluster-policy/autogen)."""
    container = {"name": "app", "image": "registry.example/app:1.0"}
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "no-probes", "namespace": _tenant_namespace(full)},
        "spec": {
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [container]}}
        },
    }
    report = admission(full).evaluators["workload"].run([deploy])
    hits = [
        d
        for d in report.denials + report.warnings
        if d.source.startswith("Kyverno ClusterPolicy require-probes") and d.via == ""
    ]
    assert hits, [str(d) for d in report.denials + report.warnings]
