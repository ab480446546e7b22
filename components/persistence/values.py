"""Chart values of PersistenceLayer: Velero, the EBS CSI driver, the snapshot controller."""

from __future__ import annotations

from typing import Any

from components.persistence.names import BSL_NAME, EMBEDDED_REGION, VELERO_PLUGIN_AWS
from components.persistence.objects import pod_security, restricted_container_security
from components.persistence.settings import EMBEDDED, BackupSettings
from kernel import kube


def velero_values(
    b: BackupSettings,
    *,
    csi: bool,
    endpoint: str | None,
    credentials_secret: str | None,
    force_path_style: bool,
) -> dict[str, Any]:
    """Velero chart values (velero-12.1.0-values.yaml). Never contains a credential."""
    store = b.object_store
    config = _bsl_config(b, endpoint, force_path_style)
    values: dict[str, Any] = {
        # The CRD-upgrade Job is a Helm hook that Chart v4 drops; Chart v4 applies the
        # chart's crds/ itself on every version bump, so the Job is not needed.
        "upgradeCRDs": False,
        # The namespace (with Pod Security labels) comes from SecurityBaseline; the
        # chart's namespace-label Job is a hook too, so no `namespace.labels` here.
        "initContainers": [
            {
                "name": "velero-plugin-for-aws",
                "image": VELERO_PLUGIN_AWS,
                "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
                "resources": kube.resources("10m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
                "securityContext": restricted_container_security(),
            }
        ],
        "resources": kube.resources("100m", "128Mi", cpu_limit="1000m", memory_limit="512Mi"),
        "podSecurityContext": pod_security(),
        "containerSecurityContext": restricted_container_security(),
        "metrics": {
            "enabled": True,
            # The prometheus-operator CRDs arrive with the observability stack, after
            # this component: it creates the scrape config and the PrometheusRule from
            # `backup_monitoring` instead (see docs/persistence.md).
            "serviceMonitor": {"enabled": False},
            "prometheusRule": {"enabled": False},
        },
        "configuration": {
            "backupStorageLocation": [
                {
                    "name": BSL_NAME,
                    "provider": "aws",
                    "bucket": store.bucket,
                    "prefix": store.prefix,
                    "default": True,
                    "accessMode": "ReadWrite",
                    "config": config,
                }
            ],
            "uploaderType": "kopia",
            "defaultBackupTTL": b.default_ttl,
            "defaultSnapshotMoveData": False,
        },
        # Provider-native (EBS API) snapshots would need a VolumeSnapshotLocation; CSI
        # snapshots through the snapshot class cover the same volumes.
        "snapshotsEnabled": False,
        "deployNodeAgent": False,
        "credentials": {"useSecret": credentials_secret is not None},
        "schedules": _schedules(b, csi),
    }
    if csi:
        values["configuration"]["features"] = "EnableCSI"
    if credentials_secret is not None:
        values["credentials"]["existingSecret"] = credentials_secret
    if store.role_arn:
        values["serviceAccount"] = {
            "server": {"annotations": {"eks.amazonaws.com/role-arn": store.role_arn}}
        }
    return values


def _bsl_config(b: BackupSettings, endpoint: str | None, force_path_style: bool) -> dict[str, str]:
    """The BackupStorageLocation `config` of the aws plugin."""
    store = b.object_store
    embedded = store.mode == EMBEDDED
    config: dict[str, str] = {"region": EMBEDDED_REGION if embedded else store.region}
    if endpoint:
        config["s3Url"] = endpoint
    if force_path_style:
        config["s3ForcePathStyle"] = "true"
    if embedded:
        # aws-sdk-go-v2 (plugin >= v1.13) sends CRC32 checksums some S3-compatibles reject.
        config["checksumAlgorithm"] = ""
    return config


def _schedules(b: BackupSettings, csi: bool) -> dict[str, Any]:
    return {
        s.name: {
            "disabled": False,
            "schedule": s.schedule,
            # Backups must outlive their Schedule object.
            "useOwnerReferencesInBackup": False,
            "template": {
                "ttl": s.ttl,
                "storageLocation": BSL_NAME,
                "includedNamespaces": list(s.included_namespaces),
                "snapshotVolumes": csi and s.snapshot_volumes,
            },
        }
        for s in b.schedules
    }


def ebs_csi_values(replicas: int, snapshots: bool) -> dict[str, Any]:
    """aws-ebs-csi-driver values: the controller HA over zones; classes are created
    as plain objects by the component."""
    sidecar = kube.resources("10m", "32Mi", cpu_limit="100m", memory_limit="64Mi")
    return {
        # The chart adds the snapshotter only once the cluster serves snapshot.storage.k8s.io
        # (templates/controller.yaml): on a new cluster the CRDs come later in the same
        # `pulumi up`, so the second run would change the controller. Decided here instead.
        "sidecars": {
            "snapshotter": {"forceEnable": snapshots},
            # The chart's defaults set no CPU limit (templates/_node.tpl, controller.yaml).
            "livenessProbe": {"resources": sidecar},
            "nodeDriverRegistrar": {"resources": sidecar},
        },
        "controller": {
            "replicaCount": replicas,
            "podDisruptionBudget": {"enabled": replicas > 1},
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app": "ebs-csi-controller"}},
                }
            ],
            "resources": kube.resources("10m", "64Mi", cpu_limit="200m", memory_limit="256Mi"),
        },
        "node": {
            "resources": kube.resources("10m", "64Mi", cpu_limit="200m", memory_limit="256Mi"),
            # The machines are Linux only; the chart's default also renders a privileged
            # Windows node DaemonSet that would schedule nowhere.
            "enableWindows": False,
        },
        # Classes are plain objects (the component), so they can be protected one by one.
        "storageClasses": [],
        "defaultStorageClass": {"enabled": False},
        "volumeSnapshotClasses": [],
    }


def snapshot_controller_values(replicas: int) -> dict[str, Any]:
    return {
        "controller": {
            "replicaCount": replicas,
            "pdb": {"minAvailable": 1} if replicas > 1 else {},
            # The storage namespace enforces Pod Security `restricted`; the chart
            # default lacks seccomp and allowPrivilegeEscalation: false.
            "podSecurityContext": pod_security(),
            "securityContext": restricted_container_security(),
            "resources": kube.resources("10m", "32Mi", cpu_limit="100m", memory_limit="128Mi"),
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {
                        "matchLabels": {"app.kubernetes.io/name": "snapshot-controller"}
                    },
                }
            ],
            # One class, created by the component with the Velero label.
            "volumeSnapshotClasses": [],
        },
        # The validation webhook needs a TLS Secret the chart makes in a hook;
        # validation is built into the v8 CRDs (CEL), so it is not needed.
        "webhook": {"enabled": False},
    }
