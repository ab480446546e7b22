"""The monitoring contract's engine: what a full render scrapes (ServiceMonitors and
PodMonitors matched against rendered Services / pod templates, plus the Services the
cluster itself provides) and which metrics alert rules and dashboards read (PromQL parsed
by promql-parser, the Rust port of Prometheus' parser)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser as promql

from tools.fullrender import FullRender

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
# Services that exist without being rendered: the kubelet Service the prometheus-operator
# maintains (kps values prometheusOperator.kubeletService, labels from prometheus-operator
# pkg/kubelet) and the API server's own `kubernetes` Service.
CLUSTER_SERVICES: tuple[dict[str, Any], ...] = (
    {
        "metadata": {
            "name": "kps-kubelet",
            "namespace": "kube-system",
            "labels": {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"},
        },
        "spec": {"ports": [{"name": "https-metrics"}, {"name": "http-metrics"}]},
    },
    {
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {"ports": [{"name": "https", "port": 443}]},
    },
)


@dataclass(frozen=True)
class Target:
    """One scrape: a monitor's endpoint on a Service or a pod template, with its port."""

    monitor: str
    kind: str
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...]
    port: str
    path: str
    pod_labels: tuple[tuple[str, str], ...]
    """Labels of the pods scraped (for the NetworkPolicy flow check: Prometheus -> pod)."""


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A Kubernetes LabelSelector; an empty selector selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _namespaces_ok(monitor: dict[str, Any], namespace: str) -> bool:
    sel = monitor["spec"].get("namespaceSelector") or {}
    if sel.get("any"):
        return True
    names = sel.get("matchNames") or [monitor["metadata"].get("namespace")]
    return namespace in names


def _labels(doc: dict[str, Any]) -> dict[str, str]:
    return dict((doc.get("metadata") or {}).get("labels") or {})


def _pod_templates(full: FullRender) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for o in full.workload():
        if o.kind in WORKLOADS:
            yield o.namespace or "default", o.name, o.doc["spec"]["template"]


def _service_pods(full: FullRender, ns: str, svc: dict[str, Any]) -> dict[str, str]:
    """Labels of the first pod template the Service selects (empty: none rendered)."""
    sel = (svc.get("spec") or {}).get("selector") or {}
    for pns, _, tpl in _pod_templates(full):
        if pns == ns and sel and all(_labels(tpl).get(k) == v for k, v in sel.items()):
            return _labels(tpl)
    return {}


def scrape_targets(full: FullRender) -> list[Target]:
    """Every (monitor endpoint, Service/pod) pair Prometheus would scrape, with a port that
    exists on the target. The NetworkPolicy flow contract can consume this list."""
    services = [(o.namespace or "default", o.doc) for o in full.workload() if o.kind == "Service"]
    services += [(s["metadata"]["namespace"], s) for s in CLUSTER_SERVICES]
    out: list[Target] = []
    for m in full.of_kind("ServiceMonitor"):
        spec = m.doc["spec"]
        for ns, svc in services:
            if not (_namespaces_ok(m.doc, ns) and selects(spec.get("selector"), _labels(svc))):
                continue
            svc_ports = (svc.get("spec") or {}).get("ports") or []
            ports = {p.get("name") for p in svc_ports} | {p.get("targetPort") for p in svc_ports}
            for ep in spec.get("endpoints") or []:
                # `targetPort` (deprecated, cert-manager's chart uses it) names the pod port.
                if (ep.get("port") or ep.get("targetPort")) in ports - {None}:
                    out.append(
                        Target(
                            m.ref,
                            "Service",
                            ns,
                            svc["metadata"]["name"],
                            tuple(sorted(_labels(svc).items())),
                            str(ep.get("port") or ep.get("targetPort")),
                            ep.get("path", "/metrics"),
                            tuple(sorted(_service_pods(full, ns, svc).items())),
                        )
                    )
    for m in full.of_kind("PodMonitor"):
        spec = m.doc["spec"]
        for ns, name, tpl in _pod_templates(full):
            if not (_namespaces_ok(m.doc, ns) and selects(spec.get("selector"), _labels(tpl))):
                continue
            cports = [p for c in tpl["spec"]["containers"] for p in c.get("ports") or []]
            for ep in spec.get("podMetricsEndpoints") or []:
                want = ep.get("port") or ep.get("portNumber")
                if any(want in (p.get("name"), p.get("containerPort")) for p in cports):
                    labels = tuple(sorted(_labels(tpl).items()))
                    out.append(
                        Target(
                            m.ref,
                            "Pod",
                            ns,
                            name,
                            labels,
                            str(want),
                            ep.get("path", "/metrics"),
                            labels,
                        )
                    )
    return out


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]
    """(label, op, value) with op one of = != =~ !~."""


_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of a PromQL expression, from the parsed syntax tree."""
    out: list[Selector] = []
    _walk(promql.parse(expr), out)
    return out


def _walk(node: Any, out: list[Selector]) -> None:
    if isinstance(node, promql.VectorSelector):
        matchers = [
            (m.name, _OPS[str(m.op).rsplit(".", 1)[-1]], m.value) for m in node.matchers.matchers
        ]
        name = node.name or next((v for k, _, v in matchers if k == "__name__"), "")
        out.append(Selector(name, tuple(m for m in matchers if m[0] != "__name__")))
        return
    if isinstance(node, promql.MatrixSelector):
        _walk(node.vector_selector, out)
        return
    if isinstance(node, promql.Call):
        for arg in node.args:
            _walk(arg, out)
        return
    for attr in ("lhs", "rhs", "expr", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            _walk(child, out)


def rule_exprs(full: FullRender) -> Iterator[tuple[str, str, str | None]]:
    """(where, expr, recorded name or None) for every rule of every PrometheusRule."""
    for o in full.of_kind("PrometheusRule"):
        for g in o.doc["spec"]["groups"]:
            for r in g["rules"]:
                where = f"{o.ref} {r.get('alert') or r.get('record')}"
                yield where, str(r["expr"]), r.get("record")


def dashboard_exprs(full: FullRender) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every Prometheus panel of the dashboards the program renders."""
    for o in full.of_kind("ConfigMap"):
        if o.source != "program" or "grafana_dashboard" not in _labels(o.doc):
            continue
        for file, text in (o.doc.get("data") or {}).items():
            for panel in json.loads(text).get("panels") or []:
                if "loki" in json.dumps(panel.get("datasource") or "").lower():
                    continue  # LogQL reads log streams, not scraped metrics
                for t in panel.get("targets") or []:
                    if t.get("expr"):
                        yield f"{o.ref} {file} {panel.get('title')!r}", str(t["expr"])
