"""HA contract over the full prod render: every Deployment and StatefulSet that serves a
webhook, an API or a controller runs >= 2 replicas, behind a PodDisruptionBudget, spread
over zones, whether a chart or the program renders it. What serves what is read from the
render itself: webhook configurations and APIServices -> Service -> pod selector, Services
-> pods, ServiceAccounts -> (Cluster)RoleBindings -> rules that watch and write.
Workloads the operator creates at run time (Prometheus, Alertmanager) are checked through
their custom resources and the PDBs the chart renders for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tools.fullrender import FullRender, Rendered

ZONE = "topology.kubernetes.io/zone"
WORKLOADS = ("Deployment", "StatefulSet")
WRITE = {"create", "update", "patch", "delete", "*"}


@dataclass(frozen=True)
class Exception_:
    reason: str
    alert: str
    """An alert of the rendered PrometheusRules that fires while it is down."""
    hidden_by: str = ""
    """A sub-chart (tools/chart_sources GAPS) whose absence hides the object."""


# Upstream cannot (or need not) run these HA; each is covered by an alert.
EXCEPTIONS: Mapping[str, Exception_] = {
    "Deployment velero/velero": Exception_(
        "Velero runs one server by design: its controllers are not leader-elected and the "
        "chart has no replica setting (velero.io docs, 'Velero does not support running "
        "multiple server instances'); backups are scheduled, so a reschedule delays them.",
        "VeleroBackupTooOld",
    ),
    "Deployment monitoring/kps-operator": Exception_(
        "prometheus-operator has no leader election (prometheus-operator#2491) and the "
        "chart hard-codes replicas: 1 (prometheus-community/helm-charts#3836). Its Fail "
        "webhooks are served by the separate, HA kps-operator-webhook Deployment; the "
        "operator only reconciles, and running Prometheus/Alertmanager keep working.",
        "PrometheusOperatorNotReady",
    ),
    "Deployment monitoring/kps-grafana": Exception_(
        "Grafana keeps sessions and UI state in a per-replica SQLite; without a shared "
        "database a second replica loses them at random (docs/observability.md, Grafana).",
        "KubeDeploymentReplicasMismatch",
        hidden_by="grafana",
    ),
    "Deployment monitoring/kps-kube-state-metrics": Exception_(
        "kube-state-metrics replicas each export every series (HA means sharding, not "
        "replicas); Prometheus alerts on the missing target.",
        "TargetDown",
        hidden_by="kube-state-metrics",
    ),
    "StatefulSet logging/loki-chunks-cache": Exception_(
        "memcached cache: while it is down Loki reads through to object storage.",
        "KubeStatefulSetReplicasMismatch",
    ),
    "StatefulSet logging/loki-results-cache": Exception_(
        "memcached cache: while it is down Loki recomputes query results.",
        "KubeStatefulSetReplicasMismatch",
    ),
}


def _key(o: Rendered) -> str:
    return f"{o.kind} {o.namespace}/{o.name}"


def _pod_labels(o: Rendered) -> dict[str, str]:
    return dict(((o.doc["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {})


def _selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def _services(full: FullRender) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (str(s.namespace), s.name): dict(s.doc["spec"].get("selector") or {})
        for s in full.of_kind("Service")
    }


def _webhook_services(full: FullRender) -> Iterator[tuple[str, str, str]]:
    """(role, namespace, Service) of every webhook and APIService in the render."""
    for cfg in full.of_kind("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for hook in cfg.doc.get("webhooks") or []:
            svc = (hook.get("clientConfig") or {}).get("service")
            if svc:
                yield f"webhook {cfg.name}", svc["namespace"], svc["name"]
    for api in full.of_kind("APIService"):
        svc = api.doc["spec"].get("service")
        if svc:
            yield f"API {api.name}", svc["namespace"], svc["name"]


def _controllers(full: FullRender) -> set[tuple[str, str]]:
    """(namespace, ServiceAccount) bound to rules that watch something and write."""
    roles = {
        (r.kind, r.namespace if r.kind == "Role" else None, r.name): r.doc.get("rules") or []
        for r in full.of_kind("Role", "ClusterRole")
    }
    out: set[tuple[str, str]] = set()
    for b in full.of_kind("RoleBinding", "ClusterRoleBinding"):
        ref = b.doc["roleRef"]
        ns = b.namespace if ref["kind"] == "Role" else None
        rules = roles.get((ref["kind"], ns, ref["name"]), [])
        verbs = {v for rule in rules for v in rule.get("verbs") or []}
        if ({"watch", "*"} & verbs) and (WRITE & verbs):
            for s in b.doc.get("subjects") or []:
                if s.get("kind") == "ServiceAccount":
                    out.add((s.get("namespace") or str(b.namespace), s["name"]))
    return out


def roles(full: FullRender) -> dict[str, set[str]]:
    """What each Deployment/StatefulSet serves, derived from the render."""
    services = _services(full)
    controllers = _controllers(full)
    found: dict[str, set[str]] = {}
    for o in full.of_kind(*WORKLOADS):
        labels, ns = _pod_labels(o), str(o.namespace)
        mine: set[str] = set()
        for role, svc_ns, svc in _webhook_services(full):
            if svc_ns == ns and _selects(services.get((svc_ns, svc)), labels):
                mine.add(role)
        if any(n == ns and _selects(sel, labels) for (n, _), sel in services.items()):
            mine.add("API (a Service)")
        sa = o.doc["spec"]["template"]["spec"].get("serviceAccountName") or "default"
        if (ns, sa) in controllers:
            mine.add("controller")
        if mine:
            found[_key(o)] = mine
    return found


def _zone_spread(pod: Mapping[str, Any]) -> bool:
    if any(t.get("topologyKey") == ZONE for t in pod.get("topologySpreadConstraints") or []):
        return True
    anti = (pod.get("affinity") or {}).get("podAntiAffinity") or {}
    terms = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    terms += [
        t.get("podAffinityTerm") or {}
        for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ]
    return any(t.get("topologyKey") == ZONE for t in terms)


def _pdb_selects(full: FullRender, namespace: str, labels: Mapping[str, str]) -> bool:
    return any(
        p.namespace == namespace
        and _selects((p.doc["spec"].get("selector") or {}).get("matchLabels"), labels)
        for p in full.of_kind("PodDisruptionBudget")
    )


def ha_problems(full: FullRender) -> list[str]:
    problems: list[str] = []
    served = roles(full)
    for o in full.of_kind(*WORKLOADS):
        key = _key(o)
        if key not in served or key in EXCEPTIONS:
            continue
        spec, why = o.doc["spec"], ", ".join(sorted(served[key]))
        if int(spec.get("replicas", 1)) < 2:
            problems.append(f"{o.ref} ({why}): {spec.get('replicas', 1)} replica")
        if not _pdb_selects(full, str(o.namespace), _pod_labels(o)):
            problems.append(f"{o.ref} ({why}): no PodDisruptionBudget selects it")
        if not _zone_spread(spec["template"]["spec"]):
            problems.append(f"{o.ref} ({why}): no zone spread")
    return problems


def test_the_render_shows_who_serves_webhooks_apis_and_controllers(full_prod: FullRender) -> None:
    served = roles(full_prod)
    webhooks = {k for k, v in served.items() if any(r.startswith("webhook") for r in v)}
    apis = {k for k, v in served.items() if any(r.startswith("API v1") for r in v)}
    # A walk that finds nothing must not pass: cert-manager's and the operator's webhooks
    # and metrics-server's APIService are in every prod render.
    assert "Deployment cert-manager/cert-manager-webhook" in webhooks
    assert any("kps-operator" in k for k in webhooks)
    assert "Deployment monitoring/metrics-server" in apis
    assert sum("controller" in v for v in served.values()) >= 5


def test_prod_workloads_that_serve_run_ha_with_pdb_and_zone_spread(full_prod: FullRender) -> None:
    assert ha_problems(full_prod) == []


def test_a_fail_webhook_is_served_by_more_than_one_pod(full_prod: FullRender) -> None:
    # The prometheus-operator's webhook (failurePolicy Fail) must not hang on one pod.
    served = roles(full_prod)
    for key, why in served.items():
        if any(r.startswith("webhook") for r in why):
            assert key not in EXCEPTIONS, f"{key} serves {why}: a webhook cannot be an exception"


def _alerts(full: FullRender) -> set[str]:
    return {
        str(rule["alert"])
        for r in full.of_kind("PrometheusRule")
        for group in r.doc["spec"].get("groups") or []
        for rule in group.get("rules") or []
        if "alert" in rule
    }


def test_every_ha_exception_is_real_and_covered_by_a_rendered_alert(full_prod: FullRender) -> None:
    rendered = {_key(o) for o in full_prod.of_kind(*WORKLOADS)}
    gaps = {g.dependency for g in full_prod.gaps}
    alerts = _alerts(full_prod)
    for key, exc in EXCEPTIONS.items():
        hidden = bool(exc.hidden_by) and exc.hidden_by in gaps
        # Stale exceptions fail; an object hidden by a source gap is named by that gap.
        assert key in rendered or hidden, f"{key}: exception matches nothing rendered"
        assert exc.alert in alerts, f"{key}: alert {exc.alert} is not in the rendered rules"


def test_prometheus_and_alertmanager_are_ha_through_their_custom_resources(
    full_prod: FullRender,
) -> None:
    found = 0
    for cr in full_prod.of_kind("Prometheus", "Alertmanager"):
        found += 1
        spec, name = cr.doc["spec"], cr.name
        assert int(spec.get("replicas", 1)) >= 2, cr.ref
        assert _zone_spread(spec), f"{cr.ref}: no zone spread"
        # The operator labels its pods (prometheus-operator pkg/prometheus/statefulset.go,
        # pkg/alertmanager/statefulset.go): name + operator.prometheus.io/name / alertmanager.
        kind_label = cr.kind.lower()
        pods = {
            "app.kubernetes.io/name": kind_label,
            "operator.prometheus.io/name": name,
            kind_label: name,
        }
        assert _pdb_selects(full_prod, str(cr.namespace), pods), f"{cr.ref}: no PDB"
    assert found == 2
