"""ObservabilityStack: metrics, alerts, logs and dashboards.

Metrics: prometheus-operator CRDs (own chart, so CRD upgrades are applied), metrics-server,
kube-prometheus-stack (Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter).
Logs: Loki (grafana-community chart) fed by a Grafana Alloy DaemonSet.
Every value written below was checked against the upstream values.yaml of the pinned chart
(see docs/observability.md "Chart values").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from kernel import kube
from kernel import namespaces as ns
from kernel.catalogue import chart
from kernel.config import memory_bytes
from kernel.contracts import BackupMonitoring, ObjectStoreInfo, ServiceRef

TYPE_TOKEN = "k8splatform:observability:ObservabilityStack"

# Release names (Chart v4 uses the resource name). `fullnameOverride: kps` keeps object
# names short: kps-prometheus, kps-alertmanager, kps-grafana.
KPS = "kps"
PROMETHEUS_NAME = f"{KPS}-prometheus"
ALERTMANAGER_NAME = f"{KPS}-alertmanager"
GRAFANA_SERVICE = f"{KPS}-grafana"
GRAFANA_PORT = 80
GRAFANA_ADMIN_SECRET = "grafana-admin"
RECEIVERS_SECRET = "alertmanager-receivers"
RECEIVERS_MOUNT = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"
LOKI = "loki"
LOKI_CREDENTIALS_SECRET = "loki-object-store"
ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"
SEVERITIES = ("critical", "warning", "info")
RECEIVER_TYPES = ("slack", "pagerduty", "email", "webhook")
ETCD_SNAPSHOT_CRONJOB = "etcd-snapshot"
"""Metric contract with PersistenceLayer: the etcd backup CronJob in capi mode has this name."""

# Pod labels the operator / charts put on their pods (used by spread rules and policies).
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
ALERTMANAGER_PODS = {"app.kubernetes.io/name": "alertmanager"}
GRAFANA_PODS = {"app.kubernetes.io/name": "grafana"}
LOKI_PODS = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "single-binary"}
LOKI_GATEWAY_PODS = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "gateway"}
ALLOY_PODS = {"app.kubernetes.io/name": "alloy"}
METRICS_SERVER_PODS = {"app.kubernetes.io/name": "metrics-server"}
OPERATOR_PODS = {"app": "kube-prometheus-stack-operator"}

# Node and API-server addresses are not known here and hostNetwork pods have no pod
# selector, so traffic to them is allowed by port to any address.
ANYWHERE = kube.cidr_peer("0.0.0.0/0")
API_SERVER_PORTS = kube.tcp(443, 6443)


class SecretValue(Protocol):
    """A credential from settings (`settings.Secret`): name + Pulumi-secret value."""

    key: str

    def output(self) -> pulumi.Output[str]: ...


@dataclass(frozen=True)
class Receiver:
    """One Alertmanager receiver. `secret` holds the URL / routing key / SMTP password."""

    name: str
    type: str
    secret: SecretValue
    severities: tuple[str, ...] = ("critical", "warning")
    slack_channel: str | None = None
    email_to: str | None = None
    email_from: str | None = None
    smarthost: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class PrometheusSettings:
    replicas: int
    retention: str
    retention_size: str
    """Kubernetes quantity (`42Gi`); written as Prometheus' `42GiB`."""
    volume_size: str
    cpu: str
    memory: str


@dataclass(frozen=True)
class AlertingSettings:
    replicas: int
    receivers: tuple[Receiver, ...] = ()
    dead_mans_switch: SecretValue | None = None
    """Webhook URL that must receive the always-firing Watchdog alert."""


@dataclass(frozen=True)
class LokiObjectStore:
    """Where Loki keeps chunks and index (S3 API).

    Built from `observability.loki.objectStore` or PersistenceLayer's ObjectStoreInfo.
    The credentials Secret lives in the logging namespace with keys AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY. No Secret name = the AWS default chain (EKS Pod Identity,
    IRSA through `role_arn`, instance profile).
    """

    bucket: pulumi.Input[str]
    region: pulumi.Input[str]
    endpoint: pulumi.Input[str] | None = None
    credentials_secret_name: pulumi.Input[str] | None = None
    insecure: bool = False
    role_arn: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class LokiObjectStoreSettings:
    """`observability.loki.objectStore`: a bucket for Loki chosen in config (wins over Args)."""

    bucket: str
    region: str
    endpoint: str | None = None
    insecure: bool = False
    role_arn: str | None = None
    access_key_id: SecretValue | None = None
    secret_access_key: SecretValue | None = None


@dataclass(frozen=True)
class LokiSettings:
    replicas: int
    replication_factor: int
    retention: str
    volume_size: str
    cpu: str
    memory: str
    caches: bool
    chunks_cache_mb: int
    object_store: LokiObjectStoreSettings | None = None


