"""Chart values of HAControlPlane's capi mode: Cilium and the cluster-autoscaler."""

from __future__ import annotations

from typing import Any

from components.control_plane.cni_settings import CniSettings
from components.control_plane.settings import CapiSettings
from kernel import compat, kube

RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def autoscaler_kubeconfig_secret(cluster: str) -> str:
    return f"{cluster}-autoscaler-kubeconfig"


def autoscaler_values(cluster: str, c: CapiSettings, kubernetes_version: str) -> dict[str, Any]:
    """cluster-autoscaler 9.59.0 values (kubernetes/autoscaler
    cluster-autoscaler/charts/cluster-autoscaler/values.yaml at that tag)."""
    ha = c.autoscaler_replicas > 1
    return {
        # The release for the cluster's minor (upstream: one autoscaler minor per Kubernetes
        # minor), not the chart's appVersion.
        "image": {"tag": compat.image_tag("cluster-autoscaler", kubernetes_version)},
        "cloudProvider": "clusterapi",
        "clusterAPIMode": "kubeconfig-incluster",
        # A ServiceAccount token of the workload cluster (autoscaler_access), not CAPI's
        # admin certificate in <cluster>-kubeconfig.
        "clusterAPIKubeconfigSecret": autoscaler_kubeconfig_secret(cluster),
        # Leader election and status ConfigMaps live on the workload cluster.
        "clusterAPIConfigMapsNamespace": "kube-system",
        "autoDiscovery": {"clusterName": cluster, "namespace": c.namespace},
        "fullnameOverride": f"{cluster}-cluster-autoscaler",
        "rbac": {"clusterScoped": False},
        "replicaCount": c.autoscaler_replicas,
        "podDisruptionBudget": {"maxUnavailable": 1} if ha else {},
        "extraArgs": {
            "logtostderr": True,
            "stderrthreshold": "info",
            "v": 2,
            "leader-elect": ha,
            # MachineDeployments per zone are the same shape: keep the zones even.
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            "max-node-provision-time": "15m0s",
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {
                    "matchLabels": {"app.kubernetes.io/name": "clusterapi-cluster-autoscaler"}
                },
            }
            # Soft, so a single-zone management cluster still schedules both replicas.
            for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
        ],
        "resources": kube.resources("100m", "300Mi", memory_limit="600Mi"),
        "securityContext": RESTRICTED_POD,
        "containerSecurityContext": RESTRICTED_CONTAINER,
        # The management cluster may run no prometheus-operator: no CRD, no ServiceMonitor.
        "serviceMonitor": {"enabled": False},
        "prometheusRule": {"enabled": False},
    }


CILIUM_SECRETS = "cilium-secrets"
"""The namespace the chart creates for TLS-interception Secrets; it runs no pods."""


def cilium_values(cni: CniSettings, pod_security_version: str) -> dict[str, Any]:
    """Cilium 1.20.0 values (checked against the chart's values.yaml): the same in every
    stack, only sized for a laptop in dev, so policies that pass in dev pass in prod."""
    replicas = cni.operator_replicas
    laptop = cni.small
    agent = (
        kube.resources("25m", "160Mi", cpu_limit="1", memory_limit="1Gi")
        if laptop
        else kube.resources("100m", "512Mi", cpu_limit="1", memory_limit="1Gi")
    )
    return {
        # kube-proxy stays (kubeadm and kind install it): kube-proxy replacement needs the
        # API endpoint in k8sServiceHost and, on kind, cgroup v2 with a private cgroupns.
        "kubeProxyReplacement": "false",
        # Pod CIDRs from the cluster (kube-controller-manager allocates them); the
        # default cluster-pool 10.0.0.0/8 would overlap the VPC.
        "ipam": {"mode": "kubernetes"},
        "policyEnforcementMode": "default",
        # No Cilium Ingress or Gateway here (Envoy Gateway serves the edge): the TLS Secret
        # sync they need would let the operator read Secrets in every namespace
        # (templates/cilium-operator/clusterrole.yaml, default on since 1.17).
        "tls": {
            "secretSync": {"enabled": False},
            "secretsNamespace": {"create": True, "name": CILIUM_SECRETS},
        },
        # The chart's namespace gets the labels every namespace has (the component adds
        # its default-deny NetworkPolicy).
        "secretsNamespaceLabels": kube.pod_security_labels("restricted", pod_security_version),
        # The agent's init containers (mount-cgroup, config, ...) have no chart default.
        "initResources": kube.resources("10m", "32Mi", cpu_limit="1", memory_limit="256Mi"),
        # policyCIDRMatchMode stays unset: an ipBlock means "outside the cluster"; nodes and
        # the API server are reached through entities (kernel/network.py).
        "operator": {
            "replicas": replicas,
            "podDisruptionBudget": {"enabled": replicas > 1},
            # The chart's default anti-affinity is per node; spread the replicas over zones.
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"io.cilium/app": "operator"}},
                }
            ],
            "resources": kube.resources(
                "10m" if laptop else "100m", "64Mi" if laptop else "128Mi", memory_limit="512Mi"
            ),
            "prometheus": {"enabled": True, "serviceMonitor": {"enabled": False}},
        },
        "resources": agent,
        # The standalone L7 proxy DaemonSet (chart default for new installs): on in every
        # stack, with requests so it is counted.
        "envoy": {
            "enabled": True,
            "resources": kube.resources(
                "10m" if laptop else "50m",
                "48Mi" if laptop else "128Mi",
                cpu_limit="1",
                memory_limit="512Mi",
            ),
        },
        "prometheus": {"enabled": True, "serviceMonitor": {"enabled": False}},
        "hubble": {
            "enabled": True,
            "metrics": {
                "enabled": ["dns", "drop", "tcp", "flow", "icmp", "http"],
                # No ServiceMonitor: its CRD arrives later with the observability stack
                # and is not guaranteed to exist when the CNI is installed.
                "serviceMonitor": {"enabled": False},
            },
            "relay": {"enabled": False},
            "ui": {"enabled": False},
        },
    }
