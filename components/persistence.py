"""PersistenceLayer: storage classes, volume snapshots, backups and etcd snapshots.

prod (AWS): the EBS CSI driver, an encrypted gp3 default class that keeps its
volumes (Retain) and a Delete class for scratch data, CSI snapshots, Velero
writing to an existing S3 bucket that this program never owns.
dev (kind): the cluster's own `standard` class, no snapshots (local-path has none),
Velero writing to a single-replica SeaweedFS inside the cluster.
Also: etcd snapshots to object storage (capi mode) and the backup taken before a
Kubernetes version upgrade (`pre_upgrade_backup_hook`).
"""

from __future__ import annotations

import asyncio
import configparser
import datetime as dt
import inspect
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from kernel import footprint, kube
from kernel import namespaces as ns
from kernel.catalogue import chart
from kernel.contracts import BackupMonitoring, HookFactory, LateBound, ObjectStoreInfo

TYPE_TOKEN = "k8splatform:persistence:PersistenceLayer"

EMBEDDED = "embedded"
EXTERNAL = "external"
OBJECT_STORE_MODES = (EMBEDDED, EXTERNAL)

EBS_DRIVER = "ebs.csi.aws.com"
VELERO_PLUGIN_AWS = "velero/velero-plugin-for-aws:v1.14.0"
# The amazon/aws-cli image uploads etcd snapshots and creates the embedded buckets.
# Pinned by digest: a tag can be re-pushed, a digest cannot (see the Trivy incident).
AWS_CLI_IMAGE = (
    "amazon/aws-cli:2.17.0@sha256:643507c10ada7964ca6157b3d799f030b90577643da9955d319a77399ed80d73"
)
# etcdctl for the snapshot job; match the cluster's etcd minor.
ETCD_IMAGE = (
    "registry.k8s.io/etcd:3.6.5-0"
    "@sha256:042ef9c02799eb9303abf1aa99b09f09d94b8ee3ba0c2dd3f42dc4e1d3dce534"
)
# SeaweedFS (Apache-2.0), the embedded dev object store; see docs/persistence.md.
SEAWEEDFS_IMAGE = (
    "chrislusf/seaweedfs:3.85"
    "@sha256:49312939c00c01e5ee6afbd7d728b18027821d3764c35a797a72acd4fdf3296a"
)
SEAWEEDFS = "seaweedfs"
SEAWEEDFS_S3_PORT = 8333
EMBEDDED_REGION = "us-east-1"
BSL_NAME = "default"
VELERO_METRICS_PORT = 8085
VELERO_POD_LABELS = {"app.kubernetes.io/name": "velero"}
SEAWEEDFS_LABELS = {"app.kubernetes.io/name": SEAWEEDFS, "app.kubernetes.io/component": "s3"}
NONROOT = 65532

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
VELERO_SNAPSHOT_CLASS_LABEL = "velero.io/csi-volumesnapshot-class"

# Go durations as Velero parses them (no `d` unit): 720h, 90m, 1h30m.
GO_DURATION_RE = re.compile(r"(?=\d)(\d+h)?(\d+m)?(\d+s)?")


# ---- settings ---------------------------------------------------------------------------


class SecretValue(Protocol):
    """A credential from settings (components.settings.Secret)."""

    key: str

    def output(self) -> pulumi.Output[str]: ...

    def plaintext(self) -> str: ...


@dataclass(frozen=True)
class StorageSettings:
    existing_class: str | None
    """Use this class as the default as it is (dev: kind's `standard`); None = create classes."""
    default_class: str = "gp3-encrypted"
    scratch_class: str = "gp3-scratch"
    kms_key_id: str | None = None
    fs_type: str = "ext4"
    ebs_controller_replicas: int = 2


@dataclass(frozen=True)
class SnapshotSettings:
    enabled: bool
    controller_replicas: int = 2
    class_name: str = "ebs-vsc"
    driver: str = EBS_DRIVER
    deletion_policy: str = "Delete"


@dataclass(frozen=True)
class ScheduleSettings:
    name: str
    schedule: str
    ttl: str
    included_namespaces: tuple[str, ...] = ("*",)
    snapshot_volumes: bool = True


@dataclass(frozen=True)
class ObjectStoreSettings:
    mode: str
    """`embedded` (SeaweedFS in the cluster, dev) or `external` (an existing bucket)."""
    bucket: str
    region: str
    prefix: str
    endpoint: str | None = None
    """S3-compatible endpoint URL; None = AWS S3."""
    credentials: SecretValue | None = None
    """AWS INI profile (`[default]` with aws_access_key_id / aws_secret_access_key);
    None = IRSA (role_arn) or the node instance profile."""
    role_arn: str | None = None
    preflight: bool = False
    loki_bucket: str | None = None
    embedded_size: str = "10Gi"


@dataclass(frozen=True)
class BackupSettings:
    enabled: bool
    object_store: ObjectStoreSettings
    schedules: tuple[ScheduleSettings, ...] = ()
    pre_upgrade_backup: bool = True
    pre_upgrade_timeout_seconds: int = 1800
    default_ttl: str = "720h"


@dataclass(frozen=True)
class EtcdSnapshotSettings:
    schedule: str = "0 */6 * * *"
    keep: int = 28
    etcd_image: str = ETCD_IMAGE
    cluster_name: str = "cluster"


