"""RBAC of SecurityBaseline: what a tenant's CI may do, and bindings of IdP groups to
built-in roles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from kernel import kube

CI_DEPLOYER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "statefulsets", "replicasets"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": [""],
        "resources": ["services", "configmaps", "serviceaccounts", "persistentvolumeclaims"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {
        "apiGroups": ["batch"],
        "resources": ["jobs", "cronjobs"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["autoscaling"],
        "resources": ["horizontalpodautoscalers"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["policy"],
        "resources": ["poddisruptionbudgets"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["gateway.networking.k8s.io"],
        "resources": ["httproutes"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
]
"""What a pipeline needs to roll out an app. No secrets (delivered by an external secret
store, not by CI), no roles or bindings (no privilege escalation), no NetworkPolicies."""


def as_input(value: Any) -> Any:
    return value


def role_ref(kind: str, name: str) -> Any:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _subjects(groups: Sequence[str]) -> Any:
    return [{"kind": "Group", "name": g, "apiGroup": "rbac.authorization.k8s.io"} for g in groups]


def role_binding(
    name: str,
    namespace: str,
    role: str,
    groups: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """Bind groups to a built-in ClusterRole inside one namespace."""
    k8s.rbac.v1.RoleBinding(
        name,
        metadata=as_input(
            {"name": f"tenant-{role}", "namespace": namespace, "labels": kube.MANAGED_BY}
        ),
        role_ref=role_ref("ClusterRole", role),
        subjects=_subjects(groups),
        opts=opts,
    )


def cluster_role_binding(
    name: str,
    role: str,
    groups: Sequence[str],
    opts: pulumi.ResourceOptions,
    annotations: Mapping[str, str] | None = None,
) -> None:
    k8s.rbac.v1.ClusterRoleBinding(
        name,
        metadata=as_input(
            {
                "name": f"k8s-platform:{name}",
                "labels": kube.MANAGED_BY,
                "annotations": dict(annotations or {}),
            }
        ),
        role_ref=role_ref("ClusterRole", role),
        subjects=_subjects(groups),
        opts=opts,
    )
