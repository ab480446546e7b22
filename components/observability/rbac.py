"""Grafana's sidecar Role: ConfigMaps only, in Grafana's namespace.

The grafana chart's own Role (rbac.namespaced) grants get/list/watch on ConfigMaps *and*
Secrets (templates/role.yaml); the sidecars here read ConfigMaps only (`resource:
configmap`), so an internet-facing pod gets no Secret read. The chart binds its
ServiceAccount to this Role through rbac.useExistingRole.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.observability.names import GRAFANA_SIDECAR_ROLE
from kernel import kube

RULES: Any = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]


def grafana_sidecar_role(
    namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> k8s.rbac.v1.Role:
    return k8s.rbac.v1.Role(
        "grafana-sidecar",
        metadata={"name": GRAFANA_SIDECAR_ROLE, "namespace": namespace, "labels": kube.MANAGED_BY},
        rules=RULES,
        opts=opts,
    )
