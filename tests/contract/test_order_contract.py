"""Order contract, both stacks: nothing a webhook governs is created before the webhook is
ready. Which kinds a webhook governs is read from the rendered Validating/Mutating
WebhookConfigurations (rules: apiGroups/resources/operations, failurePolicy); custom
resources are also governed by the chart that installs their CRD (Kyverno creates its
policy webhooks at run time, so the chart is what proves them). "Ready" is the chart: a
helm.v4.Chart's children are registered by the provider, which awaits each of them, so
the program must depend on the Chart resource itself. Hooks never run under helm.v4.Chart
(cert-manager's startupapicheck is off): depending on the chart is the replacement.

Dependencies come from the Pulumi evaluation: each resource's own depends_on (a component
stands for all its descendants) and those of its ancestors.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

import pytest

from tools.fullrender import PROGRAM, FullRender, Rendered
from tools.offline import Evaluation, Resource


@dataclass(frozen=True)
class Gate:
    """A webhook (or a CRD's chart) that must be ready before objects of its kinds."""

    chart: str
    group: str
    resource: str
    """A plural resource name or a glob ("*", "*/*")."""
    why: str

    def governs(self, group: str, plural: str) -> bool:
        groups_ok = self.group in ("*", group)
        return groups_ok and fnmatchcase(plural, self.resource.split("/")[0])


def _plurals(full: FullRender) -> dict[tuple[str, str], str]:
    """(group, Kind) -> plural, from every rendered CRD; built-ins as Kubernetes names them."""
    out = {}
    for crd in full.of_kind("CustomResourceDefinition"):
        spec = crd.doc["spec"]
        out[(spec["group"], spec["names"]["kind"])] = spec["names"]["plural"]
    return out


def gates(full: FullRender) -> list[Gate]:
    found: list[Gate] = []
    for cfg in full.of_kind("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for hook in cfg.doc.get("webhooks") or []:
            if hook.get("failurePolicy", "Fail") != "Fail":
                continue  # Ignore: an unready webhook admits
            for rule in hook.get("rules") or []:
                if not {"CREATE", "*"} & set(rule.get("operations") or []):
                    continue
                for g in rule.get("apiGroups") or []:
                    for res in rule.get("resources") or []:
                        found.append(Gate(cfg.source, g, res, f"{cfg.kind} {cfg.name}"))
    for crd in full.of_kind("CustomResourceDefinition"):
        if crd.source != PROGRAM:
            spec = crd.doc["spec"]
            found.append(Gate(crd.source, spec["group"], spec["names"]["plural"], "its CRD"))
    return found


def _waits_on(ev: Evaluation, r: Resource) -> set[str]:
    """URNs that must be ready before `r` is created: its own and its ancestors'
    depends_on, transitively; a component dependency stands for all its descendants."""
    children: dict[str, list[str]] = {}
    for x in ev.resources:
        children.setdefault(x.parent, []).append(x.urn)
    out: set[str] = set()
    todo = [d for holder in (r, *ev.ancestors(r)) for d in holder.dependencies]
    while todo:
        urn = todo.pop()
        if urn in out:
            continue
        out.add(urn)
        todo += children.get(urn, [])
        dep = ev.by_urn(urn)
        if dep is not None:
            todo += [d for holder in (dep, *ev.ancestors(dep)) for d in holder.dependencies]
    return out


def order_problems(ev: Evaluation, full: FullRender) -> list[str]:
    program = {(str(r.namespace), str(r.k8s_name), r.kind): r for r in ev.k8s_objects()}
    charts = {c.name: c for c in ev.charts()}
    problems: list[str] = []
    all_gates = gates(full)
    for o in full.workload():
        ref, group, plural, release = _ref_info(o, full)
        for gate in all_gates:
            if not gate.governs(group, plural) or gate.chart == release:
                continue  # a chart's own objects: ordered inside the chart, not by Pulumi
            chart_urn = charts[gate.chart].urn
            if release is None:
                r = program.get((str(o.namespace), o.name, o.kind))
                if r is None:
                    continue  # an object of the management cluster or a read
                waits = _waits_on(ev, r)
            else:
                waits = _waits_on(ev, charts[release])
            if chart_urn not in waits:
                problems.append(f"{ref} is created before chart {gate.chart} ({gate.why})")
    return problems


def _ref_info(o: Rendered, full: FullRender) -> tuple[str, str, str, str | None]:
    api = str(o.doc.get("apiVersion", ""))
    group = api.split("/", maxsplit=1)[0] if "/" in api else ""
    plural = _plurals_cached(full).get((group, o.kind), o.kind.lower() + "s")
    return o.ref, group, plural, None if o.source == PROGRAM else o.source


_PLURALS: dict[int, dict[tuple[str, str], str]] = {}


def _plurals_cached(full: FullRender) -> dict[tuple[str, str], str]:
    return _PLURALS.setdefault(id(full), _plurals(full))


@pytest.fixture(params=["dev", "prod"])
def both(
    request: pytest.FixtureRequest,
    dev: Evaluation,
    prod: Evaluation,
    full_dev: FullRender,
    full_prod: FullRender,
) -> tuple[Evaluation, FullRender]:
    return (dev, full_dev) if request.param == "dev" else (prod, full_prod)


def test_webhook_gates_are_read_from_the_render(both: tuple[Evaluation, FullRender]) -> None:
    _, full = both
    found = {(g.chart, g.group, g.resource) for g in gates(full)}
    # Not an empty walk: the operator's Fail webhook governs PrometheusRules, and
    # cert-manager's webhook its own API groups (both rendered in every stack).
    assert ("kps", "monitoring.coreos.com", "prometheusrules") in found
    assert any(c == "cert-manager" and g == "cert-manager.io" for c, g, _ in found)
    assert any(c == "kyverno" and g == "kyverno.io" for c, g, _ in found)


def test_nothing_a_webhook_governs_is_created_before_the_webhook(
    both: tuple[Evaluation, FullRender],
) -> None:
    ev, full = both
    assert order_problems(ev, full) == []


def test_program_prometheus_rules_wait_for_the_kube_prometheus_stack_chart(
    both: tuple[Evaluation, FullRender],
) -> None:
    ev, _ = both
    rules = [r for r in ev.k8s_objects() if r.kind == "PrometheusRule"]
    assert rules, "the program creates no PrometheusRule: nothing to check"
    for r in rules:
        assert ev.chart("kps").urn in _waits_on(ev, r), r.name


def _serving_deployment(full: FullRender, release: str, service: dict[str, str]) -> str | None:
    """The Deployment of `release` whose pods the webhook's Service selects."""
    svc = next(
        (
            o
            for o in full.from_chart(release)
            if o.kind == "Service"
            and o.name == service.get("name")
            and o.namespace == service.get("namespace")
        ),
        None,
    )
    selector = ((svc.doc.get("spec") or {}).get("selector") or {}) if svc else {}
    for d in full.from_chart(release):
        labels = ((d.doc.get("spec") or {}).get("template") or {}).get("metadata", {})
        if (
            d.kind == "Deployment"
            and selector
            and selector.items() <= labels.get("labels", {}).items()
        ):
            return f"apps/namespaces/{d.namespace}/Deployment/{d.name}"
    return None


def in_chart_order_problems(full: FullRender) -> list[str]:
    """A chart's own objects that its own Fail webhook governs are ordered inside the
    Chart: pulumi-kubernetes applies them after the objects their
    `config.kubernetes.io/depends-on` annotation names (yaml/v2 resource ordering,
    pulumi-kubernetes#2894), so they must name the Deployment serving that webhook."""
    problems = []
    for cfg in full.of_kind("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for hook in cfg.doc.get("webhooks") or []:
            if hook.get("failurePolicy", "Fail") != "Fail":
                continue
            server = _serving_deployment(full, cfg.source, hook["clientConfig"].get("service", {}))
            for rule in hook.get("rules") or []:
                if not {"CREATE", "*"} & set(rule.get("operations") or []):
                    continue
                for o in full.from_chart(cfg.source):
                    _, group, plural, _ = _ref_info(o, full)
                    if group not in rule.get("apiGroups", []) or plural not in rule.get(
                        "resources", []
                    ):
                        continue
                    annos = (o.doc.get("metadata") or {}).get("annotations") or {}
                    waits = annos.get("config.kubernetes.io/depends-on", "").split(",")
                    if server is None or server not in waits:
                        problems.append(f"{o.ref} does not wait for {server} ({cfg.name})")
    return problems


def test_a_charts_own_objects_wait_for_the_webhook_that_governs_them(
    both: tuple[Evaluation, FullRender],
) -> None:
    _, full = both
    governed = [o for o in full.from_chart("kps") if o.kind == "PrometheusRule"]
    assert governed, "kube-prometheus-stack renders no PrometheusRule: nothing to check"
    assert in_chart_order_problems(full) == []
