"""The flow contract: every flow the platform needs and every flow it must never allow,
derived from the full render where the render says it, the rest from flows.yaml.

Derived: the API server calls each webhook and APIService backend (Service -> pods ->
target port); Prometheus reaches every ServiceMonitor/PodMonitor target (a Service
without pods of its own, or with hostNetwork pods, is a node target); every workload
whose ServiceAccount is bound to a role talks to the API server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.fullrender import FullRender
from verify.flows.evaluator import (
    POLICY_KINDS,
    External,
    Flow,
    Labels,
    Node,
    Peer,
    Pod,
    World,
    selects,
)

TABLE = Path(__file__).with_name("flows.yaml")
CP = Node("control-plane", "10.0.64.10", runs_apiserver=True)
W1 = Node("worker-1", "10.0.128.10")
W2 = Node("worker-2", "10.0.192.10")
IMDS = External("169.254.169.254")
WORLD = External("203.0.113.10", "example.com")
OTHER_TENANT = "tenant-x"
TENANT_LABEL = "k8s-platform/tenant"
PROMETHEUS = {"app.kubernetes.io/name": "prometheus"}
DNS_LABELS = {"k8s-app": "kube-dns"}
API_PORT = 6443
TENANT_KINDS = ("exposed-tenant", "closed-tenant")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


@dataclass(frozen=True)
class Workload:
    namespace: str
    labels: dict[str, str]
    host_network: bool
    ports: dict[str, int]
    service_account: str = "default"

    def pod(self, node: Node) -> Pod:
        ip = node.ip if self.host_network else f"192.168.{hash(node.name) % 200}.9"
        return Pod(self.namespace, tuple(sorted(self.labels.items())), node, ip, self.host_network)


@dataclass(frozen=True)
class Row:
    addon: str
    src: list[Peer]
    dst: list[Peer]
    port: int
    protocol: str
    why: str

    def flows(self) -> Iterator[Flow]:
        for s in self.src:
            for d in self.dst:
                yield Flow(s, d, self.port, self.protocol)


def _template(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template") or {}


def workloads(fr: FullRender, table: Mapping[str, Any]) -> list[Workload]:
    out = []
    for o in fr.workload():
        if o.kind not in WORKLOADS:
            continue
        t = _template(o.doc)
        spec = t.get("spec") or {}
        ports = {
            p["name"]: int(p["containerPort"])
            for c in spec.get("containers") or []
            for p in c.get("ports") or []
            if p.get("name")
        }
        sa = spec.get("serviceAccountName") or "default"
        if spec.get("automountServiceAccountToken") is False:
            sa = ""
        labels = dict((t.get("metadata") or {}).get("labels") or {})
        out.append(
            Workload(o.namespace or "default", labels, bool(spec.get("hostNetwork")), ports, sa)
        )
    for p in table.get("pods") or []:
        ports = {k: int(v) for k, v in (p.get("ports") or {}).items()}
        out.append(Workload(p["namespace"], dict(p["labels"]), bool(p.get("hostNetwork")), ports))
    return out


class Contract:
    def __init__(self, fr: FullRender, table: Mapping[str, Any] | None = None) -> None:
        self.fr = fr
        self.table = table if table is not None else yaml.safe_load(TABLE.read_text())
        self.workloads = workloads(fr, self.table)
        self.tenants = sorted(
            o.name for o in fr.of_kind("Namespace") if TENANT_LABEL in _labels(o.doc)
        )
        self.unresolved: list[str] = []
        """Render objects no flow could be derived from (each must be explained)."""

    def world(self, apiserver_calls: str = "kube-apiserver") -> World:
        namespaces = {o.name: _labels(o.doc) for o in self.fr.of_kind("Namespace")}
        for name in ("kube-system", "default"):
            namespaces.setdefault(name, {})
        namespaces[OTHER_TENANT] = {TENANT_LABEL: OTHER_TENANT}
        for name, labels in namespaces.items():
            labels.setdefault("kubernetes.io/metadata.name", name)
        policies = [o.doc for o in self.fr.workload() if o.kind in POLICY_KINDS]
        return World(namespaces, policies, apiserver_calls=apiserver_calls)

    # ---- endpoints -----------------------------------------------------------------------

    def peers(self, spec: Any, node: Node) -> list[Peer]:
        if isinstance(spec, dict):
            found: list[Peer] = [
                w.pod(node) for w in self.select(spec["namespace"], spec["labels"])
            ]
            if not found and self._hidden_by_gap(spec):
                # The chart source lacks the sub-chart that renders these pods: policies
                # select by labels, so a pod with the row's labels is judged the same way.
                labels = tuple(sorted((str(k), str(v)) for k, v in spec["labels"].items()))
                found = [Pod(spec["namespace"], labels, node, "192.168.9.9")]
            return found
        if isinstance(spec, str) and spec.startswith("fqdn:"):
            return [External("52.218.0.10", spec.removeprefix("fqdn:"))]
        published = self.published()
        fixed: dict[str, list[Peer]] = {
            "apiserver": [CP],
            "nodes": [W1, W2, CP],
            "imds": [IMDS],
            "world": [WORLD],
            "tenant": [Pod(t, (("app", "web"),), node, "192.168.7.9") for t in self.tenants],
            "exposed-tenant": [
                Pod(t, (("app", "web"),), node, "192.168.7.9")
                for t in self.tenants
                if t in published
            ],
            "closed-tenant": [
                Pod(t, (("app", "web"),), node, "192.168.7.9")
                for t in self.tenants
                if t not in published
            ],
            "other-tenant": [Pod(OTHER_TENANT, (("app", "web"),), node, "192.168.8.9")],
        }
        if spec not in fixed:
            raise ValueError(f"unknown endpoint {spec!r}")
        return fixed[spec]

    def _hidden_by_gap(self, spec: Mapping[str, Any]) -> bool:
        values = " ".join(str(v) for v in spec["labels"].values())
        return any(g.dependency in values for g in self.fr.gaps)

    def published(self) -> set[str]:
        """Tenants the render's Gateways admit HTTPRoutes from (on any listener)."""
        namespaces = self.world().namespaces
        return {
            t
            for gw in self.fr.of_kind("Gateway")
            for listener in (gw.doc.get("spec") or {}).get("listeners") or []
            for t in self.tenants
            if admits(listener, gw.namespace or "", t, namespaces[t])
        }

    def select(self, namespace: str | None, labels: Mapping[str, Any]) -> list[Workload]:
        sel = {"matchLabels": labels} if "matchLabels" not in labels else labels
        return [
            w
            for w in self.workloads
            if (namespace is None or w.namespace == namespace) and selects(sel, w.labels)
        ]

    # ---- rows ----------------------------------------------------------------------------

    def required(self) -> list[Row]:
        rows = [
            *self._table_rows("required"),
            *self._webhooks(),
            *self._monitors(),
            *self._api_clients(),
            *self._dns(),
        ]
        return rows

    def forbidden(self) -> list[Row]:
        return [*self._table_rows("forbidden"), *self._imds()]

    def _pod_workloads(self) -> list[Workload]:
        """Every pod with its own network identity (hostNetwork pods are their node)."""
        return [w for w in self.workloads if not w.host_network]

    def _dns(self) -> Iterator[Row]:
        dns: list[Peer] = [w.pod(W2) for w in self.select("kube-system", DNS_LABELS)]
        for w in self._pod_workloads():
            if w.namespace == "kube-system":
                continue  # no policy governs kube-system (CoreDNS itself, the CNI)
            yield Row(f"{w.namespace} DNS", [w.pod(W1)], dns, 53, "UDP", "name resolution")

    def _imds(self) -> Iterator[Row]:
        allowed = [
            r
            for r in self.table.get("imds") or []
            if self.fr.stack in r.get("stacks", [self.fr.stack])
        ]
        for w in self._pod_workloads():
            if any(
                w.namespace == r["namespace"] and selects({"matchLabels": r["labels"]}, w.labels)
                for r in allowed
            ):
                continue
            who = f"{w.namespace}/{sorted(w.labels.items())[:2]}"
            yield Row(
                f"{w.namespace} IMDS",
                [w.pod(W1)],
                [IMDS],
                80,
                "TCP",
                f"IMDS (the node role) from {who}",
            )

    def _table_rows(self, key: str) -> Iterator[Row]:
        for r in self.table.get(key) or []:
            if self.fr.stack not in r.get("stacks", [self.fr.stack]):
                continue
            src, dst = self.peers(r["from"], W1), self.peers(r["to"], W2)
            if (r["from"] in TENANT_KINDS or r["to"] in TENANT_KINDS) and not (src and dst):
                continue  # a stack may publish no tenant (staging) or every one (dev)
            if not src or not dst:
                self.unresolved.append(f"{key} row {r['from']} -> {r['to']}: no such peer")
                continue
            yield Row(
                r.get("addon", "platform"),
                src,
                dst,
                int(r["port"]),
                r.get("protocol", "TCP"),
                r["why"],
            )

    def _service_backend(self, ns: str, name: str, port: Any) -> tuple[list[Workload], int] | None:
        svc = next(
            (o.doc for o in self.fr.of_kind("Service") if o.namespace == ns and o.name == name),
            None,
        )
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        sp = next(
            (
                p
                for p in spec.get("ports") or []
                if port in (p.get("port"), p.get("name")) or port is None
            ),
            None,
        )
        if sp is None or not spec.get("selector"):
            return None
        backends = self.select(ns, spec["selector"])
        target = sp.get("targetPort", sp["port"])
        if isinstance(target, str):
            named = {w.ports.get(target) for w in backends} - {None}
            if len(named) != 1:
                return None
            target = named.pop()
        return backends, int(target)

    def _webhooks(self) -> Iterator[Row]:
        refs: list[tuple[str, Mapping[str, Any]]] = []
        for o in self.fr.of_kind("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            refs += [
                (o.ref, (w.get("clientConfig") or {}).get("service") or {})
                for w in o.doc.get("webhooks") or []
            ]
        for o in self.fr.of_kind("APIService"):
            refs.append((o.ref, (o.doc.get("spec") or {}).get("service") or {}))
        for ref, svc in refs:
            if not svc:
                continue
            found = self._service_backend(svc["namespace"], svc["name"], svc.get("port", 443))
            if not found or not found[0]:
                self.unresolved.append(f"{ref}: no backend for {svc}")
                continue
            pods, port = found
            yield Row(ref, [CP], [w.pod(W2) for w in pods], port, "TCP", "API server calls it")

    def _monitors(self) -> Iterator[Row]:
        prom: list[Peer] = [w.pod(W1) for w in self.select("monitoring", PROMETHEUS)]
        unreachable = self.table.get("unreachable") or {}
        for o in self.fr.of_kind("ServiceMonitor", "PodMonitor"):
            if o.name in unreachable:
                continue
            rows = list(self._monitor_rows(o.kind, o.namespace or "", o.doc.get("spec") or {}))
            if not rows and o.name != "kps-kubelet":  # kubelet: a flows.yaml row
                self.unresolved.append(f"{o.ref}: no scrape target in the render")
            for dst, port in rows:
                yield Row(o.ref, prom, dst, port, "TCP", "Prometheus scrapes it")

    def _monitor_rows(
        self, kind: str, ns: str, spec: Mapping[str, Any]
    ) -> Iterator[tuple[list[Peer], int]]:
        names = (spec.get("namespaceSelector") or {}).get("matchNames") or [ns]
        sel = spec.get("selector") or {}
        if kind == "PodMonitor":
            for w in (w for n in names for w in self.select(n, sel)):
                for e in spec.get("podMetricsEndpoints") or []:
                    port = w.ports.get(e.get("port", "")) or e.get("portNumber")
                    if port:
                        yield [w.pod(W2)], int(port)
            return
        if "default" in names and selects(
            sel, {"component": "apiserver", "provider": "kubernetes"}
        ):
            yield [CP], API_PORT  # the `kubernetes` Service: the API server itself
            return
        for svc in self.fr.of_kind("Service"):
            if svc.namespace not in names or not selects(sel, _labels(svc.doc)):
                continue
            for e in spec.get("endpoints") or []:
                found = self._service_backend(svc.namespace or "", svc.name, e.get("port"))
                if not found or not found[0]:
                    continue
                pods, port = found
                dst: list[Peer] = []
                for w in pods:  # hostNetwork targets are their nodes, workers and control plane
                    dst += [W2, CP] if w.host_network else [w.pod(W2)]
                yield dst, port

    def _api_clients(self) -> Iterator[Row]:
        bound: set[tuple[str, str]] = set()
        for b in self.fr.of_kind("RoleBinding", "ClusterRoleBinding"):
            for s in b.doc.get("subjects") or []:
                if s.get("kind") == "ServiceAccount":
                    bound.add((s.get("namespace") or b.namespace or "", s["name"]))
        for w in self.workloads:
            if (w.namespace, w.service_account) in bound and not w.host_network:
                yield Row(
                    f"{w.namespace}/{w.service_account}",
                    [w.pod(W1)],
                    [CP],
                    API_PORT,
                    "TCP",
                    "bound to a role: talks to the API server",
                )


def admits(listener: Mapping[str, Any], gateway_ns: str, ns: str, labels: Labels) -> bool:
    """Gateway API v1 Listener.allowedRoutes.namespaces (apis/v1/gateway_types.go,
    FromNamespaces): `Same` (the default) admits the Gateway's namespace, `All` every
    namespace, `Selector` the namespaces whose labels match the selector."""
    spec = (listener.get("allowedRoutes") or {}).get("namespaces") or {}
    origin = spec.get("from", "Same")
    if origin == "All":
        return True
    if origin == "Selector":
        return selects(spec.get("selector") or {}, labels)
    return ns == gateway_ns


def _labels(doc: Mapping[str, Any]) -> dict[str, str]:
    return dict((doc.get("metadata") or {}).get("labels") or {})
