"""Chart values of ObservabilityStack: kube-prometheus-stack (with Grafana), Loki,
Alloy and metrics-server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.observability.alerting import alertmanager_config
from components.observability.names import (
    ALERTMANAGER_NAME,
    ALERTMANAGER_PODS,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_PODS,
    GRAFANA_SIDECAR_ROLE,
    HOSTNAME,
    KPS,
    LOKI,
    OPERATOR_WEBHOOK_PODS,
    PROMETHEUS_NAME,
    PROMETHEUS_PODS,
    RECEIVERS_SECRET,
    ZONE,
    svc_url,
)
from components.observability.settings import ObservabilitySettings
from kernel import kube
from kernel import namespaces as ns
from kernel.config import memory_bytes


def prometheus_byte_size(quantity: str) -> str:
    """`42Gi` -> `42GiB` (Prometheus' ByteSize units)."""
    return quantity + "B"


def spread(replicas: int, zones: bool, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Zone spread for HA workloads; nothing for a single replica."""
    if replicas < 2 or not zones:
        return []
    return [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": dict(labels)},
        }
    ]


def hard_anti_affinity(labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": HOSTNAME}
            ]
        }
    }


def _double(cpu: str) -> str:
    """A CPU limit of twice the request: room for compaction / WAL replay bursts."""
    millis = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    return f"{millis * 2}m"


def _double_memory(quantity: str) -> str:
    return f"{memory_bytes(quantity) * 2 // 2**20}Mi"


def _operator_webhooks(
    internal_issuer: pulumi.Input[str] | None, ha: bool, zones: bool
) -> tuple[dict[str, Any], bool]:
    """The operator's admission webhooks and TLS: on only with a cert-manager issuer.

    With `ha`, the webhooks (failurePolicy Fail) are served by the chart's standalone
    admission-webhook Deployment, 2 replicas with a PDB over zones: the operator itself
    cannot run more than one replica (no leader election: prometheus-operator issue
    #2491; the chart hard-codes `replicas: 1`, prometheus-community/helm-charts#3836),
    and a single pod serving a Fail webhook blocks every PrometheusRule while it moves.
    """
    if internal_issuer is not None:
        # Chart v4 drops the hook Jobs that would create the webhook certificate:
        # cert-manager issues it instead, from the platform CA ClusterIssuer.
        webhooks: dict[str, Any] = {
            "enabled": True,
            "patch": {"enabled": False},
            "certManager": {
                "enabled": True,
                "issuerRef": {"name": internal_issuer, "kind": "ClusterIssuer"},
            },
        }
        if ha:
            webhooks["deployment"] = _webhook_deployment(zones)
        operator_tls = True
    else:
        # No cert-manager: the hook Jobs cannot run under Chart v4, so validation
        # webhooks and the operator's TLS listener (which needs their Secret) are off.
        # Bad PrometheusRules are then reported by the operator, not rejected at apply.
        webhooks = {"enabled": False, "patch": {"enabled": False}}
        operator_tls = False
    return webhooks, operator_tls


def _control_plane_scrapes(
    control_plane_metrics: bool, webhook_deployment: str | None
) -> dict[str, Any]:
    """Scrape, and alert on, only the control-plane components we can actually reach.
    kube-proxy serves metrics on 127.0.0.1:10249 (its --metrics-bind-address default,
    kube-proxy reference docs); kubeadm (prod) and kind (dev) keep that default, so its
    target would read as down forever: not scraped, no kube-proxy alerts."""
    # The chart's own PrometheusRules pass the operator's Fail webhook, served by a
    # Deployment of the same chart: pulumi-kubernetes orders objects inside a Chart by the
    # `config.kubernetes.io/depends-on` annotation (yaml/v2 resource ordering,
    # pulumi-kubernetes#2894), so they wait until that Deployment is ready.
    wait = (
        {
            "config.kubernetes.io/depends-on": f"apps/namespaces/{ns.MONITORING}/Deployment/"
            f"{webhook_deployment}"
        }
        if webhook_deployment
        else {}
    )
    return {
        "defaultRules": {
            "create": True,
            "annotations": wait,
            "rules": {
                "etcd": control_plane_metrics,
                "kubeControllerManager": control_plane_metrics,
                "kubeSchedulerAlerting": control_plane_metrics,
                "kubeSchedulerRecording": control_plane_metrics,
                "kubeProxy": False,
            },
        },
        "kubeEtcd": {"enabled": control_plane_metrics},
        "kubeScheduler": {"enabled": control_plane_metrics},
        "kubeControllerManager": {"enabled": control_plane_metrics},
        "kubeProxy": {"enabled": False},
    }


def _webhook_deployment(zones: bool) -> dict[str, Any]:
    topology = ZONE if zones else HOSTNAME
    return {
        "enabled": True,
        "replicas": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        # The chart's webhook Deployment takes affinity, not topologySpreadConstraints.
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "topologyKey": topology,
                        "labelSelector": {"matchLabels": dict(OPERATOR_WEBHOOK_PODS)},
                    }
                ]
            }
        },
        "resources": kube.resources("10m", "32Mi", cpu_limit="100m", memory_limit="64Mi"),
    }


def webhook_server(webhooks: dict[str, Any]) -> str | None:
    """The Deployment that serves the operator's admission webhooks, if they are on."""
    if not webhooks.get("enabled"):
        return None
    return f"{KPS}-operator-webhook" if "deployment" in webhooks else f"{KPS}-operator"


def kps_values(
    s: ObservabilitySettings,
    *,
    control_plane_metrics: bool,
    internal_issuer: pulumi.Input[str] | None,
    storage_class: pulumi.Input[str],
    node_exporter_namespace: pulumi.Input[str],
    logging_namespace: pulumi.Input[str],
) -> dict[str, Any]:
    """kube-prometheus-stack: Prometheus, Alertmanager, Grafana and the exporters."""
    p = s.prometheus
    webhooks, operator_tls = _operator_webhooks(internal_issuer, p.replicas > 1, s.zone_spread)
    open_selectors = {
        f"{kind}SelectorNilUsesHelmValues": False
        for kind in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig")
    }
    prom_labels = {**PROMETHEUS_PODS, "operator.prometheus.io/name": PROMETHEUS_NAME}
    return {
        "fullnameOverride": KPS,
        # CRDs come from the prometheus-operator-crds chart (upgraded by Pulumi).
        "crds": {"enabled": False},
        **_control_plane_scrapes(control_plane_metrics, webhook_server(webhooks)),
        "prometheusOperator": {
            "admissionWebhooks": webhooks,
            "tls": {"enabled": operator_tls},
            "resources": kube.resources("50m", "64Mi", cpu_limit="200m", memory_limit="256Mi"),
            # Sidecar injected into every Prometheus and Alertmanager pod.
            "prometheusConfigReloader": {
                "resources": kube.resources("10m", "32Mi", cpu_limit="100m", memory_limit="64Mi")
            },
        },
        "prometheus": {
            "podDisruptionBudget": {"enabled": p.replicas > 1, "minAvailable": 1},
            "prometheusSpec": {
                "replicas": p.replicas,
                "externalLabels": {"cluster": s.cluster_name},
                "podAntiAffinity": "hard" if p.replicas > 1 else "",
                "podAntiAffinityTopologyKey": HOSTNAME,
                "topologySpreadConstraints": spread(p.replicas, s.zone_spread, prom_labels),
                "retention": p.retention,
                "retentionSize": prometheus_byte_size(p.retention_size),
                "walCompression": True,
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": storage_class,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": p.volume_size}},
                        }
                    }
                },
                "resources": kube.resources(p.cpu, p.memory, cpu_limit=_double(p.cpu)),
                **open_selectors,
            },
        },
        "alertmanager": _alertmanager_values(s),
        "grafana": grafana_values(s, logging_namespace),
        "kube-state-metrics": {
            "resources": kube.resources("20m", "64Mi", cpu_limit="200m", memory_limit="256Mi"),
        },
        "prometheus-node-exporter": {
            # hostNetwork/hostPID/hostPath: lives in the privileged node-exporter namespace.
            "namespaceOverride": node_exporter_namespace,
            # It reads /proc, /sys and / through read-only mounts as nobody (65534): it needs
            # no capability, no escalation, and runs under the runtime's seccomp profile.
            "containerSecurityContext": {
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "resources": kube.resources("20m", "32Mi", cpu_limit="200m", memory_limit="64Mi"),
        },
    }


