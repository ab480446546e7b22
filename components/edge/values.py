"""Chart values of EdgeGateway (gateway-helm) and the EnvoyProxy data-plane spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.edge.settings import DEV_NODE_PORTS, EdgeSettings
from kernel import kube

GATEWAY_CLASS = "envoy-gateway"
GATEWAY_NAME = "platform"
ENVOY_PROXY_NAME = "platform-proxy"
TLS_SECRET = "platform-gateway-tls"

ALLOW_LOAD_BALANCER = "k8s-platform/allow-load-balancer"
"""The policy pack rejects LoadBalancer Services unless they carry this, with a reason."""
LOAD_BALANCER_REASON = "shared platform Gateway: the single public HTTPS entry point"

ENVOY_POD_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
CONTROLLER_POD_LABELS = {"control-plane": "envoy-gateway"}
ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"


def chart_values(s: EdgeSettings, cluster_domain: str) -> dict[str, Any]:
    """gateway-helm v1.9.0 values (keys checked against the chart's values.yaml)."""
    ha = s.controller_replicas > 1
    return {
        "crds": {"enabled": True, "gatewayAPI": {"safeUpgradePolicy": {"enabled": False}}},
        # Hook-only; see the docstring of component.py.
        "topologyInjector": {"enabled": False},
        "kubernetesClusterDomain": cluster_domain,
        "deployment": {
            "replicas": s.controller_replicas,
            "envoyGateway": {
                "resources": kube.resources("100m", "256Mi", cpu_limit="500m", memory_limit="1Gi")
            },
            "pod": {
                "topologySpreadConstraints": spread(CONTROLLER_POD_LABELS) if ha else [],
            },
        },
        # The chart only renders the PDB when minAvailable >= 1.
        "podDisruptionBudget": {"minAvailable": 1 if ha else 0},
        "config": {
            "envoyGateway": {
                "gateway": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
                "provider": {"type": "Kubernetes"},
                "logging": {"level": {"default": "info"}},
            }
        },
    }


def spread(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Hard spread over zones (a zone outage keeps the rest), soft over nodes."""
    selector = {"matchLabels": dict(labels)}
    return [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": selector,
        },
        {
            "maxSkew": 1,
            "topologyKey": HOSTNAME,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
        },
    ]


def envoy_proxy_spec(s: EdgeSettings) -> dict[str, Any]:
    """EnvoyProxy (gateway.envoyproxy.io/v1alpha1): data-plane Deployment, PDB, Service."""
    ha = s.replicas > 1
    pod_labels = {**ENVOY_POD_LABELS, "gateway.envoyproxy.io/owning-gateway-name": GATEWAY_NAME}
    service: dict[str, Any] = {"type": s.service_type, "annotations": dict(s.service_annotations)}
    if s.service_type == "LoadBalancer":
        service["annotations"][ALLOW_LOAD_BALANCER] = LOAD_BALANCER_REASON
        # Local keeps the client IP and skips a second hop; the cloud LB health-checks nodes.
        service["externalTrafficPolicy"] = "Local"
        if s.load_balancer_source_ranges:
            service["loadBalancerSourceRanges"] = list(s.load_balancer_source_ranges)
    else:
        # kind forwards host ports to one node; Cluster lets that node reach any envoy pod.
        service["externalTrafficPolicy"] = "Cluster"
        service["patch"] = {
            "type": "StrategicMerge",
            "value": {
                "spec": {
                    "ports": [
                        {"port": port, "nodePort": node_port}
                        for port, node_port in DEV_NODE_PORTS.items()
                    ]
                }
            },
        }
    kubernetes: dict[str, Any] = {
        "envoyDeployment": {
            "replicas": s.replicas,
            "container": {
                "resources": kube.resources("100m", "128Mi", cpu_limit="1", memory_limit="512Mi")
            },
            "pod": {"topologySpreadConstraints": spread(pod_labels) if ha else []},
            # The shutdown-manager sidecar has no resources field of its own here.
            "patch": {
                "type": "StrategicMerge",
                "value": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "shutdown-manager",
                                        "resources": kube.resources(
                                            "10m", "32Mi", cpu_limit="100m", memory_limit="64Mi"
                                        ),
                                    }
                                ]
                            }
                        }
                    }
                },
            },
        },
        "envoyService": service,
    }
    if ha:
        kubernetes["envoyPDB"] = {"minAvailable": 1}
    return {"provider": {"type": "Kubernetes", "kubernetes": kubernetes}}
