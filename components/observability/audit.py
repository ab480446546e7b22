"""The API server's audit log, shipped to Loki from every control-plane node.

kube-apiserver writes it to a hostPath on its own node (HAControlPlane's
`--audit-log-path`), which a control-plane rollout replaces: without shipping, the log
is gone with the machine. A second Alloy release (chart `alloy`, DaemonSet) runs only on
control-plane nodes, tails that file through a read-only hostPath mount of its directory
and pushes to Loki's gateway like the pod-log pipeline. The file is root-only (0600), so
Alloy runs as UID 0, with no capabilities, no API token and a read-only root filesystem,
in its own privileged namespace (kernel/namespaces.py says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.observability.names import LOKI, LOKI_GATEWAY_PODS, svc_url
from kernel import data, kube
from kernel.catalogue import chart
from kernel.contracts import ApiServerAuditLog
from kernel.namespaces import APISERVER_AUDIT

RELEASE = "alloy-audit"
JOB = "kube-apiserver-audit"
"""The `job` label of the audit stream in Loki."""
PODS = {"app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": RELEASE}
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
STORAGE = "/tmp/alloy"  # the chart's alloy.storagePath: positions survive a container restart


def audit_config(cluster: str, push_url: str, log: ApiServerAuditLog) -> str:
    text = data.text(__file__, "alloy-audit.alloy")
    return (
        text.replace("AUDIT_LOG", log.path)
        .replace("CLUSTER", cluster)
        .replace("PUSH_URL", push_url)
        .replace("kube-apiserver-audit", JOB)
    )


def audit_values(
    cluster: str, log: ApiServerAuditLog, logging_namespace: pulumi.Input[str]
) -> dict[str, Any]:
    push = svc_url(f"{LOKI}-gateway", logging_namespace, 80, "/loki/api/v1/push")
    return {
        "crds": {"create": False},
        # No Kubernetes component in the config: no RBAC, no token.
        "rbac": {"create": False},
        "serviceAccount": {"automountServiceAccountToken": False},
        "controller": {
            "type": "daemonset",
            "nodeSelector": {CONTROL_PLANE: ""},
            "tolerations": [{"key": CONTROL_PLANE, "operator": "Exists", "effect": "NoSchedule"}],
            "volumes": {
                "extra": [
                    {"name": "audit-log", "hostPath": {"path": log.directory, "type": "Directory"}},
                    {"name": "storage", "emptyDir": {}},
                ]
            },
        },
        "alloy": {
            "configMap": {
                "create": True,
                "content": push.apply(lambda url: audit_config(cluster, url, log)),
            },
            "mounts": {
                "varlog": False,
                "dockercontainers": False,
                "extra": [
                    {"name": "audit-log", "mountPath": log.directory, "readOnly": True},
                    {"name": "storage", "mountPath": STORAGE},
                ],
            },
            "storagePath": STORAGE,
            "enableReporting": False,
            "resources": kube.resources("20m", "64Mi", cpu_limit="500m", memory_limit="256Mi"),
            # Root only to open the 0600 file it owns as root; nothing else.
            "securityContext": {
                "runAsUser": 0,
                "runAsGroup": 0,
                "runAsNonRoot": False,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "global": {"podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
        "configReloader": {
            "resources": kube.resources("10m", "32Mi", cpu_limit="50m", memory_limit="64Mi")
        },
        "serviceMonitor": {"enabled": True},
    }


def ship(
    log: ApiServerAuditLog,
    cluster: str,
    namespaces: Mapping[str, pulumi.Input[str]],
    logging_namespace: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """The audit shipper and the two allows it needs: its egress to the Loki gateway and
    the gateway's ingress from it (both namespaces start closed)."""
    namespace = namespaces[APISERVER_AUDIT]
    kube.helm_chart(
        RELEASE, chart("alloy"), namespace, audit_values(cluster, log, logging_namespace), opts
    )
    kube.network_policy(
        "audit-to-loki",
        namespace,
        opts,
        pod_selector=PODS,
        egress_to=[kube.namespace_peer(logging_namespace, LOKI_GATEWAY_PODS)],
        egress_ports=kube.tcp(8080),
        resource_name="observability-audit-to-loki",
    )
    kube.network_policy(
        "loki-gateway-from-audit",
        logging_namespace,
        opts,
        pod_selector=LOKI_GATEWAY_PODS,
        ingress_from=[kube.namespace_peer(namespace, PODS)],
        ingress_ports=kube.tcp(8080),
        resource_name="observability-loki-gateway-from-audit",
    )
