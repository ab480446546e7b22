"""The cluster-autoscaler's own credential for the workload cluster.

It runs on the management cluster (clusterAPIMode `kubeconfig-incluster`: MachineDeployments
through its in-cluster ServiceAccount, the workload cluster through a kubeconfig; Cluster
API autoscaler docs, "Connecting cluster-autoscaler to Cluster API management and workload
Clusters"). That kubeconfig used to be CAPI's `<cluster>-kubeconfig`, the `system:masters`
admin certificate. Now it is a ServiceAccount token of the workload cluster, bound to what
the autoscaler reads and writes there: the chart's own workload rules (cluster-autoscaler
chart 9.59.0 templates/clusterrole.yaml, role.yaml: nodes, pods, evictions, status
ConfigMap, leader-election Lease), nothing for Secrets or RBAC.
"""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from kernel import kube

NAMESPACE = "kube-system"
NAME = "cluster-autoscaler"
ROLE = "k8s-platform:cluster-autoscaler"
READ = ["get", "list", "watch"]

CLUSTER_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["events", "endpoints"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update"]},
    {
        "apiGroups": [""],
        "resources": ["endpoints"],
        "resourceNames": [NAME],
        "verbs": ["get", "update"],
    },
    {"apiGroups": [""], "resources": ["nodes"], "verbs": [*READ, "update"]},
    {
        "apiGroups": [""],
        "resources": ["podtemplates"],
        "verbs": [*READ, "create", "update", "patch"],
    },
    {
        "apiGroups": ["resource.k8s.io"],
        "resources": ["resourceslices", "deviceclasses", "resourceclaims"],
        "verbs": READ,
    },
    {
        "apiGroups": [""],
        "resources": [
            "namespaces",
            "pods",
            "services",
            "replicationcontrollers",
            "persistentvolumeclaims",
            "persistentvolumes",
        ],
        "verbs": READ,
    },
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": READ},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["watch", "list"]},
    {
        "apiGroups": ["apps"],
        "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"],
        "verbs": READ,
    },
    {
        "apiGroups": ["storage.k8s.io"],
        "resources": [
            "storageclasses",
            "csinodes",
            "csidrivers",
            "csistoragecapacities",
            "volumeattachments",
        ],
        "verbs": READ,
    },
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "watch", "get"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resourceNames": [NAME],
        "verbs": ["get", "update"],
    },
]
NAMESPACE_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["cluster-autoscaler-status"],
        "verbs": ["delete", "get", "update"],
    },
]


def workload_identity(opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """ServiceAccount, roles and a token Secret on the workload cluster."""
    meta: Any = {"name": NAME, "namespace": NAMESPACE, "labels": dict(kube.MANAGED_BY)}
    sa = k8s.core.v1.ServiceAccount(
        "cluster-autoscaler-workload",
        metadata=meta,
        automount_service_account_token=False,
        opts=opts,
    )
    subject: Any = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    cluster_meta: Any = {"name": ROLE, "labels": kube.MANAGED_BY}
    rules: Any = CLUSTER_RULES
    role = k8s.rbac.v1.ClusterRole(
        "cluster-autoscaler-workload",
        metadata=cluster_meta,
        rules=rules,
        opts=opts,
    )
    k8s.rbac.v1.ClusterRoleBinding(
        "cluster-autoscaler-workload",
        metadata=cluster_meta,
        role_ref=_ref("ClusterRole", ROLE),
        subjects=subject,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])),
    )
    namespace_rules: Any = NAMESPACE_RULES
    local = k8s.rbac.v1.Role(
        "cluster-autoscaler-workload", metadata=meta, rules=namespace_rules, opts=opts
    )
    k8s.rbac.v1.RoleBinding(
        "cluster-autoscaler-workload",
        metadata=meta,
        role_ref=_ref("Role", NAME),
        subjects=subject,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[local])),
    )
    # A long-lived token the kubeconfig on the management cluster carries; rotate it by
    # replacing this Secret (docs/capi.md, "Cluster autoscaler"). Pulumi waits until the
    # token controller has filled it in.
    token_meta: Any = {
        "name": f"{NAME}-token",
        "namespace": NAMESPACE,
        "labels": kube.MANAGED_BY,
        "annotations": {
            "kubernetes.io/service-account.name": NAME,
            "pulumi.com/waitFor": "jsonpath={.data.token}",
        },
    }
    return k8s.core.v1.Secret(
        "cluster-autoscaler-workload-token",
        metadata=token_meta,
        type="kubernetes.io/service-account-token",
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[sa])),
    )


def _ref(kind: str, name: str) -> Any:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def token_kubeconfig(admin: str, token_b64: str | None) -> str:
    """The admin kubeconfig's server and CA with the ServiceAccount's token as its user."""
    doc = yaml.safe_load(admin) or {}
    cluster = dict(((doc.get("clusters") or [{}])[0]).get("cluster") or {})
    token = base64.b64decode(token_b64).decode() if token_b64 else ""
    out = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "workload", "cluster": cluster}],
        "users": [{"name": NAME, "user": {"token": token}}],
        "contexts": [{"name": "workload", "context": {"cluster": "workload", "user": NAME}}],
        "current-context": "workload",
    }
    return yaml.safe_dump(out, sort_keys=False)


def management_secret(
    name: str,
    namespace: str,
    admin: pulumi.Output[str],
    token: k8s.core.v1.Secret,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """`<cluster>-autoscaler-kubeconfig` beside the Cluster, key `value` (the chart mounts
    the Secret's keys at /etc/kubernetes and reads /etc/kubernetes/value)."""
    kubeconfig: pulumi.Output[str] = pulumi.Output.all(admin, token.data).apply(
        lambda a: token_kubeconfig(a[0], (a[1] or {}).get("token"))
    )
    meta: Any = {"name": name, "namespace": namespace, "labels": kube.MANAGED_BY}
    data: Any = {"value": pulumi.Output.secret(kubeconfig)}
    return k8s.core.v1.Secret(
        name,
        metadata=meta,
        type="Opaque",
        string_data=data,
        opts=opts,
    )
