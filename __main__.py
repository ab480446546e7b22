"""Composition root: settings, preflights, then cluster -> security -> persistence ->
observability -> edge, each given only what it needs; then the stack outputs."""

import pulumi

from components.control_plane import HAControlPlane, HAControlPlaneArgs, server_version
from components.control_plane import preflight as preflight_capa
from components.edge import EdgeGateway, EdgeGatewayArgs
from components.observability import ObservabilityStack, ObservabilityStackArgs
from components.observability.component import operator_crds
from components.persistence import PersistenceLayer, PersistenceLayerArgs
from components.persistence import preflight as preflight_s3
from components.persistence.upgrade_hook import pre_upgrade_backups
from components.security import SecurityBaseline, SecurityBaselineArgs
from kernel import fixture, footprint
from kernel import namespaces as ns
from settings import from_pulumi, installed_features, matrix_mode

# Validates every setting before a single resource is registered.
cfg = from_pulumi()
# Preview and up say where they are about to deploy before anything else happens.
pulumi.log.info(f"stack {cfg.stack} ({cfg.profile} profile) deploys to {cfg.cluster.target}")
for warning in cfg.warnings:
    pulumi.log.warn(warning)
preflight_capa.check(cfg.cluster)
server_version.check(
    cfg.cluster.existing,
    cfg.cluster.kubernetes_version,
    installed_features(cfg.cluster, cfg.security, cfg.persistence, cfg.edge),
    matrix_mode(cfg.cluster),
)
# Test-only, off unless the live suite sets it (kernel/fixture.py).
fixture.apply_test_switches()
preflight_s3.run(cfg.persistence.backups.object_store)

cluster = HAControlPlane(
    "cluster",
    HAControlPlaneArgs(settings=cfg.cluster, before_upgrade=pre_upgrade_backups(cfg.persistence)),
)

# Before SecurityBaseline: the add-ons' ServiceMonitors need these CRDs.
monitoring_crds = operator_crds(cluster.provider, parent=cluster)

security = SecurityBaseline(
    "security",
    SecurityBaselineArgs(
        settings=cfg.security,
        provider=cluster.provider,
        pod_security_version=cfg.cluster.kubernetes_minor,
        monitoring_crds=(monitoring_crds,),
        network=cluster.network,
        kubelet_serving=cluster.kubelet_serving,
    ),
)

persistence = PersistenceLayer(
    "persistence",
    PersistenceLayerArgs(
        settings=cfg.persistence,
        provider=cluster.provider,
        velero_namespace=security.namespaces[ns.VELERO],
        storage_namespace=security.namespaces[ns.STORAGE],
        etcd_backup_namespace=security.namespaces[ns.ETCD_BACKUP],
        etcd_snapshots=cluster.etcd_snapshots,
        network=cluster.network,
    ),
)

observability = ObservabilityStack(
    "observability",
    ObservabilityStackArgs(
        settings=cfg.observability,
        provider=cluster.provider,
        namespaces={
            ns.MONITORING: security.namespaces[ns.MONITORING],
            ns.LOGGING: security.namespaces[ns.LOGGING],
            ns.NODE_EXPORTER: security.namespaces[ns.NODE_EXPORTER],
            ns.APISERVER_AUDIT: security.namespaces[ns.APISERVER_AUDIT],
        },
        storage_class=persistence.default_storage_class,
        internal_issuer=security.internal_issuer,
        control_plane_metrics=cluster.control_plane_metrics,
        object_store=persistence.object_store,
        backup_monitoring=persistence.backup_monitoring,
        operator_crds=monitoring_crds,
        network=cluster.network,
        audit_log=cluster.audit_log,
    ),
)

edge = EdgeGateway(
    "edge",
    EdgeGatewayArgs(
        settings=cfg.edge,
        provider=cluster.provider,
        namespace=security.namespaces[ns.GATEWAY],
        cluster_issuer=security.cluster_issuer,
        grafana=observability.grafana,
        prometheus=observability.prometheus,
        alertmanager=observability.alertmanager,
        tenants=security.exposed_tenants,
        depends_on=(security,),
    ),
)

pulumi.export("profile", cfg.profile)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("apiEndpoint", cluster.api_endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("breakGlassKubeconfig", cluster.break_glass_kubeconfig)
pulumi.export("kubernetesVersion", cluster.kubernetes_version)
pulumi.export("controlPlaneReplicas", cluster.control_plane_replicas)
pulumi.export("failureDomains", cluster.failure_domains)
pulumi.export("controlPlaneMetrics", cluster.control_plane_metrics)
pulumi.export("etcdSnapshots", cluster.etcd_snapshots)
pulumi.export("platformNamespaces", security.namespaces)
pulumi.export("tenantNamespaces", security.tenant_namespaces)
pulumi.export("clusterIssuer", security.cluster_issuer)
pulumi.export("policyMode", security.policy_mode)
pulumi.export("defaultStorageClass", persistence.default_storage_class)
pulumi.export("scratchStorageClass", persistence.scratch_storage_class)
pulumi.export("snapshotClass", persistence.snapshot_class)
pulumi.export("backupLocation", persistence.backup_location)
pulumi.export("backupSchedules", persistence.backup_schedules)
pulumi.export("grafanaUrl", observability.grafana_url)
pulumi.export("prometheusUrl", observability.prometheus_url)
pulumi.export("alertmanagerUrl", observability.alertmanager_url)
pulumi.export("lokiPushUrl", observability.loki_push_url)
pulumi.export("grafanaAdminSecret", observability.grafana_admin_secret)
pulumi.export("gatewayAddress", edge.gateway_address)
pulumi.export("grafanaPublicUrl", edge.grafana_url)
pulumi.export("prometheusPublicUrl", edge.prometheus_url)
pulumi.export("alertmanagerPublicUrl", edge.alertmanager_url)
pulumi.export("edgeBasicAuthSecret", edge.basic_auth_secret)
pulumi.export("footprint", footprint.report(cfg.profile))
