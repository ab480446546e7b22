"""Release, Service, Secret and pod-label names ObservabilityStack's modules share."""

from __future__ import annotations

import pulumi

from kernel import kube

# Release names (Chart v4 uses the resource name). `fullnameOverride: kps` keeps object
# names short: kps-prometheus, kps-alertmanager, kps-grafana.
KPS = "kps"
PROMETHEUS_NAME = f"{KPS}-prometheus"
ALERTMANAGER_NAME = f"{KPS}-alertmanager"
GRAFANA_SERVICE = f"{KPS}-grafana"
GRAFANA_PORT = 80
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_SIDECAR_ROLE = "grafana-sidecar"
RECEIVERS_SECRET = "alertmanager-receivers"
RECEIVERS_MOUNT = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"
LOKI = "loki"
LOKI_CREDENTIALS_SECRET = "loki-object-store"
ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"

# Pod labels the operator / charts put on their pods (used by spread rules and policies).
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
ALERTMANAGER_PODS = {"app.kubernetes.io/name": "alertmanager"}
GRAFANA_PODS = {"app.kubernetes.io/name": "grafana"}
LOKI_PODS = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "single-binary"}
LOKI_GATEWAY_PODS = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "gateway"}
METRICS_SERVER_PODS = {"app.kubernetes.io/name": "metrics-server"}
OPERATOR_PODS = {"app": "kube-prometheus-stack-operator"}
OPERATOR_WEBHOOK_PODS = {"app": "kube-prometheus-stack-operator-webhook"}

API_SERVER_PORTS = kube.tcp(443, 6443)


def svc_url(
    name: str, namespace: pulumi.Input[str], port: int, path: str = ""
) -> pulumi.Output[str]:
    suffix = "" if port == 80 else f":{port}"
    return pulumi.Output.concat("http://", name, ".", namespace, ".svc.cluster.local", suffix, path)