@dataclass(frozen=True)
class ObservabilitySettings:
    metrics_server_replicas: int
    kubelet_insecure_tls: bool = False
    cluster_name: str = "dev"
    zone_spread: bool = False
    """Spread HA replicas over zones (DoNotSchedule: nodes must carry the zone label)."""
    prometheus: PrometheusSettings = field(
        default_factory=lambda: PrometheusSettings(1, "2d", "4Gi", "5Gi", "200m", "512Mi")
    )
    alerting: AlertingSettings = field(default_factory=lambda: AlertingSettings(1))
    grafana_replicas: int = 1
    loki: LokiSettings = field(
        default_factory=lambda: LokiSettings(1, 1, "72h", "5Gi", "100m", "256Mi", False, 512)
    )


@dataclass(frozen=True)
class ObservabilityStackArgs:
    settings: ObservabilitySettings
    provider: k8s.Provider
    namespaces: Mapping[str, pulumi.Input[str]]
    """`monitoring`, `logging` and `node-exporter` (SecurityBaseline creates them)."""
    storage_class: pulumi.Input[str]
    internal_issuer: pulumi.Input[str] | None = None
    """cert-manager ClusterIssuer (a CA issuer) for the operator's webhook certificate."""
    control_plane_metrics: bool = False
    """etcd / scheduler / controller-manager metrics reachable (capi mode)."""
    object_store: ObjectStoreInfo | None = None
    """PersistenceLayer's bucket for Loki; `observability.loki.objectStore` wins over it."""
    backup_monitoring: BackupMonitoring | None = None
    """How to scrape Velero and which backup alerts to load (from PersistenceLayer)."""


# ---- small pure helpers (tested through the rendered values) ------------------------------


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


def alertmanager_config(alerting: AlertingSettings) -> dict[str, Any]:
    """Routes by severity, one receiver per setting; credentials only as `*_file` paths
    into the mounted Secret (Alertmanager v0.34 docs/configuration.md)."""
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    routes: list[dict[str, Any]] = []
    if alerting.dead_mans_switch is not None:
        receivers.append(
            {
                "name": "deadmansswitch",
                "webhook_configs": [
                    {"url_file": f"{RECEIVERS_MOUNT}/deadmansswitch", "send_resolved": False}
                ],
            }
        )
        routes.append(
            {
                "receiver": "deadmansswitch",
                "matchers": ['alertname = "Watchdog"'],
                "group_wait": "0s",
                "group_interval": "1m",
                "repeat_interval": "1m",
            }
        )
    else:
        routes.append({"receiver": "null", "matchers": ['alertname = "Watchdog"']})
    routes.append({"receiver": "null", "matchers": ['alertname = "InfoInhibitor"']})
    for r in alerting.receivers:
        path = f"{RECEIVERS_MOUNT}/{r.name}"
        entry: dict[str, Any] = {"name": r.name}
        if r.type == "slack":
            slack: dict[str, Any] = {"api_url_file": path, "send_resolved": True}
            if r.slack_channel:
                slack["channel"] = r.slack_channel
            entry["slack_configs"] = [slack]
        elif r.type == "pagerduty":
            entry["pagerduty_configs"] = [{"routing_key_file": path, "send_resolved": True}]
        elif r.type == "webhook":
            entry["webhook_configs"] = [{"url_file": path, "send_resolved": True}]
        else:
            entry["email_configs"] = [
                {
                    "to": r.email_to,
                    "from": r.email_from,
                    "smarthost": r.smarthost,
                    "auth_username": r.username,
                    "auth_password_file": path,
                    "require_tls": True,
                    "send_resolved": True,
                }
            ]
        receivers.append(entry)
        routes.append(
            {
                "receiver": r.name,
                "matchers": [f'severity =~ "{"|".join(r.severities)}"'],
                "continue": True,
            }
        )
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "receiver": "null",
            "routes": routes,
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity =~ "warning|info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['severity = "warning"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['alertname = "InfoInhibitor"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": receivers,
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def _rule(  # noqa: PLR0917
    alert: str, expr: str, for_: str, severity: str, summary: str, runbook: str
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            # Runbooks ship with the platform's docs (docs/observability.md).
            "runbook": f"docs/observability.md#{runbook}",
        },
    }


