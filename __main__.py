"""Composition root: settings -> cluster -> security -> persistence -> observability."""

import pulumi

from components import namespaces as ns
from components import preflight_s3
from components.control_plane import HAControlPlane, HAControlPlaneArgs
from components.observability import ObservabilityStack, ObservabilityStackArgs
from components.persistence import PersistenceLayer, PersistenceLayerArgs
from components.security import SecurityBaseline, SecurityBaselineArgs
from components.settings import from_pulumi

# Validates every setting before a single resource is registered.
cfg = from_pulumi()
preflight_s3.run(cfg.persistence.backups.object_store)

cluster = HAControlPlane("cluster", HAControlPlaneArgs(settings=cfg.cluster))

security = SecurityBaseline(
    "security",
    SecurityBaselineArgs(
        settings=cfg.security,
        provider=cluster.provider,
        pod_security_version=cfg.cluster.kubernetes_minor,
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
        # HAControlPlane.etcd_snapshots arrives with capi mode (False for existing clusters).
        etcd_snapshots=getattr(cluster, "etcd_snapshots", False),
    ),
)

observability = ObservabilityStack(
    "observability",
    ObservabilityStackArgs(
        settings=cfg.observability,
        provider=cluster.provider,
        namespace=security.namespaces[ns.MONITORING],
        storage_class=persistence.default_storage_class,
    ),
)

pulumi.export("profile", cfg.profile)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("apiEndpoint", cluster.api_endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("kubernetesVersion", cluster.kubernetes_version)
pulumi.export("controlPlaneReplicas", cluster.control_plane_replicas)
pulumi.export("failureDomains", cluster.failure_domains)
pulumi.export("platformNamespaces", security.namespaces)
pulumi.export("tenantNamespaces", security.tenant_namespaces)
pulumi.export("defaultStorageClass", persistence.default_storage_class)
pulumi.export("scratchStorageClass", persistence.scratch_storage_class)
pulumi.export("snapshotClass", persistence.snapshot_class)
pulumi.export("backupLocation", persistence.backup_location)
pulumi.export("backupSchedules", persistence.backup_schedules)