@dataclass(frozen=True)
class PersistenceSettings:
    storage: StorageSettings
    snapshots: SnapshotSettings
    backups: BackupSettings
    etcd: EtcdSnapshotSettings = field(default_factory=EtcdSnapshotSettings)
    protect_stateful: bool = False
    """protect + retain-on-delete for storage classes and PVC-owning objects."""


# ---- pure helpers (validated in settings, reused here) ------------------------------------


def parse_aws_ini(text: str) -> tuple[str, str] | None:
    """(access key id, secret key) from an AWS INI profile, or None if it is not one."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    for section in parser.sections():
        key = parser.get(section, "aws_access_key_id", fallback="").strip()
        secret = parser.get(section, "aws_secret_access_key", fallback="").strip()
        if key and secret:
            return key, secret
    return None


def aws_ini(access_key: str, secret_key: str) -> str:
    return f"[default]\naws_access_key_id={access_key}\naws_secret_access_key={secret_key}\n"


def go_duration_hours(value: str) -> float | None:
    """'720h' -> 720.0, '1h30m' -> 1.5; None when it is not a Go duration Velero accepts."""
    m = GO_DURATION_RE.fullmatch(value)
    if not m:
        return None
    h, mi, s = (int(g[:-1]) if g else 0 for g in m.groups())
    return h + mi / 60 + s / 3600


def cron_interval_hours(expr: str) -> float:
    """The typical time between two runs of a cron expression (an estimate: the
    finest restricted field decides; lists divide the period evenly)."""
    macros = {"@hourly": 1.0, "@daily": 24.0, "@midnight": 24.0, "@weekly": 168.0}
    if expr in macros:
        return macros[expr]
    if expr in ("@monthly", "@yearly", "@annually"):
        return 744.0 if expr == "@monthly" else 8760.0
    minute, hour, dom, _month, dow = expr.split()

    def every(field_: str, period: float, unit: float) -> float | None:
        if field_ == "*":
            return unit
        if field_.startswith("*/") and field_[2:].isdigit():
            return int(field_[2:]) * unit
        if "," in field_:
            return period / len(field_.split(","))
        return None

    for f, period, unit in ((minute, 1.0, 1 / 60), (hour, 24.0, 1.0)):
        step = every(f, period, unit)
        if step is not None:
            return step
    if dom == "*" and dow == "*":
        return 24.0
    if dow != "*":
        return 168.0 / len(dow.split(","))
    return 744.0 / len(dom.split(","))


# ---- typed outputs for other components ---------------------------------------------------


VELERO_METRICS = (
    "velero_backup_last_status",
    "velero_backup_last_successful_timestamp",
    "velero_backup_failure_total",
    "velero_backup_partial_failure_total",
)


def velero_alert_rules(schedules: Sequence[ScheduleSettings]) -> dict[str, Any]:
    """Alert when a scheduled backup fails or has not succeeded within ~1 interval.

    Each schedule gets its own staleness threshold: interval + 1h grace.
    """
    rules: list[dict[str, Any]] = [
        {
            "alert": "VeleroBackupFailed",
            "expr": 'velero_backup_last_status{schedule!=""} != 1',
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "Velero backup {{ $labels.schedule }} failed"},
        },
        {
            "alert": "VeleroBackupPartiallyFailed",
            "expr": 'increase(velero_backup_partial_failure_total{schedule!=""}[1h]) > 0',
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Velero backup {{ $labels.schedule }} partially failed in the last hour"
            },
        },
    ]
    for s in schedules:
        limit = int((cron_interval_hours(s.schedule) + 1) * 3600)
        rules.append(
            {
                "alert": "VeleroBackupTooOld",
                "expr": (
                    f'time() - velero_backup_last_successful_timestamp{{schedule="{s.name}"}} '
                    f"> {limit}"
                ),
                "for": "15m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": f"No successful Velero backup for schedule {s.name} "
                    f"in {limit // 3600}h"
                },
            }
        )
    return {"groups": [{"name": "velero", "rules": rules}]}


# ---- the component ------------------------------------------------------------------------


class KubeObject(pulumi.CustomResource):
    """A custom-resource object with top-level fields besides `spec` (VolumeSnapshotClass
    has `driver` and `deletionPolicy`), which `apiextensions.CustomResource` cannot express.
    Same type token the Kubernetes provider uses for any CRD kind."""

    def __init__(
        self,
        name: str,
        api_version: str,
        kind: str,
        body: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"apiVersion": api_version, "kind": kind, **body}
        super().__init__(f"kubernetes:{api_version}:{kind}", name, props, opts)

    def name_output(self) -> pulumi.Output[str]:
        metadata: pulumi.Output[Any] = getattr(self, "metadata")  # noqa: B009
        return metadata.apply(lambda m: m["name"])


@dataclass(frozen=True)
class PersistenceLayerArgs:
    settings: PersistenceSettings
    provider: k8s.Provider
    velero_namespace: pulumi.Input[str]
    storage_namespace: pulumi.Input[str]
    etcd_backup_namespace: pulumi.Input[str]
    etcd_snapshots: bool = False
    """True when etcd runs on control-plane nodes we own (capi mode)."""


class PersistenceLayer(pulumi.ComponentResource):
    default_storage_class: pulumi.Output[str]
    scratch_storage_class: pulumi.Output[str]
    snapshot_class: pulumi.Output[str | None]
    backup_location: pulumi.Output[dict[str, Any] | None]
    backup_schedules: pulumi.Output[list[dict[str, Any]]]
    object_store: ObjectStoreInfo | None
    backup_monitoring: BackupMonitoring | None

    def __init__(
        self, name: str, args: PersistenceLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._args = args
        s = args.settings
        self._child = kube.child_opts(self, args.provider)
        # Stateful objects: `pulumi destroy` must not take them (prod).
        self._keep = pulumi.ResourceOptions.merge(
            self._child,
            pulumi.ResourceOptions(protect=s.protect_stateful, retain_on_delete=s.protect_stateful),
        )
        self._storage(s.storage)
        snapshots_ready = self._snapshots(s.snapshots)
        self.object_store = None
        self.backup_monitoring = None
        self.backup_location = pulumi.Output.from_input(None)
        self.backup_schedules = pulumi.Output.from_input([])
        if s.backups.enabled:
            self._backups(s.backups, s.snapshots.enabled, snapshots_ready)
        if args.etcd_snapshots and s.backups.enabled:
            self._etcd_snapshots(s)
        self.register_outputs(
            {
                "default_storage_class": self.default_storage_class,
                "scratch_storage_class": self.scratch_storage_class,
                "snapshot_class": self.snapshot_class,
                "backup_location": self.backup_location,
                "backup_schedules": self.backup_schedules,
            }
        )

    # -- storage classes --

    def _storage(self, st: StorageSettings) -> None:
        if st.existing_class is not None:
            # dev: kind's `standard` (local-path) is already the default; install nothing.
            self.default_storage_class = pulumi.Output.from_input(st.existing_class)
            self.scratch_storage_class = self.default_storage_class
            return
        replicas = st.ebs_controller_replicas
        kube.helm_chart(
            "aws-ebs-csi-driver",
            chart("aws-ebs-csi-driver"),
            # kube-system: the node plugin is privileged with hostPath /var/lib/kubelet and
            # /dev, and uses the system-node-critical priority class, like the EKS add-on.
            "kube-system",
            {
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
                    "resources": kube.resources(
                        "10m", "64Mi", cpu_limit="200m", memory_limit="256Mi"
                    ),
                },
                "node": {
                    "resources": kube.resources(
                        "10m", "64Mi", cpu_limit="200m", memory_limit="256Mi"
                    ),
                },
                # Classes are plain objects below, so they can be protected one by one.
                "storageClasses": [],
                "defaultStorageClass": {"enabled": False},
                "volumeSnapshotClasses": [],
            },
            self._child,
        )
        params: dict[str, str] = {
            "type": "gp3",
            "encrypted": "true",
            "csi.storage.k8s.io/fstype": st.fs_type,
        }
        if st.kms_key_id:
            params["kmsKeyId"] = st.kms_key_id
        default = self._storage_class(
            st.default_class, params, reclaim="Retain", default=True, opts=self._keep
        )
        scratch = self._storage_class(
            st.scratch_class, params, reclaim="Delete", default=False, opts=self._child
        )
        self.default_storage_class = default.metadata.name
        self.scratch_storage_class = scratch.metadata.name

    def _storage_class(
        self,
        name: str,
        params: Mapping[str, str],
        *,
        reclaim: str,
        default: bool,
        opts: pulumi.ResourceOptions,
    ) -> k8s.storage.v1.StorageClass:
        # Plain dicts typed Any: mypy's matching of literals against the SDK's
        # TypedDict unions is exponential.
        metadata: Any = {
            "name": name,
            "labels": kube.MANAGED_BY,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true" if default else "false"},
        }
        parameters: Any = dict(params)
        return k8s.storage.v1.StorageClass(
            f"{name}-storageclass",
            metadata=metadata,
            provisioner=EBS_DRIVER,
            parameters=parameters,
            reclaim_policy=reclaim,
            volume_binding_mode="WaitForFirstConsumer",  # volume in the pod's zone
            allow_volume_expansion=True,
            opts=opts,
        )

    # -- snapshots --

    def _snapshots(self, sn: SnapshotSettings) -> list[pulumi.Resource]:
        if not sn.enabled:
            # dev: local-path has no snapshot support; Velero backs up objects only.
            self.snapshot_class = pulumi.Output.from_input(None)
            return []
        replicas = sn.controller_replicas
        controller = kube.helm_chart(
            "snapshot-controller",
            chart("snapshot-controller"),
            self._args.storage_namespace,
            {
                "controller": {
                    "replicaCount": replicas,
                    "pdb": {"minAvailable": 1} if replicas > 1 else {},
                    # The storage namespace enforces Pod Security `restricted`; the chart
                    # default lacks seccomp and allowPrivilegeEscalation: false.
                    "podSecurityContext": _pod_security(),
                    "securityContext": _restricted_container_security(),
                    "resources": kube.resources(
                        "10m", "32Mi", cpu_limit="100m", memory_limit="128Mi"
                    ),
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
                    # One class, created below with the Velero label.
                    "volumeSnapshotClasses": [],
                },
                # The validation webhook needs a TLS Secret the chart makes in a hook;
                # validation is built into the v8 CRDs (CEL), so it is not needed.
                "webhook": {"enabled": False},
            },
            self._child,
        )
        kube.network_policy(
            "allow-apiserver",
            self._args.storage_namespace,
            self._child,
            egress_to=[],
            egress_ports=kube.tcp(443, 6443),
            resource_name="storage-allow-apiserver",
        )
        vsc = KubeObject(
            f"{sn.class_name}-volumesnapshotclass",
            "snapshot.storage.k8s.io/v1",
            "VolumeSnapshotClass",
            {
                "metadata": {
                    "name": sn.class_name,
                    "labels": {**kube.MANAGED_BY, VELERO_SNAPSHOT_CLASS_LABEL: "true"},
                    "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"},
                },
                "driver": sn.driver,
                "deletionPolicy": sn.deletion_policy,
            },
            # The CRD comes with the controller chart.
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[controller])
            ),
        )
        self.snapshot_class = vsc.name_output()
        return [controller, vsc]

    # -- backups --

    def _backups(
        self, b: BackupSettings, csi: bool, snapshots_ready: list[pulumi.Resource]
    ) -> None:
        a = self._args
        store = b.object_store
        depends: list[pulumi.Resource] = list(snapshots_ready)
        access: pulumi.Output[str] | None = None
        secret_key: pulumi.Output[str] | None = None
        secret_name: str | None = None
        if store.mode == EMBEDDED:
            access, secret_key, ready = self._embedded_store(store)
            secret_name = "object-store-credentials"
            depends += ready
            endpoint: str | None = embedded_endpoint()
        else:
            endpoint = store.endpoint
            if store.credentials is not None:
                pair = store.credentials.output().apply(_keys_or_fail)
                access = pulumi.Output.secret(pair.apply(lambda p: p[0]))
                secret_key = pulumi.Output.secret(pair.apply(lambda p: p[1]))
                secret_name = "velero-cloud-credentials"
                depends.append(
                    self._credentials_secret(
                        secret_name, a.velero_namespace, store.credentials.output()
                    )
                )
        self._credentials_secret_name = secret_name
        self._credentials = (access, secret_key)
        values = velero_values(
            b,
            csi=csi,
            endpoint=endpoint,
            credentials_secret=secret_name,
            force_path_style=store.mode == EMBEDDED or store.endpoint is not None,
        )
        kube.helm_chart(
            "velero",
            chart("velero"),
            a.velero_namespace,
            values,
            pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=depends)),
        )
        # API-server egress and Prometheus scraping come from SecurityBaseline's
        # per-namespace allows; the embedded store is in this namespace.
        if store.mode == EXTERNAL:
            kube.network_policy(
                "allow-object-store-egress",
                a.velero_namespace,
                self._child,
                pod_selector=VELERO_POD_LABELS,
                egress_to=[],  # S3 endpoints are public addresses that change
                egress_ports=kube.tcp(443),
                resource_name="velero-allow-object-store-egress",
            )
        region = EMBEDDED_REGION if store.mode == EMBEDDED else store.region
        self.backup_location = pulumi.Output.from_input(
            {
                "name": BSL_NAME,
                "provider": "aws",
                "bucket": store.bucket,
                "prefix": store.prefix,
                "region": region,
                "endpoint": endpoint,
                "credentials": "secret" if secret_name else "irsa-or-instance-profile",
            }
        )
        self.backup_schedules = pulumi.Output.from_input(
            [
                {
                    "name": s.name,
                    "schedule": s.schedule,
                    "ttl": s.ttl,
                    "includedNamespaces": list(s.included_namespaces),
                }
                for s in b.schedules
            ]
        )
        if store.loki_bucket:
            self.object_store = ObjectStoreInfo(
                endpoint=endpoint,
                region=region,
                bucket=store.loki_bucket,
                force_path_style=store.mode == EMBEDDED or store.endpoint is not None,
                insecure=store.mode == EMBEDDED,
                access_key_id=access,
                secret_access_key=secret_key,
            )
        self.backup_monitoring = BackupMonitoring(
            namespace=pulumi.Output.from_input(a.velero_namespace),
            pod_labels=VELERO_POD_LABELS,
            metrics_port=VELERO_METRICS_PORT,
            metrics=VELERO_METRICS,
            prometheus_rule_spec=velero_alert_rules(b.schedules),
        )

    def _credentials_secret(
        self,
        name: str,
        namespace: pulumi.Input[str],
        ini: pulumi.Input[str],
        extra: Mapping[str, pulumi.Input[str]] | None = None,
        resource_name: str | None = None,
    ) -> k8s.core.v1.Secret:
        """Key `cloud` holds the AWS INI profile (what Velero and aws-cli read)."""
        metadata: Any = {"name": name, "namespace": namespace, "labels": kube.MANAGED_BY}
        data: Any = {"cloud": pulumi.Output.secret(ini), **(extra or {})}
        return k8s.core.v1.Secret(
            resource_name or name,
            metadata=metadata,
            type="Opaque",
            string_data=data,
            opts=self._child,
        )

    def _embedded_store(
        self, store: ObjectStoreSettings
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], list[pulumi.Resource]]:
        """SeaweedFS in one pod (master, volume, filer and S3 gateway in one process)."""
        a = self._args
        namespace = a.velero_namespace
        access_r = random.RandomString(
            "object-store-access-key",
            length=20,
            special=False,
            lower=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        secret_r = random.RandomPassword(
            "object-store-secret-key",
            length=40,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        access: pulumi.Output[str] = access_r.result.apply(pulumi.Output.secret)
        secret_key: pulumi.Output[str] = secret_r.result.apply(pulumi.Output.secret)
        ini = pulumi.Output.all(access, secret_key).apply(lambda p: aws_ini(p[0], p[1]))
        s3_json = pulumi.Output.all(access, secret_key).apply(
            lambda p: json.dumps(seaweedfs_identities(p[0], p[1]))
        )
        creds = self._credentials_secret(
            "object-store-credentials",
            namespace,
            ini,
            {
                "s3.json": pulumi.Output.secret(s3_json),
                "AWS_ACCESS_KEY_ID": access,
                "AWS_SECRET_ACCESS_KEY": secret_key,
            },
        )
        objs = seaweedfs_manifests(store.embedded_size)
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{SEAWEEDFS}-data",
            metadata=_in(objs["pvc"]["metadata"], namespace),
            spec=objs["pvc"]["spec"],
            # The default class of the cluster; WaitForFirstConsumer binds on first pod.
            opts=self._keep,
        )
        footprint.record(footprint.from_object("Deployment", SEAWEEDFS, objs["deployment"]))
        deployment = k8s.apps.v1.Deployment(
            SEAWEEDFS,
            metadata=_in(objs["deployment"]["metadata"], namespace),
            spec=objs["deployment"]["spec"],
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[creds, pvc])
            ),
        )
        service = k8s.core.v1.Service(
            f"{SEAWEEDFS}-service",
            metadata=_in(objs["service"]["metadata"], namespace),
            spec=objs["service"]["spec"],
            opts=self._child,
        )
        kube.network_policy(
            "allow-object-store-clients",
            namespace,
            self._child,
            pod_selector=SEAWEEDFS_LABELS,
            # Loki (logging) and the etcd snapshot uploader; Velero is same-namespace.
            ingress_from=[
                kube.namespace_peer(ns.LOGGING),
                kube.namespace_peer(ns.ETCD_BACKUP),
            ],
            ingress_ports=kube.tcp(SEAWEEDFS_S3_PORT),
            resource_name="velero-allow-object-store-clients",
        )
        buckets = [store.bucket] + ([store.loki_bucket] if store.loki_bucket else [])
        job = bucket_job(buckets)
        footprint.record(footprint.from_object("Job", "object-store-buckets", job))
        bucket_job_r = k8s.batch.v1.Job(
            "object-store-buckets",
            metadata=_in(job["metadata"], namespace),
            spec=job["spec"],
            # Pulumi waits for the Job to complete: Velero starts with its bucket present.
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[deployment, service, creds])
            ),
        )
        return access, secret_key, [creds, bucket_job_r]

    # -- etcd snapshots --

    def _etcd_snapshots(self, s: PersistenceSettings) -> None:
        a = self._args
        store = s.backups.object_store
        secret_name = None
        if store.mode == EMBEDDED or store.credentials is not None:
            secret_name = "etcd-backup-credentials"
            access, secret_key = self._credentials
            ini = (
                pulumi.Output.all(access, secret_key).apply(lambda p: aws_ini(p[0], p[1]))
                if store.mode == EMBEDDED
                else store.credentials.output()  # type: ignore[union-attr]
            )
            self._credentials_secret(
                secret_name, a.etcd_backup_namespace, ini, resource_name="etcd-backup-credentials"
            )
        cron = etcd_snapshot_cronjob(
            s.etcd,
            bucket=store.bucket,
            prefix=f"{store.prefix}/etcd/{s.etcd.cluster_name}".lstrip("/"),
            region=EMBEDDED_REGION if store.mode == EMBEDDED else store.region,
            endpoint=embedded_endpoint() if store.mode == EMBEDDED else store.endpoint,
            credentials_secret=secret_name,
        )
        footprint.record(footprint.from_object("CronJob", "etcd-snapshot", cron))
        k8s.batch.v1.CronJob(
            "etcd-snapshot",
            metadata=_in(cron["metadata"], a.etcd_backup_namespace),
            spec=cron["spec"],
            opts=self._child,
        )


def _in(metadata: Mapping[str, Any], namespace: pulumi.Input[str]) -> Any:
    """Rendered metadata placed in the (Output) namespace; typed Any for the SDK."""
    return {**metadata, "namespace": namespace}


def _keys_or_fail(ini: str) -> tuple[str, str]:
    pair = parse_aws_ini(ini)
    if pair is None:  # settings validated it already; never echo the value
        raise ValueError("object store credentials are not an AWS INI profile")
    return pair


def embedded_endpoint() -> str:
    return f"http://{SEAWEEDFS}.{ns.VELERO}.svc.cluster.local:{SEAWEEDFS_S3_PORT}"


# ---- rendered objects (pure, so tests and checkov see exactly what is applied) -------------


def _restricted_container_security(run_as_root: bool = False) -> dict[str, Any]:
    sc: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if not run_as_root:
        sc.update({"runAsNonRoot": True, "runAsUser": NONROOT, "runAsGroup": NONROOT})
    return sc


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NONROOT,
        "runAsGroup": NONROOT,
        "fsGroup": NONROOT,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def seaweedfs_identities(access_key: str, secret_key: str) -> dict[str, Any]:
    """SeaweedFS S3 identity file: one admin identity, used by Velero, Loki and etcd."""
    return {
        "identities": [
            {
                "name": "platform",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def seaweedfs_manifests(size: str) -> dict[str, dict[str, Any]]:
    labels: dict[str, str] = {**kube.MANAGED_BY, **SEAWEEDFS_LABELS}
    meta: dict[str, Any] = {"name": SEAWEEDFS, "labels": labels}
    container: dict[str, Any] = {
        "name": SEAWEEDFS,
        "image": SEAWEEDFS_IMAGE,
        "imagePullPolicy": "Always",
        "command": ["weed"],
        "args": [
            "server",
            "-dir=/data",
            "-ip=127.0.0.1",  # every SeaweedFS role lives in this one pod
            "-ip.bind=0.0.0.0",
            "-master.volumeSizeLimitMB=1024",
            "-volume.max=0",
            "-filer",
            "-s3",
            f"-s3.port={SEAWEEDFS_S3_PORT}",
            "-s3.config=/etc/seaweedfs/s3.json",
        ],
        "ports": [{"name": "s3", "containerPort": SEAWEEDFS_S3_PORT, "protocol": "TCP"}],
        "readinessProbe": {
            "tcpSocket": {"port": "s3"},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "livenessProbe": {
            "tcpSocket": {"port": "s3"},
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
        "resources": kube.resources("100m", "256Mi", cpu_limit="500m", memory_limit="512Mi"),
        "securityContext": _restricted_container_security(),
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "config", "mountPath": "/etc/seaweedfs", "readOnly": True},
        ],
    }
    return {
        "pvc": {
            "metadata": {**meta, "name": f"{SEAWEEDFS}-data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            },
        },
        "deployment": {
            "metadata": meta,
            "spec": {
                "replicas": 1,
                # One RWO volume: never two pods at once.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": dict(SEAWEEDFS_LABELS)},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": _pod_security(),
                        "containers": [container],
                        "volumes": [
                            {
                                "name": "data",
                                "persistentVolumeClaim": {"claimName": f"{SEAWEEDFS}-data"},
                            },
                            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                            {
                                "name": "config",
                                "secret": {
                                    "secretName": "object-store-credentials",
                                    "items": [{"key": "s3.json", "path": "s3.json"}],
                                },
                            },
                        ],
                    },
                },
            },
        },
        "service": {
            "metadata": meta,
            "spec": {
                "selector": dict(SEAWEEDFS_LABELS),
                "ports": [
                    {"name": "s3", "port": SEAWEEDFS_S3_PORT, "targetPort": "s3", "protocol": "TCP"}
                ],
            },
        },
    }


def _aws_cli_container(
    name: str, script: str, env: list[dict[str, Any]], *, root: bool, credentials: bool
) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if credentials:
        mounts.append({"name": "credentials", "mountPath": "/credentials", "readOnly": True})
        env = [*env, {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/credentials/cloud"}]
    return {
        "name": name,
        "image": AWS_CLI_IMAGE,
        "imagePullPolicy": "Always",
        "command": ["/bin/sh", "-ec", script],
        "env": [{"name": "HOME", "value": "/tmp"}, *env],
        "resources": kube.resources("50m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
        "securityContext": _restricted_container_security(run_as_root=root),
        "volumeMounts": mounts,
    }


BUCKET_SCRIPT = """\
for b in $BUCKETS; do
  if aws --endpoint-url "$ENDPOINT" s3api head-bucket --bucket "$b" 2>/dev/null; then
    echo "bucket $b exists"
  else
    aws --endpoint-url "$ENDPOINT" s3api create-bucket --bucket "$b"
  fi
