"""PersistenceLayer's settings: the `persistence` section (storage classes, snapshots,
Velero backups and their object store, etcd snapshots)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi

from components.persistence.formats import (
    cron_longest_gap_hours,
    go_duration_hours,
    parse_aws_ini,
)
from components.persistence.names import EBS_DRIVER, ETCD_IMAGE, ETCD_SNAPSHOT_ROOT
from kernel import objectstore
from kernel.config import (
    CRON,
    DNS_LABEL,
    DURATION,
    MEMORY_QUANTITY,
    MISSING,
    ByProfile,
    Section,
    duration_hours,
    matches,
)
from kernel.loader import Loader, Secret

EMBEDDED = "embedded"
EXTERNAL = "external"
OBJECT_STORE_MODES = (EMBEDDED, EXTERNAL)


class SecretValue(Protocol):
    """A credential from settings (kernel.loader.Secret)."""

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


def load_section(
    load: Loader, root: Section, *, cluster_name: str, tenant_names: Sequence[str]
) -> PersistenceSettings:
    """The `persistence` section. The cluster name is the default bucket prefix; the
    tenant namespaces get the prod hourly backup schedule."""
    s = root.section("persistence", doc="PersistenceLayer: storage, snapshots, backups.")
    protect = s.boolean(
        "protectStatefulResources",
        ByProfile(False, True),
        doc="Protect storage classes and PVC-owning objects from `pulumi destroy` "
        "(protect + retainOnDelete).",
    )
    load.prod_requires(
        s.key("protectStatefulResources"), bool(protect), protect, "protected stateful resources"
    )

    storage = _storage(load, s)
    snapshots = _snapshots(load, s)
    backups = _backups(load, s, cluster_name, tenant_names, snapshots.enabled)
    e = s.section("etcdSnapshots", doc="etcd snapshots to the object store (capi mode).")
    e_schedule = e.string(
        "schedule", "0 */6 * * *", doc="Cron expression for etcd snapshots.", check=RUNNING_CRON
    )
    keep = e.integer("keep", 28, doc="Snapshots kept (older ones are deleted).", minimum=1)
    etcd_image = e.string(
        "etcdImage",
        ETCD_IMAGE,
        doc="Image with etcdctl; match the cluster's etcd minor.",
    )
    e.close()
    s.close()
    return PersistenceSettings(
        protect_stateful=bool(protect),
        storage=storage,
        snapshots=snapshots,
        backups=backups,
        etcd=EtcdSnapshotSettings(
            schedule=e_schedule, keep=keep, etcd_image=etcd_image, cluster_name=cluster_name
        ),
    )


def _storage(load: Loader, s: Section) -> StorageSettings:
    st = s.section("storage", doc="StorageClasses.")
    existing = st.string(
        "existingClass",
        ByProfile("standard", None),
        doc="Use this existing StorageClass as the default and install nothing (kind: "
        "`standard`). Unset (prod): install the EBS CSI driver and create the classes.",
        check=DNS_LABEL,
    )
    default_class = st.string(
        "defaultClass", "gp3-encrypted", doc="Name of the created default class.", check=DNS_LABEL
    )
    scratch_class = st.string(
        "scratchClass",
        "gp3-scratch",
        doc="Name of the created class for scratch data (reclaimPolicy Delete).",
        check=DNS_LABEL,
    )
    kms = st.string(
        "kmsKeyId",
        None,
        doc="KMS key ARN for EBS encryption. Default: the account's aws/ebs key.",
        check=matches(r"arn:aws[-a-z]*:kms:[-a-z0-9]+:\d{12}:(key|alias)/\S+", "a KMS key ARN"),
    )
    fs_type = st.string(
        "fsType", "ext4", doc="Filesystem of created volumes.", choices=("ext4", "xfs")
    )
    ebs_replicas = st.integer(
        "ebsControllerReplicas",
        ByProfile(1, 2),
        doc="EBS CSI controller replicas.",
        minimum=1,
        maximum=5,
    )
    load.prod_minimum(st, "ebsControllerReplicas", ebs_replicas, 2)
    st.close()
    if existing is None and default_class == scratch_class:
        load.ctx.problem(
            st.key("scratchClass"), scratch_class, "must differ from storage.defaultClass"
        )
    return StorageSettings(
        existing_class=existing,
        default_class=default_class,
        scratch_class=scratch_class,
        kms_key_id=kms,
        fs_type=fs_type,
        ebs_controller_replicas=ebs_replicas,
    )


def _snapshots(load: Loader, s: Section) -> SnapshotSettings:
    sn = s.section("snapshots", doc="CSI volume snapshots (Velero uses them).")
    sn_enabled = sn.boolean(
        "enabled",
        ByProfile(False, True),
        doc="Install snapshot CRDs, the snapshot controller and a VolumeSnapshotClass. "
        "Off in dev: kind's local-path volumes cannot be snapshotted.",
    )
    sn_replicas = sn.integer(
        "controllerReplicas", ByProfile(1, 2), doc="snapshot-controller replicas.", minimum=1
    )
    load.prod_minimum(sn, "controllerReplicas", sn_replicas, 2)
    sn_class = sn.string("className", "ebs-vsc", doc="VolumeSnapshotClass name.", check=DNS_LABEL)
    sn_driver = sn.string("driver", "ebs.csi.aws.com", doc="CSI driver of the VolumeSnapshotClass.")
    sn_deletion = sn.string(
        "deletionPolicy",
        "Delete",
        doc="Delete: Velero's TTL removes the cloud snapshot too. Retain: keep it.",
        choices=("Delete", "Retain"),
    )
    sn.close()
    return SnapshotSettings(
        enabled=bool(sn_enabled),
        controller_replicas=sn_replicas,
        class_name=sn_class,
        driver=sn_driver,
        deletion_policy=sn_deletion,
    )


def _backups(
    load: Loader,
    s: Section,
    cluster_name: str,
    tenant_names: Sequence[str],
    snapshots_enabled: bool,
) -> BackupSettings:
    b = s.section("backups", doc="Velero backups.")
    b_enabled = b.boolean("enabled", True, doc="Install Velero.")
    default_ttl = b.string(
        "defaultTtl",
        "720h",
        doc="TTL of backups without one (on-demand and pre-upgrade backups).",
        check=_go_duration,
    )
    pre_upgrade = b.boolean(
        "preUpgradeBackup",
        True,
        doc="Take a Velero backup before the control plane is upgraded (capi mode).",
    )
    pre_timeout = b.string(
        "preUpgradeTimeout",
        "30m",
        doc="How long the upgrade waits for that backup to complete.",
        check=DURATION,
    )
    schedules = _schedules(load, b, tenant_names, snapshots_enabled)
    store = _object_store(load, b, cluster_name)
    b.close()
    return BackupSettings(
        enabled=bool(b_enabled),
        object_store=store,
        schedules=tuple(schedules),
        pre_upgrade_backup=bool(pre_upgrade),
        pre_upgrade_timeout_seconds=int(duration_hours(pre_timeout) * 3600),
        default_ttl=default_ttl,
    )


def _schedules(
    load: Loader, b: Section, tenant_names: Sequence[str], snapshots_enabled: bool
) -> list[ScheduleSettings]:
    critical = list(tenant_names)
    default_schedules: Any = ByProfile(
        dev=[{"name": "daily", "schedule": "0 3 * * *", "ttl": "168h"}],
        prod=(
            [
                {
                    "name": "hourly-tenants",
                    "schedule": "0 * * * *",
                    "ttl": "72h",
                    "includedNamespaces": critical,
                }
            ]
            if critical
            else []
        )
        + [{"name": "daily", "schedule": "0 2 * * *", "ttl": "720h"}],
    )
    schedules: list[ScheduleSettings] = []
    names: set[str] = set()
    for item in b.items(
        "schedules",
        default=default_schedules,
        doc="Velero schedules: name, schedule (cron), ttl (Go duration, e.g. 720h), "
        "includedNamespaces (default all), snapshotVolumes (default: snapshots.enabled). "
        "prod default: hourly for the tenant namespaces (72h) and daily for all (720h).",
    ):
        name = item.string("name", doc="Schedule name.", check=DNS_LABEL)
        cron = item.string("schedule", doc="Cron expression (UTC).", check=RUNNING_CRON)
        ttl = item.string("ttl", doc="How long each backup is kept.", check=_go_duration)
        included = item.strings(
            "includedNamespaces", ["*"], doc="Namespaces to back up ('*' = all).", min_items=1
        )
        snap = item.boolean("snapshotVolumes", snapshots_enabled, doc="Snapshot PVs (CSI).")
        if name in names:
            load.ctx.problem(item.key("name"), name, "schedule names must be unique")
        if name:
            names.add(name)
        if cron and ttl:
            _ttl_covers_the_longest_gap(load, item, cron, ttl)
        if name and cron and ttl:
            schedules.append(ScheduleSettings(name, cron, ttl, tuple(included), bool(snap)))
    return schedules


def _object_store(load: Loader, b: Section, cluster_name: str) -> ObjectStoreSettings:
    o = b.section("objectStore", doc="Where backups (and etcd snapshots) are written.")
    mode = o.string(
        "mode",
        ByProfile(EMBEDDED, EXTERNAL),
        doc="`embedded`: a single-replica SeaweedFS in the cluster (dev, no cloud account). "
        "`external`: an existing S3 bucket the program never creates or deletes.",
        choices=OBJECT_STORE_MODES,
    )
    load.prod_requires(
        o.key("mode"), mode == EXTERNAL, mode, "backups outside the cluster (mode: external)"
    )
    where = objectstore.read_location(
        o,
        bucket="velero" if mode == EMBEDDED else MISSING,
        region="us-east-1",
        docs={
            "bucket": "Bucket name (external: must already exist, versioned and encrypted).",
            "region": "Bucket region.",
            "endpoint": "S3-compatible endpoint URL (external mode). Default: AWS S3.",
            "roleArn": "IAM role for Velero's service account (IRSA / EKS Pod Identity).",
        },
    )
    bucket, region, endpoint, role_arn = where.bucket, where.region, where.endpoint, where.role_arn
    prefix = o.string(
        "prefix",
        cluster_name,
        doc="Key prefix inside the bucket. Default: the cluster name.",
        check=_velero_prefix,
    )
    credentials = _store_credentials(load, o)
    preflight = o.boolean(
        "preflight",
        ByProfile(False, True),
        doc="Before anything is deployed, check the external bucket with boto3: it exists, "
        "versioning and default encryption are on, public access is blocked.",
    )
    loki_bucket = o.string(
        "lokiBucket",
        # dev keeps Loki on its filesystem (one replica, nothing to replicate).
        None,
        doc="Bucket offered to Loki through `object_store` (embedded: created here). "
        "Unset: no object store for Loki.",
        check=objectstore.bucket_name,
    )
    size = o.string(
        "embeddedSize", "10Gi", doc="PVC size of the embedded store.", check=MEMORY_QUANTITY
    )
    o.close()
    if mode == EMBEDDED:
        _external_only(load, o, endpoint=endpoint, role_arn=role_arn, credentials=credentials)
        credentials = None
    else:
        _require_credentials(load, o, credentials is not None or role_arn is not None)
    return ObjectStoreSettings(
        mode=mode,
        bucket=bucket or "velero",
        region=region or "us-east-1",
        prefix=prefix,
        endpoint=endpoint,
        credentials=credentials,
        role_arn=role_arn,
        preflight=bool(preflight) and mode == EXTERNAL,
        loki_bucket=loki_bucket,
        embedded_size=size,
    )


def _cron_runs(value: str) -> str | None:
    try:
        cron_longest_gap_hours(value)
    except ValueError as exc:
        return f"a cron expression that runs: {exc}"
    return None


def RUNNING_CRON(value: str) -> str | None:
    """A 5-field cron expression (or macro) that parses and runs at least twice."""
    return CRON(value) or _cron_runs(value)


def _ttl_covers_the_longest_gap(load: Loader, item: Section, cron: str, ttl: str) -> None:
    """Every backup must live until the next one exists, across the longest gap between
    runs (a weekend, the night between `0 1,2 * * *` runs), not the average."""
    gap = cron_longest_gap_hours(cron)
    if (go_duration_hours(ttl) or 0) <= gap:
        load.ctx.problem(
            item.key("ttl"),
            ttl,
            f"must be longer than the schedule's longest gap between runs ({gap:g}h for "
            f"'{cron}'), or there are hours with no backup at all",
        )


def _require_credentials(load: Loader, o: Section, given: bool) -> None:
    """Without keys or a role Velero falls back to the node's instance profile through
    IMDS: every pod that reaches IMDS then holds the backup bucket (docs/security.md)."""
    load.prod_requires(
        o.key("credentialsSecret"),
        given,
        None,
        "static keys (credentialsSecret) or roleArn for Velero, not the node's instance profile",
    )


def _store_credentials(load: Loader, o: Section) -> Secret | None:
    credentials = load.secret(
        o,
        "credentialsSecret",
        required=False,
        doc="Name of the `secrets` entry holding an AWS INI profile ([default] "
        "aws_access_key_id/aws_secret_access_key). Unset: IRSA (roleArn) or the node "
        "instance profile.",
    )
    if credentials is not None and parse_aws_ini(credentials.plaintext()) is None:
        load.ctx.problem(
            o.key("credentialsSecret"),
            credentials.key,
            "the secret must be an AWS INI profile with aws_access_key_id and "
            "aws_secret_access_key",
        )
    return credentials


def _external_only(
    load: Loader,
    o: Section,
    *,
    endpoint: str | None,
    role_arn: str | None,
    credentials: Secret | None,
) -> None:
    """An embedded store takes no endpoint, role or credentials."""
    for key, value in (
        ("endpoint", endpoint),
        ("roleArn", role_arn),
        ("credentialsSecret", credentials),
    ):
        if value is not None:
            load.ctx.problem(o.key(key), getattr(value, "key", value), "only for mode: external")


def _go_duration(value: str) -> str | None:
    if go_duration_hours(value) is None:
        return "expected a Go duration such as 720h, 72h or 1h30m (Velero has no 'd' unit)"
    return None


def _velero_prefix(value: str) -> str | None:
    """Velero's prefix must not contain the etcd snapshots' folder (Velero's IsValid)."""
    if value.split("/", maxsplit=1)[0] == ETCD_SNAPSHOT_ROOT:
        return f"expected a key prefix outside {ETCD_SNAPSHOT_ROOT}/ (the etcd snapshots' folder)"
    return objectstore.KEY_PREFIX(value)
