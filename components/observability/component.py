"""ObservabilityStack: metrics, alerts, logs and dashboards.

Metrics: prometheus-operator CRDs (own chart, so CRD upgrades are applied), metrics-server,
kube-prometheus-stack (Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter).
Logs: Loki (grafana-community chart) fed by a Grafana Alloy DaemonSet.
Every value written below was checked against the upstream values.yaml of the pinned chart
(see docs/observability.md "Chart values").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.observability import audit
from components.observability import network_policies as policies
from components.observability.alerting import dashboards, platform_rules
from components.observability.logging_values import LokiObjectStore, alloy_values, loki_values
from components.observability.names import (
    ALERTMANAGER_NAME,
    ALERTMANAGER_PODS,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_PODS,
    GRAFANA_PORT,
    GRAFANA_SERVICE,
    KPS,
    LOKI,
    LOKI_CREDENTIALS_SECRET,
    METRICS_SERVER_PODS,
    PROMETHEUS_NAME,
    PROMETHEUS_PODS,
    RECEIVERS_SECRET,
    svc_url,
)
from components.observability.rbac import grafana_sidecar_role
from components.observability.settings import ObservabilitySettings
from components.observability.values import kps_values, spread
from kernel import kube
from kernel import namespaces as ns
from kernel import network as net
from kernel.catalogue import chart
from kernel.contracts import ApiServerAuditLog, BackupMonitoring, ObjectStoreInfo, ServiceRef

TYPE_TOKEN = "k8splatform:observability:ObservabilityStack"


# The cluster CA as every pod sees it (projected service account token volume).
CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


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
    network: net.Network = field(default_factory=net.Network)
    """The CNI the policies are written for (HAControlPlane.network)."""
    operator_crds: k8s.helm.v4.Chart | None = None
    """The prometheus-operator CRDs chart (`operator_crds()`), installed before
    SecurityBaseline so that the add-ons' ServiceMonitors find their CRD; else created here."""
    audit_log: ApiServerAuditLog | None = None
    """HAControlPlane.audit_log: ship it from the control-plane nodes (needs `apiserver-audit`)."""


