"""An admission request for CREATE of one object, and the matching helpers shared
by ValidatingAdmissionPolicy, Kyverno ValidatingPolicy and Kyverno ClusterPolicy."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

# Kinds whose plural is not "lowercase + s" (the API server's RESTMapper rules:
# y -> ies, s/x/ch/sh -> es, plus the irregular core ones).
_IRREGULAR = {"Endpoints": "endpoints", "PodSecurityPolicy": "podsecuritypolicies"}

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


def plural(kind: str) -> str:
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in tuple("aeiou"):
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


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
    groups: tuple[str, ...] = field(default=("system:serviceaccounts", "system:authenticated"))

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind"))

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.obj.get("metadata") or {}).get("labels") or {})

    @property
    def gvr(self) -> tuple[str, str, str]:
        g, v = group_version(str(self.obj.get("apiVersion", "")))
        return g, v, plural(self.kind)

    def cel_request(self) -> Obj:
        g, v, r = self.gvr
        md = self.obj.get("metadata") or {}
        return {
            "uid": "00000000-0000-0000-0000-000000000000",
            "kind": {"group": g, "version": v, "kind": self.kind},
            "resource": {"group": g, "version": v, "resource": r},
            "requestKind": {"group": g, "version": v, "kind": self.kind},
            "requestResource": {"group": g, "version": v, "resource": r},
            "name": md.get("name", ""),
            "namespace": self.namespace,
            "operation": self.operation,
            "userInfo": {"username": self.username, "groups": list(self.groups)},
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        }


def rule_matches(rule: Obj, req: Request) -> bool:
    """NamedRuleWithOperations against the request (no subresources here)."""
    g, v, r = req.gvr

    def hit(values: list[str] | None, value: str) -> bool:
        return bool(values) and ("*" in (values or []) or value in (values or []))

    if not (hit(rule.get("operations"), req.operation) or "*" in (rule.get("operations") or [])):
        return False
    if not (hit(rule.get("apiGroups"), g) and hit(rule.get("apiVersions"), v)):
        return False
    resources = rule.get("resources") or []
    if not ("*" in resources or r in resources or "*/*" in resources):
        return False
    names = rule.get("resourceNames") or []
    if names and (req.obj.get("metadata") or {}).get("name") not in names:
        return False
    scope = rule.get("scope", "*")
    cluster = req.kind in CLUSTER_SCOPED
    return bool(scope == "*" or (scope == "Cluster") == cluster)


def match_resources(mr: Obj | None, req: Request) -> bool:
    """admissionregistration MatchResources, as the API server applies it."""
    if not mr:
        return True
    if req.kind == "Namespace":
        ns_labels = req.labels
    elif req.namespace_obj is not None:
        ns_labels = dict((req.namespace_obj.get("metadata") or {}).get("labels") or {})
    else:
        ns_labels = None  # cluster-scoped: namespaceSelector does not apply
    if ns_labels is not None and not labels_match(mr.get("namespaceSelector"), ns_labels):
        return False
    if not labels_match(mr.get("objectSelector"), req.labels):
        return False
    rules = mr.get("resourceRules")
    if rules is not None and not any(rule_matches(r, req) for r in rules):
        return False
    return not any(rule_matches(r, req) for r in mr.get("excludeResourceRules") or [])


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