def platform_rules(etcd_snapshots: bool) -> dict[str, Any]:
    """Alerts on the platform's own guarantees (backups, certificates, storage, images, logs)."""
    # Velero's alerts come from PersistenceLayer (per-schedule thresholds): Args
    # backup_monitoring. The etcd snapshot job is ours to watch in capi mode.
    backups: list[dict[str, Any]] = []
    if etcd_snapshots:
        selector = f'kube_cronjob_status_last_successful_time{{cronjob="{ETCD_SNAPSHOT_CRONJOB}"}}'
        backups += [
            _rule(
                "EtcdSnapshotTooOld",
                f"time() - {selector} > 90000",
                "15m",
                "critical",
                "The etcd snapshot CronJob has not succeeded for more than 25h.",
                "etcd-snapshot-too-old",
            ),
            _rule(
                "EtcdSnapshotNeverSucceeded",
                f"absent({selector})",
                "26h",
                "critical",
                "The etcd snapshot CronJob has no successful run on record.",
                "etcd-snapshot-too-old",
            ),
        ]
    platform = [
        _rule(
            "CertificateExpiresSoon",
            "certmanager_certificate_expiration_timestamp_seconds - time() < 14 * 86400",
            "1h",
            "warning",
            "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires in under 14 days "
            "(cert-manager should have renewed it).",
            "certificate-expires-soon",
        ),
        _rule(
            "PersistentVolumeAlmostFull",
            "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.15",
            "15m",
            "warning",
            "PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over 85% full.",
            "pvc-almost-full",
        ),
        _rule(
            "CriticalImageVulnerability",
            "sum by (namespace, resource_kind, resource_name, image_repository, image_tag) "
            '(trivy_image_vulnerabilities{severity="Critical"}) > 0',
            "1h",
            "warning",
            "{{ $labels.namespace }}/{{ $labels.resource_name }} runs "
            "{{ $labels.image_repository }}:{{ $labels.image_tag }} with critical CVEs.",
            "critical-image-vulnerability",
        ),
        _rule(
            "LokiDiscardingLogs",
            "sum by (namespace, reason) (rate(loki_discarded_samples_total[5m])) > 0",
            "15m",
            "warning",
            "Loki is discarding log lines (reason {{ $labels.reason }}).",
            "loki-ingestion-errors",
        ),
        _rule(
            "LokiPushErrors",
            "sum by (namespace) (rate(loki_request_duration_seconds_count"
            '{route=~"loki_api_v1_push|api_prom_push", status_code=~"5.."}[5m])) '
            "/ sum by (namespace) (rate(loki_request_duration_seconds_count"
            '{route=~"loki_api_v1_push|api_prom_push"}[5m])) > 0.05',
            "10m",
            "critical",
            "More than 5% of log pushes to Loki fail: logs are being lost.",
            "loki-ingestion-errors",
        ),
    ]
    return {
        "platform-alerts": {
            "groups": [
                {"name": "platform.backups", "rules": backups},
                {"name": "platform.health", "rules": platform},
            ]
        }
    }


def _panel(  # noqa: PLR0917
    pid: int, title: str, kind: str, datasource: str, exprs: Sequence[str], x: int, y: int
) -> dict[str, Any]:
    ds = {"type": datasource, "uid": datasource}
    return {
        "id": pid,
        "title": title,
        "type": kind,
        "datasource": ds,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": e, "datasource": ds} for i, e in enumerate(exprs)
        ],
    }