def operator_crds(provider: k8s.Provider, parent: pulumi.Resource) -> k8s.helm.v4.Chart:
    """The prometheus-operator CRDs as their own chart, so a version bump upgrades them
    (Helm never upgrades CRDs inside kube-prometheus-stack). Cluster-scoped only: the
    release namespace is a name, not a dependency on the namespace object. `parent`: the
    component that owns the cluster's APIs (the composition root passes the cluster)."""
    # Until ab0a8eb this chart was the ObservabilityStack's child. Without the alias, an
    # existing stack would create it anew under the cluster and then delete the old one,
    # and with it every CRD and every ServiceMonitor, PrometheusRule and Prometheus.
    # "observability": the name __main__.py gives the component. A Chart v4 is registered by
    # the provider (Construct), which keeps its aliases only when built with the Pulumi Go
    # SDK v3.217.0 or newer (pulumi/pulumi#21050); an older one drops it and the engine
    # replaces the chart, CRDs included (tests/live/test_live_dev.py, the upgrade path).
    old_parent = pulumi.create_urn("observability", TYPE_TOKEN)
    moved = pulumi.create_urn("prometheus-operator-crds", "kubernetes:helm.sh/v4:Chart", old_parent)
    return kube.helm_chart(
        "prometheus-operator-crds",
        chart("prometheus-operator-crds"),
        ns.MONITORING,
        {},
        kube.child_opts(parent, provider, aliases=[moved]),
    )


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
        self._monitoring = monitoring = args.namespaces[ns.MONITORING]
        self._logging = logging = args.namespaces[ns.LOGGING]

        crds = args.operator_crds or kube.helm_chart(
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

        kps = self._kube_prometheus_stack(crds, after_crds)

        self._logs(crds, after_crds)
        # PrometheusRules pass the operator's admission webhook (failurePolicy Fail):
        # create them only once the kps Chart, whose objects pulumi-kubernetes awaits
        # until ready (the webhook Deployment included), is up.
        after_kps = pulumi.ResourceOptions.merge(
            after_crds, pulumi.ResourceOptions(depends_on=[kps])
        )
        self._backup_monitoring(after_kps)
        self._platform_alerts(after_kps)
        scope = policies.Scope(
            settings=args.settings,
            network=args.network,
            monitoring=monitoring,
            logging=logging,
            control_plane_metrics=args.control_plane_metrics,
            operator_webhook=args.internal_issuer is not None,
            store=self._object_store(),
        )
        policies.network_policies(scope, self._child)

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

    def _kube_prometheus_stack(
        self, crds: pulumi.Resource, after_crds: pulumi.ResourceOptions
    ) -> pulumi.Resource:
        """kube-prometheus-stack, after the Secrets and dashboards it reads by name."""
        args = self._args
        monitoring, logging = self._monitoring, self._logging
        admin = self._grafana_admin(monitoring)
        receivers = self._receivers_secret(monitoring)
        dashboards = self._dashboards(monitoring)
        role = grafana_sidecar_role(monitoring, self._child)
        kps_opts = pulumi.ResourceOptions.merge(
            after_crds,
            pulumi.ResourceOptions(depends_on=[crds, admin, receivers, role, *dashboards]),
        )
        return kube.helm_chart(
            KPS,
            chart("kube-prometheus-stack"),
            monitoring,
            kps_values(
                args.settings,
                control_plane_metrics=args.control_plane_metrics,
                internal_issuer=args.internal_issuer,
                storage_class=args.storage_class,
                node_exporter_namespace=args.namespaces[ns.NODE_EXPORTER],
                logging_namespace=logging,
            ),
            kps_opts,
        )

    def _logs(self, crds: pulumi.Resource, after_crds: pulumi.ResourceOptions) -> None:
        """Loki (after its object-store credentials), the Alloy DaemonSet feeding it, and
        the API server's audit log where the control plane writes one."""
        args, logging = self._args, self._logging
        credentials = self._loki_credentials(logging)
        loki_opts = pulumi.ResourceOptions.merge(
            after_crds,
            pulumi.ResourceOptions(depends_on=[crds, *([credentials] if credentials else [])]),
        )
        kube.helm_chart(
            LOKI,
            chart("loki"),
            logging,
            loki_values(args.settings, self._object_store(), args.storage_class),
            loki_opts,
        )
        kube.helm_chart(
            "alloy", chart("alloy"), logging, alloy_values(args.settings, logging), after_crds
        )
        if (log := args.audit_log) is not None:
            audit.ship(log, args.settings.cluster_name, args.namespaces, logging, after_crds)

    def _platform_alerts(self, opts: pulumi.ResourceOptions) -> None:
        """The platform's own alert rules (data/rules)."""
        k8s.apiextensions.CustomResource(
            "platform-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={
                "name": f"{KPS}-platform-alerts",
                "namespace": self._monitoring,
                "labels": kube.MANAGED_BY,
            },
            spec=platform_rules(),
            opts=opts,
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
                # kind's kubelets serve self-signed certificates (dev only, documented);
                # elsewhere kubelets get serving certificates from the cluster CA
                # (serverTLSBootstrap, see capi_objects.KUBELET_SERVING_PATCH), which the
                # service account's ca.crt holds: kubeadm's kube-controller-manager signs
                # kubernetes.io/kubelet-serving CSRs with it (--cluster-signing-cert-file).
                "args": ["--kubelet-insecure-tls"]
                if s.kubelet_insecure_tls
                else [f"--kubelet-certificate-authority={CLUSTER_CA}"],
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
            # No receivers: no stringData at all. An empty map is dropped from the provider's
            # state, so every later preview would plan a replacement of the Secret.
            string_data=pulumi.Output.secret(data) if data else None,
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
            for name, body in dashboards().items()
        ]