def _alertmanager_values(s: ObservabilitySettings) -> dict[str, Any]:
    am = s.alerting
    am_labels = {**ALERTMANAGER_PODS, "alertmanager": ALERTMANAGER_NAME}
    return {
        "podDisruptionBudget": {"enabled": am.replicas > 1, "minAvailable": 1},
        "config": alertmanager_config(am),
        "alertmanagerSpec": {
            "replicas": am.replicas,
            "podAntiAffinity": "hard" if am.replicas > 1 else "",
            "podAntiAffinityTopologyKey": HOSTNAME,
            "topologySpreadConstraints": spread(am.replicas, s.zone_spread, am_labels),
            # Mounted at /etc/alertmanager/secrets/<name>/ for the *_file fields.
            "secrets": [RECEIVERS_SECRET],
            "resources": kube.resources("20m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
        },
    }


def grafana_values(
    s: ObservabilitySettings, logging_namespace: pulumi.Input[str]
) -> dict[str, Any]:
    """One replica, provisioned with datasources and dashboards from ConfigMaps, on a
    throw-away SQLite. Lost on restart: UI-made dashboards (disabled), users other than
    admin, preferences, annotations, API tokens, login sessions (docs/observability.md
    explains the choice and the external-database path to more replicas).
    """
    n = s.grafana_replicas
    sidecar_resources = kube.resources("10m", "64Mi", cpu_limit="100m", memory_limit="128Mi")
    return {
        "replicas": n,
        "admin": {
            "existingSecret": GRAFANA_ADMIN_SECRET,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        },
        "persistence": {"enabled": False},
        # Runs as root to chown a volume; useless without persistence, blocked by PSA.
        "initChownData": {"enabled": False},
        # Helm test pods are hooks: Chart v4 never runs them.
        "testFramework": {"enabled": False},
        "podDisruptionBudget": {"minAvailable": 1} if n > 1 else {},
        "affinity": hard_anti_affinity(GRAFANA_PODS) if n > 1 else {},
        "topologySpreadConstraints": spread(n, s.zone_spread, GRAFANA_PODS),
        "resources": kube.resources("100m", "192Mi", cpu_limit="500m", memory_limit="384Mi"),
        "grafana.ini": {
            # Alerting is Prometheus + Alertmanager; Grafana-managed alerts would be
            # evaluated once per replica without a shared database.
            "unified_alerting": {"enabled": False},
            "analytics": {"reporting_enabled": False, "check_for_updates": False},
            "users": {"allow_sign_up": False},
        },
        # Dashboards and datasources are ConfigMaps in Grafana's own namespace (ours and the
        # chart's): the sidecars watch only it, bound to our ConfigMap-only Role (rbac.py)
        # instead of a ClusterRole that lets an internet-facing pod read every Secret.
        "rbac": {"namespaced": True, "useExistingRole": GRAFANA_SIDECAR_ROLE},
        "sidecar": {
            "resources": sidecar_resources,
            # k8s-sidecar writes only into its mounted folder.
            "securityContext": {
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "dashboards": {
                "enabled": True,
                "label": "grafana_dashboard",
                "labelValue": "1",
                "resource": "configmap",
            },
            "datasources": {
                "resource": "configmap",
                "enabled": True,
                "defaultDatasourceEnabled": True,
                "uid": "prometheus",
                "alertmanager": {"enabled": True, "uid": "alertmanager"},
            },
        },
        # Loki has no secret (single tenant, in-cluster): plain provisioning is enough.
        "additionalDataSources": [
            {
                "name": "Loki",
                "type": "loki",
                "uid": "loki",
                "access": "proxy",
                "url": svc_url(f"{LOKI}-gateway", logging_namespace, 80),
                "jsonData": {"maxLines": 1000},
            }
        ],
    }
