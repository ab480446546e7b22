"""ObservabilityStack's NetworkPolicies: the allows on top of each namespace's
default-deny + same-namespace + DNS.

Scrape *ingress* into other namespaces and each namespace's API-server egress are
SecurityBaseline's. Nodes and hostNetwork pods (node-exporter, kubelet, control plane)
are no pods to a selector: they are entities (kernel/network.py). Gateway ingress is
EdgeGateway's, route by route (envoy -> that backend's port only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.observability.logging_values import LokiObjectStore, endpoint_port
from components.observability.names import (
    ALERTMANAGER_PODS,
    GRAFANA_PODS,
    LOKI_GATEWAY_PODS,
    LOKI_PODS,
    METRICS_SERVER_PODS,
    OPERATOR_PODS,
    OPERATOR_WEBHOOK_PODS,
    PROMETHEUS_PODS,
)
from components.observability.settings import ObservabilitySettings
from kernel import kube
from kernel import network as net


class _Policies:
    """Writes each allow under the component (`opts`) with the resource name
    `observability-<name>` the stack has always given it."""

    def __init__(self, network: net.Network, opts: pulumi.ResourceOptions) -> None:
        self._network = network
        self._opts = opts

    def policy(self, name: str, namespace: pulumi.Input[str], **kw: Any) -> None:
        """Pod to pod (plain NetworkPolicy)."""
        kube.network_policy(
            name, namespace, self._opts, resource_name=f"observability-{name}", **kw
        )

    def entity(self, name: str, namespace: pulumi.Input[str], **kw: Any) -> None:
        """Toward or from the API server, the nodes or the world (the CNI's entities)."""
        net.entity_policy(
            name, namespace, self._network, self._opts, resource_name=f"observability-{name}", **kw
        )

    def fqdn(self, name: str, namespace: pulumi.Input[str], **kw: Any) -> None:
        """Toward named outside hosts."""
        net.fqdn_policy(
            name, namespace, self._network, self._opts, resource_name=f"observability-{name}", **kw
        )


@dataclass(frozen=True)
class Scope:
    """What the allows depend on, from ObservabilityStackArgs."""

    settings: ObservabilitySettings
    network: net.Network
    monitoring: pulumi.Input[str]
    logging: pulumi.Input[str]
    control_plane_metrics: bool
    """Prometheus scrapes etcd, the controller-manager and the scheduler on the nodes."""
    operator_webhook: bool
    """The operator serves its admission webhook (a cert-manager issuer signs it)."""
    store: LokiObjectStore | None
    """Where Loki writes (None: its own filesystem)."""


def network_policies(scope: Scope, opts: pulumi.ResourceOptions) -> None:
    """Every allow the metrics, alerting and logging add-ons need."""
    p = _Policies(scope.network, opts)
    _metrics_policies(p, scope)
    _logging_policies(p, scope.monitoring, scope.logging, scope.store)


def _metrics_policies(p: _Policies, scope: Scope) -> None:
    """Prometheus scrapes, Alertmanager reaches its receivers, Grafana reads Loki, and the
    API server reaches metrics-server and the operator's webhook."""
    monitoring, logging = scope.monitoring, scope.logging
    p.policy(
        "prometheus-scrape",
        monitoring,
        pod_selector=PROMETHEUS_PODS,
        egress_to=[{"namespaceSelector": {}}],
    )
    # node-exporter, kubelet/cAdvisor, etcd, controller-manager, scheduler on the nodes.
    host_ports = [9100, 10250] + ([2381, 10257, 10259] if scope.control_plane_metrics else [])
    p.entity(
        "prometheus-scrape-nodes",
        monitoring,
        pod_selector=PROMETHEUS_PODS,
        egress_to=net.NODES,
        egress_ports=host_ports,
    )
    receivers = scope.settings.alerting.receivers
    smtp = [587] if any(r.type == "email" for r in receivers) else []
    p.entity(
        "alertmanager-receivers",
        monitoring,
        pod_selector=ALERTMANAGER_PODS,
        egress_to=net.WORLD,
        egress_ports=[443, *smtp],
    )
    p.policy(
        "grafana-to-loki",
        monitoring,
        pod_selector=GRAFANA_PODS,
        egress_to=[kube.namespace_peer(logging, LOKI_GATEWAY_PODS)],
        egress_ports=kube.tcp(8080),
    )
    # The API server calls metrics-server (APIService) and, with cert-manager, the
    # operator's admission webhook; metrics-server itself scrapes every kubelet.
    from_api_server = {"ingress_from": net.API_SERVER, "ingress_ports": [10250]}
    p.entity(
        "apiserver-to-metrics-server",
        monitoring,
        pod_selector=METRICS_SERVER_PODS,
        **from_api_server,
    )
    p.entity(
        "metrics-server-to-kubelets",
        monitoring,
        pod_selector=METRICS_SERVER_PODS,
        egress_to=net.NODES,
        egress_ports=[10250],
    )
    if scope.operator_webhook:
        p.entity(
            "apiserver-to-operator-webhook",
            monitoring,
            pod_selector=OPERATOR_PODS,
            **from_api_server,
        )
        # prod: the webhooks are served by the chart's standalone webhook Deployment.
        p.entity(
            "apiserver-to-operator-admission-webhook",
            monitoring,
            pod_selector=OPERATOR_WEBHOOK_PODS,
            **from_api_server,
        )


def _logging_policies(
    p: _Policies,
    monitoring: pulumi.Input[str],
    logging: pulumi.Input[str],
    store: LokiObjectStore | None,
) -> None:
    """Grafana reads Loki through its gateway; Alloy tails logs through the API
    (SecurityBaseline's API-server allow); Loki writes to its object store."""
    p.policy(
        "loki-gateway-from-grafana",
        logging,
        pod_selector=LOKI_GATEWAY_PODS,
        ingress_from=[kube.namespace_peer(monitoring, GRAFANA_PODS)],
        ingress_ports=kube.tcp(8080),
    )
    if store is None:
        return
    target = net.s3_hosts(store.region, store.endpoint)
    if target is None:
        # In-cluster store (the embedded one): a pod, reached pod to pod.
        p.policy(
            "loki-object-store",
            logging,
            pod_selector=LOKI_PODS,
            egress_to=[{"namespaceSelector": {}}],
            egress_ports=kube.tcp(443, *endpoint_port(store)),
        )
        return
    hosts, ports = target
    p.fqdn(
        "loki-object-store",
        logging,
        pod_selector=LOKI_PODS,
        hosts=hosts,
        ports=ports,
        # No keys and no role to assume: the node's role, through IMDS.
        imds=store.credentials_secret_name is None and store.role_arn is None,
    )