done
"""


def bucket_job(buckets: Sequence[str]) -> dict[str, Any]:
    """Creates the embedded store's buckets once it answers (idempotent, retried).

    A plain Job instead of a Helm hook: Chart v4 never runs hooks, and Pulumi waits
    for the Job to complete before Velero starts.
    """
    container = _aws_cli_container(
        "create-buckets",
        BUCKET_SCRIPT,
        [
            {"name": "ENDPOINT", "value": embedded_endpoint()},
            {"name": "BUCKETS", "value": " ".join(buckets)},
            {"name": "AWS_REGION", "value": EMBEDDED_REGION},
        ],
        root=False,
        credentials=True,
    )
    return {
        "metadata": {
            "name": "object-store-buckets",
            "labels": {**kube.MANAGED_BY, "app.kubernetes.io/name": "object-store-buckets"},
        },
        "spec": {
            "backoffLimit": 12,  # the server may still be starting
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "object-store-buckets"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security(),
                    "containers": [container],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        {
                            "name": "credentials",
                            "secret": {
                                "secretName": "object-store-credentials",
                                "items": [{"key": "cloud", "path": "cloud"}],
                            },
                        },
                    ],
                },
            },
        },
    }


UPLOAD_SCRIPT = """\
stamp=$(date -u +%Y%m%dT%H%M%SZ)
ep=""; [ -n "${ENDPOINT:-}" ] && ep="--endpoint-url $ENDPOINT"
sse=""; [ -z "${ENDPOINT:-}" ] && sse="--sse AES256"
aws $ep s3 cp /backup/snapshot.db "s3://$BUCKET/$PREFIX/$stamp-$NODE.db" $sse
# Retention: keep the newest $KEEP snapshots (names sort by time).
aws $ep s3 ls "s3://$BUCKET/$PREFIX/" | while read -r _d _t _s name; do echo "$name"; done \\
  | grep '\\.db$' | sort | head -n "-$KEEP" | while read -r old; do
    aws $ep s3 rm "s3://$BUCKET/$PREFIX/$old"
  done
