"""An admission request for CREATE of one object, and the helpers Kyverno ClusterPolicy
matching needs."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

# Pod controllers and where their pod template lives (Kyverno autogen set:
# DaemonSet, Deployment, Job, StatefulSet, ReplicaSet, ReplicationController, CronJob).
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "CSIDriver",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "IngressClass",
        "RuntimeClass",
        "VolumeSnapshotClass",
        "ClusterPolicy",
        "ValidatingPolicy",
        "GatewayClass",
        "ClusterIssuer",
        "VolumeAttachment",
        "CSINode",
        "ClusterPolicyReport",
        "ClusterEphemeralReport",
    }
)


def group_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        g, v = api_version.split("/", 1)
        return g, v
    return "", api_version


def ref(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{md.get('name')}"


def labels_match(selector: Any, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {op!r}")
    return True


@dataclass(frozen=True)
class Request:
    """CREATE of `obj`; `namespace_obj` is its Namespace (None if cluster-scoped)."""

    obj: Obj
    namespace_obj: Obj | None
    operation: str = "CREATE"
    username: str = "system:serviceaccount:kube-system:pulumi"

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind"))

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.obj.get("metadata") or {}).get("labels") or {})


def pod_template(obj: Obj) -> Obj | None:
    path = TEMPLATE_PATHS.get(str(obj.get("kind")))
    node: Any = obj
    for key in path or ():
        node = node.get(key) if isinstance(node, dict) else None
    return node if path and isinstance(node, dict) else None


def pod_from_controller(obj: Obj) -> Obj | None:
    """The Pod a controller would create: template metadata + spec, controller's namespace.
    Job pods get the labels the Job controller adds (batch.kubernetes.io/job-name ...)."""
    tpl = pod_template(obj)
    if tpl is None:
        return None
    md = copy.deepcopy(tpl.get("metadata") or {})
    owner = obj.get("metadata") or {}
    md["namespace"] = owner.get("namespace")
    md["name"] = f"{owner.get('name')}-pod"
    if obj.get("kind") in ("Job", "CronJob"):
        labels = dict(md.get("labels") or {})
        labels.setdefault("batch.kubernetes.io/job-name", str(owner.get("name")))
        labels.setdefault("job-name", str(owner.get("name")))
        md["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": copy.deepcopy(tpl.get("spec") or {}),
    }
