"""Tenant isolation that tenants cannot undo: a cluster-wide deny baseline per tenant and
a developer role without any write on network policies or RBAC.

Cilium semantics (cilium Documentation/security/policy/deny.rst): deny rules take
precedence over every allow, whether it comes from a NetworkPolicy, a
CiliumNetworkPolicy or a CiliumClusterwideNetworkPolicy, so nothing written in the
tenant namespace re-opens what the baseline denies. `enableDefaultDeny: false` for both
directions (intro.rst "Endpoint default policy") keeps the baseline from isolating the
pods by itself: it only subtracts; the namespace's own default-deny does the isolating.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.security.policies import TENANT_LABEL
from kernel import kube, network
from kernel.namespaces import GATEWAY, PLATFORM_NAMESPACES

NS_KEY = "k8s:io.kubernetes.pod.namespace"
NS_LABEL = f"k8s:io.cilium.k8s.namespace.labels.{TENANT_LABEL}"

_NODE_SERVICES = {
    "ssh, node-exporter": (22, 9100),
    "etcd: clients, peers, metrics": (2379, 2380, 2381),
    "cilium: health, hubble, metrics": (4240, 4244, 9962, 9963, 9964, 9965),
    "kubelet, kube-proxy, controller-manager, scheduler": (10250, 10255, 10256, 10257, 10259),
}
NODE_PORTS = tuple(sorted(p for ports in _NODE_SERVICES.values() for p in ports))
"""Node services a tenant with API access must still not reach: the API server's node is
`remote-node` too (identity 7 carries both labels, cilium pkg/identity/numericidentity.go),
so for those tenants `remote-node` is denied port by port instead of as a whole."""

DEVELOPER_ROLE = "k8s-platform:tenant-developer"
_RW = ["get", "list", "watch", "create", "update", "patch", "delete"]
_RO = ["get", "list", "watch"]
DEVELOPER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "statefulsets", "replicasets"],
        "verbs": _RW,
    },
    {
        "apiGroups": [""],
        "resources": [
            "services",
            "configmaps",
            "secrets",
            "serviceaccounts",
            "persistentvolumeclaims",
        ],
        "verbs": _RW,
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": [*_RO, "delete"]},
    {"apiGroups": [""], "resources": ["pods/log", "events", "endpoints"], "verbs": _RO},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _RO},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _RW},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _RW},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _RW},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": _RW},
    {
        "apiGroups": ["monitoring.coreos.com"],
        "resources": ["servicemonitors", "podmonitors"],
        "verbs": _RW,
    },
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": _RO},
    {"apiGroups": ["cilium.io"], "resources": ["ciliumnetworkpolicies"], "verbs": _RO},
]
"""Replaces the built-in `edit`, which may write NetworkPolicies (kubernetes
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go `system:aggregate-to-edit`) and
collects every chart role labelled aggregate-to-edit (kube-prometheus-stack's Prometheus
and Alertmanager CRs). Reading policies stays: developers see why a flow is denied."""


def tenant_baseline(tenant: str, api_access: bool, exposed: bool = False) -> dict[str, Any]:
    """The CiliumClusterwideNetworkPolicy spec that fences `tenant`'s pods in; a tenant
    not published through the shared Gateway is also fenced off from it (ingress)."""
    platform = sorted(ns.name for ns in PLATFORM_NAMESPACES)
    deny: list[dict[str, Any]] = [
        # EC2 instance metadata: the node's role (and with it the backup bucket).
        {"toCIDR": [network.IMDS]},
        # kube-system except CoreDNS (NotIn also selects pods without the label).
        {
            "toEndpoints": [
                {
                    "matchLabels": {NS_KEY: "kube-system"},
                    "matchExpressions": [
                        {"key": "k8s:k8s-app", "operator": "NotIn", "values": ["kube-dns"]}
                    ],
                }
            ]
        },
        {
            "toEndpoints": [
                {"matchExpressions": [{"key": NS_KEY, "operator": "In", "values": platform}]}
            ]
        },
        # Every other tenant namespace, present or future (namespace label).
        {
            "toEndpoints": [
                {
                    "matchExpressions": [
                        {"key": NS_LABEL, "operator": "Exists"},
                        {"key": NS_KEY, "operator": "NotIn", "values": [tenant]},
                    ]
                }
            ]
        },
    ]
    if api_access:
        deny += [
            {"toEntities": ["host"]},
            {
                "toEntities": ["remote-node"],
                "toPorts": [{"ports": [{"port": str(p), "protocol": "TCP"} for p in NODE_PORTS]}],
            },
        ]
    else:
        deny.append({"toEntities": ["host", "remote-node", "kube-apiserver"]})
    spec: dict[str, Any] = {
        "description": f"Tenant {tenant}: no IMDS, nodes, API server, platform or other "
        "tenants, whatever the namespace's own policies say.",
        "endpointSelector": {"matchLabels": {NS_KEY: tenant}},
        "enableDefaultDeny": {"ingress": False, "egress": False},
        "egressDeny": deny,
    }
    if not exposed:
        # Deny beats allow: no policy in either namespace publishes this tenant.
        spec["ingressDeny"] = [{"fromEndpoints": [{"matchLabels": {NS_KEY: GATEWAY}}]}]
    return spec


def developer_role(opts: pulumi.ResourceOptions) -> None:
    """One ClusterRole for every tenant's developers (bound per namespace)."""
    rules: Any = DEVELOPER_RULES
    k8s.rbac.v1.ClusterRole(
        "tenant-developer",
        metadata={"name": DEVELOPER_ROLE, "labels": kube.MANAGED_BY},
        rules=rules,
        opts=opts,
    )


def baseline(tenant: str, api_access: bool, exposed: bool, opts: pulumi.ResourceOptions) -> None:
    k8s.apiextensions.CustomResource(
        f"{tenant}-tenant-baseline",
        api_version=network.CNP_API,
        kind="CiliumClusterwideNetworkPolicy",
        metadata={"name": f"tenant-{tenant}-baseline", "labels": kube.MANAGED_BY},
        spec=tenant_baseline(tenant, api_access, exposed),
        opts=opts,
    )


IMDS_CLIENTS = {"k8s:app.kubernetes.io/name": ["aws-ebs-csi-driver"]}
"""kube-system pods that take the node role from IMDS: the EBS CSI controller (its
credentials and region; aws-ebs-csi-driver docs). Node agents on hostNetwork (the cloud
controller manager, the CSI node plugin) are the node itself and no policy applies."""


def kube_system_imds_deny(opts: pulumi.ResourceOptions) -> None:
    """IMDS closed to every kube-system pod but the EBS CSI controller. No namespace policy
    of ours governs kube-system (CoreDNS, the CNI's helpers), so an explicit deny does; the
    platform namespaces are default-deny with an IMDS deny beside each internet allow
    (kernel.network.entity_policy), and tenants carry it in their baseline."""
    key, values = next(iter(IMDS_CLIENTS.items()))
    k8s.apiextensions.CustomResource(
        "kube-system-no-imds",
        api_version=network.CNP_API,
        kind="CiliumClusterwideNetworkPolicy",
        metadata={"name": "kube-system-no-imds", "labels": kube.MANAGED_BY},
        spec={
            "description": "No IMDS from kube-system pods except the EBS CSI controller.",
            "endpointSelector": {
                "matchLabels": {NS_KEY: "kube-system"},
                "matchExpressions": [{"key": key, "operator": "NotIn", "values": values}],
            },
            "enableDefaultDeny": {"ingress": False, "egress": False},
            "egressDeny": [{"toCIDR": [network.IMDS]}],
        },
        opts=opts,
    )
