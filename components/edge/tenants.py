"""Tenants published through the shared Gateway: a listener per hostname that admits
HTTPRoutes from that tenant's namespace only, its certificate, and the allows between
Envoy and the tenant's pods. Tenants write their own HTTPRoutes.

Gateway API (apis/v1/gateway_types.go, AllowedRoutes): `from: Selector` admits routes
only from namespaces whose labels match; `kubernetes.io/metadata.name` is set by the API
server on every namespace, so each listener names exactly one tenant, and a tenant
cannot attach a route to another tenant's (or a platform UI's) hostname.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.edge.routes import cr
from components.edge.values import ENVOY_POD_LABELS
from kernel import kube
from kernel.contracts import ExposedTenant

ROUTE_KINDS = [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]


def tls_secret(t: ExposedTenant) -> str:
    return f"tenant-{t.name}-tls"


def listeners(tenants: Sequence[ExposedTenant], https_port: int) -> list[dict[str, Any]]:
    """One HTTPS listener per tenant hostname, named after it (what a tenant's
    HTTPRoute may give as `sectionName`)."""
    return [
        {
            "name": host,
            "protocol": "HTTPS",
            "port": https_port,
            "hostname": host,
            "tls": {
                "mode": "Terminate",
                "certificateRefs": [{"group": "", "kind": "Secret", "name": tls_secret(t)}],
            },
            "allowedRoutes": {
                "kinds": ROUTE_KINDS,
                "namespaces": {
                    "from": "Selector",
                    "selector": {"matchLabels": {"kubernetes.io/metadata.name": t.namespace}},
                },
            },
        }
        for t in tenants
        for host in t.hostnames
    ]


def certificates(
    tenants: Sequence[ExposedTenant],
    namespace: pulumi.Input[str],
    cluster_issuer: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> list[pulumi.Resource]:
    """A certificate per tenant (its hostnames only), beside the Gateway that reads it;
    a tenant's change never re-issues the platform certificate."""
    return [
        cr(
            f"edge-tenant-tls-{t.name}",
            "cert-manager.io/v1",
            "Certificate",
            tls_secret(t),
            namespace,
            {
                "secretName": tls_secret(t),
                "dnsNames": list(t.hostnames),
                "issuerRef": {
                    "group": "cert-manager.io",
                    "kind": "ClusterIssuer",
                    "name": cluster_issuer,
                },
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "usages": ["digital signature", "key encipherment", "server auth"],
            },
            opts,
        )
        for t in tenants
    ]


def network_policies(
    tenants: Sequence[ExposedTenant], namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> None:
    """Envoy -> the tenant's pods on the tenant's port, both ends (each namespace is
    default-deny). The same Envoy selector as the Grafana route's allows."""
    for t in tenants:
        kube.network_policy(
            f"allow-envoy-to-tenant-{t.name}",
            namespace,
            opts,
            pod_selector=ENVOY_POD_LABELS,
            egress_to=[kube.namespace_peer(t.namespace)],
            egress_ports=kube.tcp(t.port),
            resource_name=f"edge-allow-envoy-to-tenant-{t.name}",
        )
        kube.network_policy(
            "allow-from-gateway",
            t.namespace,
            opts,
            pod_selector={},
            ingress_from=[kube.namespace_peer(namespace, ENVOY_POD_LABELS)],
            ingress_ports=kube.tcp(t.port),
            resource_name=f"edge-allow-gateway-to-tenant-{t.name}",
        )