"""


def etcd_snapshot_cronjob(
    etcd: EtcdSnapshotSettings,
    *,
    bucket: str,
    prefix: str,
    region: str,
    endpoint: str | None,
    credentials_secret: str | None,
) -> dict[str, Any]:
    """etcdctl snapshot on a control-plane node, then upload and prune (cluster-api.md §10)."""
    snapshot: dict[str, Any] = {
        "name": "snapshot",
        "image": etcd.etcd_image,
        "imagePullPolicy": "Always",
        "command": ["etcdctl", "snapshot", "save", "/backup/snapshot.db"],
        "env": [
            {"name": "ETCDCTL_ENDPOINTS", "value": "https://127.0.0.1:2379"},
            {"name": "ETCDCTL_CACERT", "value": "/etc/kubernetes/pki/etcd/ca.crt"},
            {"name": "ETCDCTL_CERT", "value": "/etc/kubernetes/pki/etcd/healthcheck-client.crt"},
            {"name": "ETCDCTL_KEY", "value": "/etc/kubernetes/pki/etcd/healthcheck-client.key"},
        ],
        "resources": kube.resources("100m", "128Mi", cpu_limit="500m", memory_limit="512Mi"),
        # The etcd client key is root-owned 0600 on the node.
        "securityContext": _restricted_container_security(run_as_root=True),
        "volumeMounts": [
            {"name": "etcd-certs", "mountPath": "/etc/kubernetes/pki/etcd", "readOnly": True},
            {"name": "backup", "mountPath": "/backup"},
        ],
    }
    env: list[dict[str, Any]] = [
        {"name": "BUCKET", "value": bucket},
        {"name": "PREFIX", "value": prefix},
        {"name": "KEEP", "value": str(etcd.keep)},
        {"name": "AWS_REGION", "value": region},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    if endpoint:
        env.append({"name": "ENDPOINT", "value": endpoint})
    upload = _aws_cli_container(
        "upload", UPLOAD_SCRIPT, env, root=True, credentials=credentials_secret is not None
    )
    # The snapshot file is written 0600 by root; the uploader reads it as root.
    upload["volumeMounts"].append({"name": "backup", "mountPath": "/backup", "readOnly": True})
    volumes: list[dict[str, Any]] = [
        {
            "name": "etcd-certs",
            "hostPath": {"path": "/etc/kubernetes/pki/etcd", "type": "Directory"},
        },
        {"name": "backup", "emptyDir": {"sizeLimit": "10Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    if credentials_secret:
        volumes.append(
            {
                "name": "credentials",
                "secret": {
                    "secretName": credentials_secret,
                    "items": [{"key": "cloud", "path": "cloud"}],
                },
            }
        )
    why = (
        "etcd listens on 127.0.0.1 of control-plane nodes and its client certs are root-only files"
    )
    return {
        "metadata": {
            "name": "etcd-snapshot",
            "labels": {**kube.MANAGED_BY, "app.kubernetes.io/name": "etcd-snapshot"},
            "annotations": {
                "checkov.io/skip1": f"CKV_K8S_19=hostNetwork: {why}",
                "checkov.io/skip2": f"CKV_K8S_23=runs as root: {why}",
                "checkov.io/skip3": f"CKV_K8S_40=runs as root: {why}",
            },
        },
        "spec": {
            "schedule": etcd.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 3600,
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "etcd-snapshot"}},
                        "spec": {
                            "hostNetwork": True,
                            "dnsPolicy": "ClusterFirstWithHostNet",
                            "automountServiceAccountToken": False,
                            "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
                            "tolerations": [
                                {
                                    "key": "node-role.kubernetes.io/control-plane",
                                    "operator": "Exists",
                                    "effect": "NoSchedule",
                                }
                            ],
                            "restartPolicy": "OnFailure",
                            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                            "initContainers": [snapshot],
                            "containers": [upload],
                            "volumes": volumes,
                        },
                    },
                }
            },
        },
    }


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
    embedded = store.mode == EMBEDDED
    config: dict[str, str] = {"region": EMBEDDED_REGION if embedded else store.region}
    if endpoint:
        config["s3Url"] = endpoint
    if force_path_style:
        config["s3ForcePathStyle"] = "true"
    if embedded:
        # aws-sdk-go-v2 (plugin >= v1.13) sends CRC32 checksums some S3-compatibles reject.
        config["checksumAlgorithm"] = ""
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
                "securityContext": _restricted_container_security(),
            }
        ],
        "resources": kube.resources("100m", "128Mi", cpu_limit="1000m", memory_limit="512Mi"),
        "podSecurityContext": _pod_security(),
        "containerSecurityContext": _restricted_container_security(),
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
        "schedules": {
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
        },
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


# ---- backup before a Kubernetes upgrade -----------------------------------------------------

T = TypeVar("T")


class BackupApi(Protocol):
    """The two calls the hook makes; tests pass a fake."""

    def create_backup(self, namespace: str, body: Mapping[str, Any]) -> None: ...

    def backup_phase(self, namespace: str, name: str) -> str | None: ...


class KubeBackupApi:
    """BackupApi over the Kubernetes API (velero.io/v1 Backups)."""

    def __init__(self, kubeconfig: str) -> None:
        from kernel.kubeapi import KubeApi

        self._api = KubeApi(kubeconfig)

    def create_backup(self, namespace: str, body: Mapping[str, Any]) -> None:
        self._api.request("POST", f"/apis/velero.io/v1/namespaces/{namespace}/backups", body)

    def backup_phase(self, namespace: str, name: str) -> str | None:
        obj = self._api.request("GET", f"/apis/velero.io/v1/namespaces/{namespace}/backups/{name}")
        return ((obj or {}).get("status") or {}).get("phase")


class PreUpgradeBackupError(pulumi.RunError):
    pass


FAILED_PHASES = ("FailedValidation", "PartiallyFailed", "Failed")


def _version(inputs: Mapping[str, Any] | None) -> str | None:
    spec = (inputs or {}).get("spec") or {}
    version = spec.get("version")
    return str(version) if version else None


def backup_name(version: str, now: dt.datetime) -> str:
    stamp = now.strftime("%Y%m%d%H%M%S")
    return f"pre-upgrade-{version.lower().replace('+', '-')}-{stamp}"


class PreUpgradeBackup:
    """before_update hook on the KubeadmControlPlane: on a version change, take a
    Velero backup of everything and wait until it is Completed; otherwise fail the
    update so the control plane is not upgraded without a fresh backup."""

    def __init__(
        self,
        api: Callable[[], BackupApi | Awaitable[BackupApi]],
        *,
        namespace: str = ns.VELERO,
        timeout_seconds: int = 1800,
        ttl: str = "720h",
        enabled: bool = True,
        poll_seconds: float = 10,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.timeout_seconds = timeout_seconds
        self.ttl = ttl
        self.enabled = enabled
        self.poll_seconds = poll_seconds
        self.now = now
        self.sleep = sleep
        self.clock = clock

    def manifest(self, name: str, old: str, new: str) -> dict[str, Any]:
        return {
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {**kube.MANAGED_BY, "k8s-platform/backup": "pre-upgrade"},
                "annotations": {"k8s-platform/upgrade": f"{old} -> {new}"},
            },
            "spec": {
                "includedNamespaces": ["*"],
                "storageLocation": BSL_NAME,
                "ttl": self.ttl,
            },
        }

    async def __call__(self, args: pulumi.ResourceHookArgs) -> str | None:
        """Returns the backup name it took, None when there was nothing to do."""
        old, new = _version(args.old_inputs), _version(args.new_inputs)
        if old is None or new is None or old == new or not self.enabled:
            return None
        made = self.api()
        api: BackupApi = await made if inspect.isawaitable(made) else made
        name = backup_name(new, self.now())
        pulumi.log.info(f"pre-upgrade backup {self.namespace}/{name} ({old} -> {new})")
        await asyncio.to_thread(api.create_backup, self.namespace, self.manifest(name, old, new))
        deadline = self.clock() + self.timeout_seconds
        phase: str | None = None
        while True:
            phase = await asyncio.to_thread(api.backup_phase, self.namespace, name)
            if phase == "Completed":
                return name
            if phase in FAILED_PHASES:
                raise PreUpgradeBackupError(
                    f"pre-upgrade backup {self.namespace}/{name} ended {phase}; the control "
                    f"plane stays at {old}. Inspect it with `velero backup describe {name} "
                    "--details`, fix the cause and run `pulumi up` again (or set "
                    "persistence.backups.preUpgradeBackup: false to upgrade without one)"
                )
            if self.clock() >= deadline:
                raise PreUpgradeBackupError(
                    f"pre-upgrade backup {self.namespace}/{name} not Completed after "
                    f"{self.timeout_seconds}s (phase {phase}); the control plane stays at {old}"
                )
            await self.sleep(self.poll_seconds)


def pre_upgrade_backup_hook(
    settings: PersistenceSettings,
    kubeconfig: LateBound[str],
    *,
    api: Callable[[], BackupApi | Awaitable[BackupApi]] | None = None,
) -> pulumi.ResourceHook:
    """The `before_update` hook HAControlPlane binds on the KubeadmControlPlane.

    `kubeconfig` is bound to the workload cluster kubeconfig after HAControlPlane
    is created (see docs/persistence.md); the hook reads it only when it runs.
    """

    async def kube_api() -> BackupApi:
        return KubeBackupApi(await kubeconfig.get())

    b = settings.backups
    runner = PreUpgradeBackup(
        api or kube_api,
        timeout_seconds=b.pre_upgrade_timeout_seconds,
        ttl=b.default_ttl,
        enabled=b.enabled and b.pre_upgrade_backup,
    )

    async def before_update(args: pulumi.ResourceHookArgs) -> None:
        await runner(args)

    return pulumi.ResourceHook("pre-upgrade-backup", before_update)


def pre_upgrade_backups(settings: PersistenceSettings) -> tuple[HookFactory, ...]:
    """What the composition root hands HAControlPlane: the pre-upgrade backup hook,
    made once the control plane knows its workload kubeconfig."""
    return (lambda kubeconfig: pre_upgrade_backup_hook(settings, kubeconfig),)