def dashboard(uid: str, title: str, panels: Sequence[tuple[str, str, str, str]]) -> str:
    """A small but real Grafana dashboard: (title, panel type, datasource uid, query)."""
    return json.dumps(
        {
            "uid": uid,
            "title": title,
            "tags": ["k8s-platform"],
            "timezone": "utc",
            "schemaVersion": 39,
            "editable": False,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "1m",
            "panels": [
                _panel(i + 1, t, kind, ds, [q], (i % 2) * 12, (i // 2) * 8)
                for i, (t, kind, ds, q) in enumerate(panels)
            ],
        },
        indent=1,
        sort_keys=True,
    )


DASHBOARDS: dict[str, str] = {
    "platform-logs": dashboard(
        "platform-logs",
        "Platform / Logs",
        [
            (
                "Log lines by namespace",
                "timeseries",
                "loki",
                'sum by (namespace) (count_over_time({namespace=~".+"}[1m]))',
            ),
            ("Errors", "logs", "loki", '{namespace=~".+"} |~ "(?i)(error|panic|fatal)"'),
            (
                "Discarded lines",
                "timeseries",
                "prometheus",
                "sum by (reason) (rate(loki_discarded_samples_total[5m]))",
            ),
            (
                "Ingested bytes/s",
                "timeseries",
                "prometheus",
                "sum(rate(loki_distributor_bytes_received_total[5m]))",
            ),
        ],
    ),
    "platform-backups": dashboard(
        "platform-backups",
        "Platform / Backups",
        [
            (
                "Hours since last successful backup",
                "stat",
                "prometheus",
                "max by (schedule) ((time() - "
                'velero_backup_last_successful_timestamp{schedule!=""})'
                " / 3600)",
            ),
            (
                "Backup failures (24h)",
                "stat",
                "prometheus",
                "sum by (schedule) (increase(velero_backup_failure_total[24h]))",
            ),
            (
                "Hours since last etcd snapshot",
                "stat",
                "prometheus",
                "(time() - kube_cronjob_status_last_successful_time"
                f'{{cronjob="{ETCD_SNAPSHOT_CRONJOB}"}})'
                " / 3600",
            ),
            (
                "Backup duration",
                "timeseries",
                "prometheus",
                "histogram_quantile(0.95, sum by (le, schedule) "
                "(rate(velero_backup_duration_seconds_bucket[1h])))",
            ),
        ],
    ),
    "platform-health": dashboard(
        "platform-health",
        "Platform / Health",
        [
            (
                "Firing alerts by severity",
                "stat",
                "prometheus",
                'sum by (severity) (ALERTS{alertstate="firing"})',
            ),
            ("Scrape targets down", "stat", "prometheus", "count by (job) (up == 0)"),
            (
                "Days until certificate expiry",
                "table",
                "prometheus",
                "min by (namespace, name) "
                "((certmanager_certificate_expiration_timestamp_seconds - time()) / 86400)",
            ),
            (
                "Critical image vulnerabilities",
                "table",
                "prometheus",
                "sum by (namespace, image_repository) "
                '(trivy_image_vulnerabilities{severity="Critical"})',
            ),
            (
                "Fullest PVCs (%)",
                "table",
                "prometheus",
                "topk(10, 100 * (1 - kubelet_volume_stats_available_bytes "
                "/ kubelet_volume_stats_capacity_bytes))",
            ),
            (
                "Pods not ready",
                "stat",
                "prometheus",
                'sum by (namespace) (kube_pod_status_ready{condition="false"})',
            ),
        ],
    ),
}


ALLOY_CONFIG = """\
discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
  rule {
    source_labels = [
      "__meta_kubernetes_pod_label_app_kubernetes_io_name",
      "__meta_kubernetes_pod_label_app",
    ]
    separator     = ";"
    regex         = "^;*([^;]+)(;.*)?$"
    target_label  = "app"
  }
}

loki.source.kubernetes "pods" {
  targets    = discovery.relabel.pods.output
  forward_to = [loki.process.pods.receiver]
}

loki.process "pods" {
  stage.static_labels {
    values = { cluster = "CLUSTER" }
  }
  forward_to = [loki.write.default.receiver]
}

loki.write "default" {
  endpoint {
    url = "PUSH_URL"
  }
}
"""


def alloy_config(cluster: str, push_url: str) -> str:
    return ALLOY_CONFIG.replace("CLUSTER", cluster).replace("PUSH_URL", push_url)


def svc_url(
    name: str, namespace: pulumi.Input[str], port: int, path: str = ""
) -> pulumi.Output[str]:
    suffix = "" if port == 80 else f":{port}"
    return pulumi.Output.concat("http://", name, ".", namespace, ".svc.cluster.local", suffix, path)


class ObservabilityStack(pulumi.ComponentResource):
    grafana_url: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    loki_push_url: pulumi.Output[str]
    grafana_admin_secret: pulumi.Output[str]
    grafana: ServiceRef
    """Grafana's Service, for the gateway (Grafana has its own login)."""
    prometheus: ServiceRef
    alertmanager: ServiceRef

    def __init__(
        self, name: str, args: ObservabilityStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._args = args
        self._child = kube.child_opts(self, args.provider)
        monitoring = args.namespaces[ns.MONITORING]
        logging = args.namespaces[ns.LOGGING]
        self._monitoring = monitoring
        self._logging = logging

        crds = kube.helm_chart(
            "prometheus-operator-crds",
            chart("prometheus-operator-crds"),
            monitoring,
            {},
            self._child,
        )
        after_crds = pulumi.ResourceOptions.merge(
            self._child, pulumi.ResourceOptions(depends_on=[crds])
        )
        self._metrics_server(monitoring)

        admin = self._grafana_admin(monitoring)
        receivers = self._receivers_secret(monitoring)
        dashboards = self._dashboards(monitoring)
        kps_opts = pulumi.ResourceOptions.merge(
            after_crds, pulumi.ResourceOptions(depends_on=[crds, admin, receivers, *dashboards])
        )
        kube.helm_chart(
            KPS, chart("kube-prometheus-stack"), monitoring, self._kps_values(), kps_opts
        )

        credentials = self._loki_credentials(logging)
        loki_opts = pulumi.ResourceOptions.merge(
            after_crds,
            pulumi.ResourceOptions(depends_on=[crds, *([credentials] if credentials else [])]),
        )
        kube.helm_chart(LOKI, chart("loki"), logging, self._loki_values(), loki_opts)
        kube.helm_chart("alloy", chart("alloy"), logging, self._alloy_values(), after_crds)
        self._backup_monitoring(after_crds)
        self._network_policies()

        self.grafana = ServiceRef(
            GRAFANA_SERVICE, monitoring, GRAFANA_PORT, target_port=3000, pod_labels=GRAFANA_PODS
        )
        self.prometheus = ServiceRef(PROMETHEUS_NAME, monitoring, 9090, pod_labels=PROMETHEUS_PODS)
        self.alertmanager = ServiceRef(
            ALERTMANAGER_NAME, monitoring, 9093, pod_labels=ALERTMANAGER_PODS
        )
        self.grafana_url = svc_url(GRAFANA_SERVICE, monitoring, GRAFANA_PORT)
        self.prometheus_url = svc_url(PROMETHEUS_NAME, monitoring, 9090)
        self.alertmanager_url = svc_url(ALERTMANAGER_NAME, monitoring, 9093)
        self.loki_push_url = svc_url(f"{LOKI}-gateway", logging, 80, "/loki/api/v1/push")
        self.grafana_admin_secret = pulumi.Output.from_input(GRAFANA_ADMIN_SECRET)
        self.register_outputs(
            {
                "grafana_url": self.grafana_url,
                "prometheus_url": self.prometheus_url,
                "alertmanager_url": self.alertmanager_url,
                "loki_push_url": self.loki_push_url,
                "grafana_admin_secret": self.grafana_admin_secret,
            }
        )

    # ---- metrics-server --------------------------------------------------------------

    def _metrics_server(self, namespace: pulumi.Input[str]) -> None:
        s = self._args.settings
        kube.helm_chart(
            "metrics-server",
            chart("metrics-server"),
            namespace,
            {
                "replicas": s.metrics_server_replicas,
                "podDisruptionBudget": {
                    "enabled": s.metrics_server_replicas > 1,
                    "minAvailable": 1,
                },
                # kind's kubelets serve self-signed certificates; real clusters verify them.
                "args": ["--kubelet-insecure-tls"] if s.kubelet_insecure_tls else [],
                "topologySpreadConstraints": spread(
                    s.metrics_server_replicas, s.zone_spread, METRICS_SERVER_PODS
                ),
                "resources": kube.resources("50m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
            },
            self._child,
        )

    # ---- credentials: created here from Pulumi secrets, referenced by name in values --

    def _grafana_admin(self, namespace: pulumi.Input[str]) -> k8s.core.v1.Secret:
        password = random.RandomPassword(
            "grafana-admin-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return k8s.core.v1.Secret(
            "grafana-admin",
            metadata={
                "name": GRAFANA_ADMIN_SECRET,
                "namespace": namespace,
                "labels": kube.MANAGED_BY,
            },
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=self._child,
        )

    def _receivers_secret(self, namespace: pulumi.Input[str]) -> k8s.core.v1.Secret:
        """One key per receiver; Alertmanager reads them through `*_file` fields.

        Always created (possibly empty) because `alertmanagerSpec.secrets` names it and
        the operator refuses to start Alertmanager while a listed Secret is missing.
        """
        a = self._args.settings.alerting
        if not a.receivers:
            pulumi.log.warn(
                "observability.alerting.receivers is empty: alerts reach no one "
                "(see docs/observability.md to add Slack, PagerDuty, e-mail or a webhook)",
                self,
            )
        data: dict[str, pulumi.Input[str]] = {r.name: r.secret.output() for r in a.receivers}
        if a.dead_mans_switch is not None:
            data["deadmansswitch"] = a.dead_mans_switch.output()
        return k8s.core.v1.Secret(
            RECEIVERS_SECRET,
            metadata={"name": RECEIVERS_SECRET, "namespace": namespace, "labels": kube.MANAGED_BY},
            type="Opaque",
            string_data=pulumi.Output.secret(data) if data else {},
            opts=self._child,
        )

    def _backup_monitoring(self, opts: pulumi.ResourceOptions) -> None:
        """Scrape Velero, and load the backup alerts PersistenceLayer derives from its
        schedules (it knows each interval; a fixed threshold would be wrong for hourly)."""
        b = self._args.backup_monitoring
        if b is None:
            return
        k8s.apiextensions.CustomResource(
            "velero-metrics",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": "velero", "namespace": b.namespace, "labels": kube.MANAGED_BY},
            spec={
                "selector": {"matchLabels": dict(b.pod_labels)},
                "podMetricsEndpoints": [{"portNumber": b.metrics_port, "path": "/metrics"}],
            },
            opts=opts,
        )
        k8s.apiextensions.CustomResource(
            "velero-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={
                "name": "velero-backups",
                "namespace": self._monitoring,
                "labels": kube.MANAGED_BY,
            },
            spec=dict(b.prometheus_rule_spec),
            opts=opts,
        )

    def _loki_keys(self) -> tuple[pulumi.Output[str], pulumi.Output[str]] | None:
        """S3 keys for Loki as Pulumi secrets; None = the AWS default credential chain."""
        store = self._args.settings.loki.object_store
        if store is not None:
            if store.access_key_id is None or store.secret_access_key is None:
                return None
            return store.access_key_id.output(), store.secret_access_key.output()
        info = self._args.object_store
        if info is None or info.access_key_id is None or info.secret_access_key is None:
            return None
        return info.access_key_id, info.secret_access_key

    def _loki_credentials(self, namespace: pulumi.Input[str]) -> k8s.core.v1.Secret | None:
        keys = self._loki_keys()
        if keys is None:
            return None
        return k8s.core.v1.Secret(
            LOKI_CREDENTIALS_SECRET,
            metadata={
                "name": LOKI_CREDENTIALS_SECRET,
                "namespace": namespace,
                "labels": kube.MANAGED_BY,
            },
            type="Opaque",
            string_data=pulumi.Output.secret(
                {"AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1]}
            ),
            opts=self._child,
        )

    def _object_store(self) -> LokiObjectStore | None:
        """The bucket set in config wins; else PersistenceLayer's; else none (filesystem)."""
        secret_name = LOKI_CREDENTIALS_SECRET if self._loki_keys() is not None else None
        store = self._args.settings.loki.object_store
        if store is not None:
            return LokiObjectStore(
                bucket=store.bucket,
                region=store.region,
                endpoint=store.endpoint,
                credentials_secret_name=secret_name,
                insecure=store.insecure,
                role_arn=store.role_arn,
            )
        info = self._args.object_store
        if info is None:
            return None
        return LokiObjectStore(
            bucket=info.bucket,
            region=info.region,
            endpoint=info.endpoint,
            credentials_secret_name=secret_name,
            insecure=info.insecure,
        )

    def _dashboards(self, namespace: pulumi.Input[str]) -> list[k8s.core.v1.ConfigMap]:
        """Platform dashboards for the Grafana sidecar (kps ships cluster/node ones)."""
        return [
            k8s.core.v1.ConfigMap(
                f"dashboard-{name}",
                metadata={
                    "name": f"dashboard-{name}",
                    "namespace": namespace,
                    "labels": {**kube.MANAGED_BY, "grafana_dashboard": "1"},
                },
                data={f"{name}.json": body},
                opts=self._child,
            )
            for name, body in DASHBOARDS.items()
        ]

    # ---- kube-prometheus-stack -------------------------------------------------------

    def _kps_values(self) -> dict[str, Any]:
        a = self._args
        s = a.settings
        p = s.prometheus
        am = s.alerting
        if a.internal_issuer is not None:
            # Chart v4 drops the hook Jobs that would create the webhook certificate:
            # cert-manager issues it instead, from the platform CA ClusterIssuer.
            webhooks: dict[str, Any] = {
                "enabled": True,
                "patch": {"enabled": False},
                "certManager": {
                    "enabled": True,
                    "issuerRef": {"name": a.internal_issuer, "kind": "ClusterIssuer"},
                },
            }
            operator_tls = True
        else:
            # No cert-manager: the hook Jobs cannot run under Chart v4, so validation
            # webhooks and the operator's TLS listener (which needs their Secret) are off.
            # Bad PrometheusRules are then reported by the operator, not rejected at apply.
            webhooks = {"enabled": False, "patch": {"enabled": False}}
            operator_tls = False
        open_selectors = {
            f"{kind}SelectorNilUsesHelmValues": False
            for kind in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig")
        }
        prom_labels = {**PROMETHEUS_PODS, "operator.prometheus.io/name": PROMETHEUS_NAME}
        am_labels = {**ALERTMANAGER_PODS, "alertmanager": ALERTMANAGER_NAME}
        return {
            "fullnameOverride": KPS,
            # CRDs come from the prometheus-operator-crds chart (upgraded by Pulumi).
            "crds": {"enabled": False},
            "defaultRules": {
                "create": True,
                "rules": {
                    # Only alert on control-plane components we can actually scrape.
                    "etcd": a.control_plane_metrics,
                    "kubeControllerManager": a.control_plane_metrics,
                    "kubeSchedulerAlerting": a.control_plane_metrics,
                    "kubeSchedulerRecording": a.control_plane_metrics,
                },
            },
            "additionalPrometheusRulesMap": platform_rules(a.control_plane_metrics),
            "kubeEtcd": {"enabled": a.control_plane_metrics},
            "kubeScheduler": {"enabled": a.control_plane_metrics},
            "kubeControllerManager": {"enabled": a.control_plane_metrics},
            "prometheusOperator": {
                "admissionWebhooks": webhooks,
                "tls": {"enabled": operator_tls},
                "resources": kube.resources("50m", "64Mi", cpu_limit="200m", memory_limit="256Mi"),
                # Sidecar injected into every Prometheus and Alertmanager pod.
                "prometheusConfigReloader": {
                    "resources": kube.resources(
                        "10m", "32Mi", cpu_limit="100m", memory_limit="64Mi"
                    )
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
                                "storageClassName": a.storage_class,
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": p.volume_size}},
                            }
                        }
                    },
                    "resources": kube.resources(p.cpu, p.memory, cpu_limit=_double(p.cpu)),
                    **open_selectors,
                },
            },
            "alertmanager": {
                "podDisruptionBudget": {"enabled": am.replicas > 1, "minAvailable": 1},
                "config": alertmanager_config(am),
                "alertmanagerSpec": {
                    "replicas": am.replicas,
                    "podAntiAffinity": "hard" if am.replicas > 1 else "",
                    "podAntiAffinityTopologyKey": HOSTNAME,
                    "topologySpreadConstraints": spread(am.replicas, s.zone_spread, am_labels),
                    # Mounted at /etc/alertmanager/secrets/<name>/ for the *_file fields.
                    "secrets": [RECEIVERS_SECRET],
                    "resources": kube.resources(
                        "20m", "64Mi", cpu_limit="200m", memory_limit="128Mi"
                    ),
                },
            },
            "grafana": self._grafana_values(),
            "kube-state-metrics": {
                "resources": kube.resources("20m", "64Mi", cpu_limit="200m", memory_limit="256Mi"),
            },
            "prometheus-node-exporter": {
                # hostNetwork/hostPID/hostPath: lives in the privileged node-exporter namespace.
                "namespaceOverride": a.namespaces[ns.NODE_EXPORTER],
                "resources": kube.resources("20m", "32Mi", cpu_limit="200m", memory_limit="64Mi"),
            },
        }

    # ---- Grafana (kps subchart) -------------------------------------------------------

    def _grafana_values(self) -> dict[str, Any]:
        """Stateless HA: every replica provisions the same datasources and dashboards from
        ConfigMaps and keeps its own throw-away SQLite; nothing is shared, so no database.
        Lost on restart / not shared between replicas: UI-made dashboards (disabled),
        users other than admin, preferences, annotations, API tokens, login sessions
        (docs/observability.md explains the trade-off and the external-DB upgrade path).
        """
        s = self._args.settings
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
            "sidecar": {
                "resources": sidecar_resources,
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                },
                "datasources": {
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
                    "url": svc_url(f"{LOKI}-gateway", self._logging, 80),
                    "jsonData": {"maxLines": 1000},
                }
            ],
        }

    # ---- Loki -------------------------------------------------------------------------

    def _loki_values(self) -> dict[str, Any]:
        s = self._args.settings
        lk = s.loki
        store = self._object_store()
        if lk.replicas > 1 and store is None:
            raise ValueError(
                f"observability.loki.replicas={lk.replicas} needs object storage: set "
                "observability.loki.objectStore or let PersistenceLayer provide a bucket"
            )
        kind = "s3" if store is not None else "filesystem"
        storage: dict[str, Any] = {"type": kind}
        extra_args: list[str] = []
        env_from: list[dict[str, Any]] = []
        service_account: dict[str, Any] = {}
        if store is not None:
            s3: dict[str, Any] = {
                "region": store.region,
                "insecure": store.insecure,
                "s3ForcePathStyle": store.endpoint is not None,
            }
            if store.endpoint is not None:
                s3["endpoint"] = store.endpoint
            if store.credentials_secret_name is not None:
                # Keys come from the Secret as env vars, expanded by Loki at startup:
                # the values (and Pulumi state of this chart) only hold the variable names.
                s3["accessKeyId"] = "${AWS_ACCESS_KEY_ID}"
                s3["secretAccessKey"] = "${AWS_SECRET_ACCESS_KEY}"
                extra_args.append("-config.expand-env=true")
                env_from.append({"secretRef": {"name": store.credentials_secret_name}})
            if store.role_arn is not None:
                service_account = {"annotations": {"eks.amazonaws.com/role-arn": store.role_arn}}
            storage["s3"] = s3
            storage["bucketNames"] = {"chunks": store.bucket, "ruler": store.bucket}
        ha = lk.replicas > 1
        cache = {
            "enabled": lk.caches,
            "allocatedMemory": lk.chunks_cache_mb,
            "allocatedCPU": "100m",
            "replicas": 1,
        }
        values: dict[str, Any] = {
            "deploymentMode": "Monolithic",
            "loki": {
                # One tenant ("fake"): the platform's logs, no X-Scope-OrgID to manage.
                "auth_enabled": False,
                "commonConfig": {"replication_factor": lk.replication_factor},
                "storage": storage,
                "schemaConfig": {
                    "configs": [
                        {
                            "from": "2024-04-01",
                            "store": "tsdb",
                            "object_store": kind,
                            "schema": "v13",
                            "index": {"prefix": "loki_index_", "period": "24h"},
                        }
                    ]
                },
                "limits_config": {
                    "retention_period": lk.retention,
                    "allow_structured_metadata": True,
                    "volume_enabled": True,
                },
                # Retention is applied by the compactor (a singleton inside the binary).
                "compactor": {
                    "retention_enabled": True,
                    "delete_request_store": kind,
                    "retention_delete_delay": "2h",
                    "compaction_interval": "10m",
                },
                "pattern_ingester": {"enabled": False},
            },
            "serviceAccount": service_account,
            "singleBinary": {
                "replicas": lk.replicas,
                "extraArgs": extra_args,
                "extraEnvFrom": env_from,
                # The rules sidecar watches ConfigMaps for Loki ruler rules; unused here.
                "sidecar": False,
                # A pre-upgrade hook Job (never run by Chart v4): resizing the volume
                # means recreating the StatefulSet by hand (docs/observability.md).
                "statefulSetRecreateJob": {"enabled": False},
                "podDisruptionBudget": {"enabled": ha, "maxUnavailable": 1},
                "topologySpreadConstraints": spread(lk.replicas, s.zone_spread, LOKI_PODS),
                "persistence": {
                    "enabled": True,
                    "size": lk.volume_size,
                    "storageClass": self._args.storage_class,
                },
                "resources": kube.resources(
                    lk.cpu,
                    lk.memory,
                    cpu_limit=_double(lk.cpu),
                    memory_limit=_double_memory(lk.memory),
                ),
            },
            "backend": {"replicas": 0},
            "read": {"replicas": 0},
            "write": {"replicas": 0},
            "gateway": {
                "replicas": 2 if ha else 1,
                "podDisruptionBudget": {"enabled": ha, "maxUnavailable": 1},
                "topologySpreadConstraints": spread(
                    2 if ha else 1, s.zone_spread, LOKI_GATEWAY_PODS
                ),
                "resources": kube.resources("10m", "32Mi", cpu_limit="200m", memory_limit="128Mi"),
            },
            "chunksCache": cache,
            "resultsCache": {**cache, "allocatedMemory": max(64, lk.chunks_cache_mb // 8)},
            "memcachedExporter": {
                "resources": kube.resources("10m", "32Mi", cpu_limit="50m", memory_limit="64Mi")
            },
            # The canary DaemonSet and the Helm test pod (a hook Chart v4 drops) are off;
            # the platform's own alerts watch ingestion instead.
            "lokiCanary": {"enabled": False},
            "test": {"enabled": False},
            "minio": {"enabled": False},
            "monitoring": {
                "serviceMonitor": {"enabled": True},
                "dashboards": {"enabled": False},
            },
        }
        return values

    # ---- Alloy ------------------------------------------------------------------------

    def _alloy_values(self) -> dict[str, Any]:
        s = self._args.settings
        push = svc_url(f"{LOKI}-gateway", self._logging, 80, "/loki/api/v1/push")
        return {
            # PodLogs CRD is only for the operator-style pipeline; we tail through the API.
            "crds": {"create": False},
            "controller": {"type": "daemonset"},
            "alloy": {
                "configMap": {
                    "create": True,
                    "content": push.apply(lambda url: alloy_config(s.cluster_name, url)),
                },
                # loki.source.kubernetes reads logs through the API server: no hostPath.
                "mounts": {"varlog": False, "dockercontainers": False},
                "enableReporting": False,
                "resources": kube.resources("50m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
            },
            "configReloader": {
                "resources": kube.resources("10m", "32Mi", cpu_limit="50m", memory_limit="64Mi")
            },
            "serviceMonitor": {"enabled": True},
        }

    # ---- NetworkPolicies ---------------------------------------------------------------

    def _network_policies(self) -> None:
        """Allows on top of each namespace's default-deny + same-namespace + DNS.

        Scrape *ingress* into other namespaces is SecurityBaseline's ("allow from
        monitoring" everywhere); hostNetwork pods (node-exporter, kubelet, control plane)
        are not subject to NetworkPolicy, so they are reached through ipBlock egress.
        """
        a = self._args
        mon, log = self._monitoring, self._logging
        o = self._child

        def policy(name: str, namespace: pulumi.Input[str], **kw: Any) -> None:
            kube.network_policy(name, namespace, o, resource_name=f"observability-{name}", **kw)

        policy(
            "prometheus-scrape",
            mon,
            pod_selector=PROMETHEUS_PODS,
            egress_to=[{"namespaceSelector": {}}],
        )
        policy(
            "prometheus-scrape-hosts",
            mon,
            pod_selector=PROMETHEUS_PODS,
            egress_to=[ANYWHERE],
            # node-exporter, kubelet/cAdvisor, API server, etcd, controller-manager, scheduler
            egress_ports=kube.tcp(9100, 10250, 443, 6443, 2381, 10257, 10259),
        )
        policy("apiserver-egress", mon, egress_to=[ANYWHERE], egress_ports=API_SERVER_PORTS)
        receivers = a.settings.alerting.receivers
        smtp = [587] if any(r.type == "email" for r in receivers) else []
        policy(
            "alertmanager-receivers",
            mon,
            pod_selector=ALERTMANAGER_PODS,
            egress_to=[ANYWHERE],
            egress_ports=kube.tcp(443, *smtp),
        )
        policy(
            "grafana-to-loki",
            mon,
            pod_selector=GRAFANA_PODS,
            egress_to=[kube.namespace_peer(log, LOKI_GATEWAY_PODS)],
            egress_ports=kube.tcp(8080),
        )
        policy(
            "gateway-to-ui",
            mon,
            pod_selector={},
            ingress_from=[kube.namespace_peer(ns.GATEWAY)],
            ingress_ports=kube.tcp(3000, 9090, 9093),
        )
        # The API server calls metrics-server (APIService) and, with cert-manager, the
        # operator's admission webhook; metrics-server itself scrapes every kubelet.
        policy(
            "apiserver-to-metrics-server",
            mon,
            pod_selector=METRICS_SERVER_PODS,
            ingress_from=[ANYWHERE],
            ingress_ports=kube.tcp(10250),
            egress_to=[ANYWHERE],
            egress_ports=kube.tcp(10250),
        )
        if a.internal_issuer is not None:
            policy(
                "apiserver-to-operator-webhook",
                mon,
                pod_selector=OPERATOR_PODS,
                ingress_from=[ANYWHERE],
                ingress_ports=kube.tcp(10250),
            )
        policy(
            "loki-gateway-from-grafana",
            log,
            pod_selector=LOKI_GATEWAY_PODS,
            ingress_from=[kube.namespace_peer(mon, GRAFANA_PODS)],
            ingress_ports=kube.tcp(8080),
        )
        policy(
            "alloy-apiserver",
            log,
            pod_selector=ALLOY_PODS,
            egress_to=[ANYWHERE],
            egress_ports=API_SERVER_PORTS,
        )
        if self._object_store() is not None:
            policy(
                "loki-object-store",
                log,
                pod_selector=LOKI_PODS,
                egress_to=[ANYWHERE],
                egress_ports=kube.tcp(443, *_endpoint_port(self._object_store())),
            )


def _double(cpu: str) -> str:
    """A CPU limit of twice the request: room for compaction / WAL replay bursts."""
    millis = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    return f"{millis * 2}m"


def _double_memory(quantity: str) -> str:
    return f"{memory_bytes(quantity) * 2 // 2**20}Mi"


def _endpoint_port(store: LokiObjectStore | None) -> list[int]:
    """An S3-compatible endpoint on a custom port (e.g. https://s3.lan:9000) needs it open."""
    endpoint = store.endpoint if store is not None else None
    if isinstance(endpoint, str):
        from urllib.parse import urlparse

        port = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}").port
        if port and port != 443:
            return [port]
    return []
