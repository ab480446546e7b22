"""Stack config -> validated, typed settings for every component.

This is the only module that reads Pulumi config. A profile (`dev` | `prod`) supplies
the defaults, so a stack file states only what differs. Every problem is collected
and raised as one `SettingsError` before any resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.control_plane import settings as cluster_settings
from components.control_plane.settings import ClusterSettings
from components.edge import settings as edge_settings
from components.edge.settings import EdgeSettings
from components.observability import (
    RECEIVER_TYPES,
    SEVERITIES,
    AlertingSettings,
    LokiObjectStoreSettings,
    LokiSettings,
    ObservabilitySettings,
    PrometheusSettings,
    Receiver,
)
from components.persistence import (
    EMBEDDED,
    ETCD_IMAGE,
    EXTERNAL,
    OBJECT_STORE_MODES,
    BackupSettings,
    EtcdSnapshotSettings,
    ObjectStoreSettings,
    PersistenceSettings,
    ScheduleSettings,
    SnapshotSettings,
    StorageSettings,
    cron_interval_hours,
    go_duration_hours,
    parse_aws_ini,
)
from components.security import settings as security_settings
from components.security.settings import SecuritySettings
from kernel.config import (
    CPU_QUANTITY,
    CRON,
    DNS_LABEL,
    DURATION,
    EMAIL,
    MEMORY_QUANTITY,
    MISSING,
    ByProfile,
    Context,
    FieldDoc,
    Section,
    duration_hours,
    matches,
    memory_bytes,
    one_of,
)
from kernel.loader import Loader, SettingsError

PROJECT = "k8s-platform"
PROFILES = ("dev", "prod")


PREFLIGHT_SWITCHES = ("cluster.capi.aws.preflight", "persistence.backups.objectStore.preflight")
"""Settings that turn off the cloud preflights (previews and renders without credentials)."""


@dataclass(frozen=True)
class Settings:
    profile: str
    stack: str
    accept_risks: tuple[str, ...]
    cluster: ClusterSettings
    security: SecuritySettings
    persistence: PersistenceSettings
    observability: ObservabilitySettings
    edge: EdgeSettings


def _persistence(
    load: Loader, root: Section, cluster: ClusterSettings, security: SecuritySettings
) -> PersistenceSettings:
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
    critical = [t.name for t in security.tenants]
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
        cron = item.string("schedule", doc="Cron expression (UTC).", check=CRON)
        ttl = item.string("ttl", doc="How long each backup is kept.", check=_go_duration)
        included = item.strings(
            "includedNamespaces", ["*"], doc="Namespaces to back up ('*' = all).", min_items=1
        )
        snap = item.boolean("snapshotVolumes", bool(sn_enabled), doc="Snapshot PVs (CSI).")
        if name in names:
            load.ctx.problem(item.key("name"), name, "schedule names must be unique")
        if name:
            names.add(name)
        if cron and ttl:
            hours = go_duration_hours(ttl) or 0
            interval = cron_interval_hours(cron)
            if hours <= interval:
                load.ctx.problem(
                    item.key("ttl"),
                    ttl,
                    f"must be longer than the schedule's interval (~{interval:g}h for "
                    f"'{cron}'), or a backup expires before the next one exists",
                )
        if name and cron and ttl:
            schedules.append(ScheduleSettings(name, cron, ttl, tuple(included), bool(snap)))

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
    bucket = o.string(
        "bucket",
        "velero" if mode == EMBEDDED else MISSING,
        doc="Bucket name (external: must already exist, versioned and encrypted).",
        check=BUCKET_NAME,
    )
    region = o.string(
        "region",
        "us-east-1",
        doc="Bucket region.",
        check=matches(r"[a-z]{2}(-[a-z]+)+-\d", "an AWS region such as eu-west-1"),
    )
    prefix = o.string(
        "prefix",
        cluster.name,
        doc="Key prefix inside the bucket. Default: the cluster name.",
        check=matches(r"[a-zA-Z0-9][-a-zA-Z0-9_./]*[a-zA-Z0-9]|[a-zA-Z0-9]", "a key prefix"),
    )
    endpoint = o.string(
        "endpoint",
        None,
        doc="S3-compatible endpoint URL (external mode). Default: AWS S3.",
        check=matches(r"https?://[^\s/]+(/\S*)?", "an http(s) URL"),
    )
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
    role_arn = o.string(
        "roleArn",
        None,
        doc="IAM role for Velero's service account (IRSA / EKS Pod Identity).",
        check=matches(r"arn:aws[-a-z]*:iam::\d{12}:role/\S+", "an IAM role ARN"),
    )
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
        check=BUCKET_NAME,
    )
    size = o.string(
        "embeddedSize", "10Gi", doc="PVC size of the embedded store.", check=MEMORY_QUANTITY
    )
    o.close()
    if mode == EMBEDDED:
        for key, value in (
            ("endpoint", endpoint),
            ("roleArn", role_arn),
            ("credentialsSecret", credentials),
        ):
            if value is not None:
                load.ctx.problem(
                    o.key(key), getattr(value, "key", value), "only for mode: external"
                )
        credentials = None
    b.close()

    e = s.section("etcdSnapshots", doc="etcd snapshots to the object store (capi mode).")
    e_schedule = e.string(
        "schedule", "0 */6 * * *", doc="Cron expression for etcd snapshots.", check=CRON
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
        storage=StorageSettings(
            existing_class=existing,
            default_class=default_class,
            scratch_class=scratch_class,
            kms_key_id=kms,
            fs_type=fs_type,
            ebs_controller_replicas=ebs_replicas,
        ),
        snapshots=SnapshotSettings(
            enabled=bool(sn_enabled),
            controller_replicas=sn_replicas,
            class_name=sn_class,
            driver=sn_driver,
            deletion_policy=sn_deletion,
        ),
        backups=BackupSettings(
            enabled=bool(b_enabled),
            object_store=ObjectStoreSettings(
                mode=mode,
                bucket=bucket or "velero",
                region=region,
                prefix=prefix,
                endpoint=endpoint,
                credentials=credentials,
                role_arn=role_arn,
                preflight=bool(preflight) and mode == EXTERNAL,
                loki_bucket=loki_bucket,
                embedded_size=size,
            ),
            schedules=tuple(schedules),
            pre_upgrade_backup=bool(pre_upgrade),
            pre_upgrade_timeout_seconds=int(duration_hours(pre_timeout) * 3600),
            default_ttl=default_ttl,
        ),
        etcd=EtcdSnapshotSettings(
            schedule=e_schedule, keep=keep, etcd_image=etcd_image, cluster_name=cluster.name
        ),
    )


def _go_duration(value: str) -> str | None:
    if go_duration_hours(value) is None:
        return "expected a Go duration such as 720h, 72h or 1h30m (Velero has no 'd' unit)"
    return None


BUCKET_NAME = matches(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name (3-63, a-z 0-9 . -)")


def _observability(load: Loader, root: Section, cluster_name: str) -> ObservabilitySettings:
    s = root.section("observability", doc="ObservabilityStack.")
    zone_spread = s.boolean(
        "zoneSpread",
        ByProfile(False, True),
        doc="Spread HA replicas over `topology.kubernetes.io/zone` (hard: nodes need the label).",
    )
    ms = s.section("metricsServer", doc="metrics-server (HPA and `kubectl top`).")
    replicas = load.replicas(ms, "replicas", ByProfile(1, 2), doc="Replicas.", maximum=5)
    insecure_tls = ms.boolean(
        "kubeletInsecureTls",
        ByProfile(True, False),
        doc="Skip kubelet certificate checks (`--kubelet-insecure-tls`; kind's kubelets).",
    )
    load.prod_requires(
        ms.key("kubeletInsecureTls"), not insecure_tls, insecure_tls, "verified kubelet TLS"
    )
    ms.close()
    prometheus = _prometheus(load, s)
    alerting = _alerting(load, s)
    gs = s.section("grafana", doc="Grafana (stateless replicas, provisioned from ConfigMaps).")
    grafana_replicas = load.replicas(
        gs, "replicas", ByProfile(1, 2), doc="Grafana replicas.", maximum=5
    )
    gs.close()
    loki = _loki(load, s)
    s.close()
    return ObservabilitySettings(
        metrics_server_replicas=replicas,
        kubelet_insecure_tls=insecure_tls,
        cluster_name=cluster_name,
        zone_spread=zone_spread,
        prometheus=prometheus,
        alerting=alerting,
        grafana_replicas=grafana_replicas,
        loki=loki,
    )


# Prometheus needs head-room above retentionSize for the WAL and compaction.
RETENTION_SIZE_SHARE = 0.85


def _prometheus(load: Loader, parent: Section) -> PrometheusSettings:
    p = parent.section("prometheus", doc="Prometheus (kube-prometheus-stack).")
    replicas = load.replicas(p, "replicas", ByProfile(1, 2), doc="Replicas.", maximum=5)
    retention = p.string(
        "retention", ByProfile("2d", "15d"), doc="How long samples are kept.", check=DURATION
    )
    volume = p.string(
        "volumeSize",
        ByProfile("5Gi", "50Gi"),
        doc="PVC size per replica (on the PersistenceLayer default StorageClass).",
        check=MEMORY_QUANTITY,
    )
    size = p.string(
        "retentionSize",
        ByProfile("4Gi", "42Gi"),
        doc="Oldest blocks are dropped above this size; at most 85% of `volumeSize`.",
        check=MEMORY_QUANTITY,
    )
    if size and volume and memory_bytes(size) > RETENTION_SIZE_SHARE * memory_bytes(volume):
        load.ctx.problem(
            p.key("retentionSize"),
            size,
            f"must be at most {int(RETENTION_SIZE_SHARE * 100)}% of "
            f"{p.key('volumeSize')} ({volume}) to leave room for the WAL and compaction",
        )
    cpu = p.string("cpu", ByProfile("200m", "1"), doc="CPU request.", check=CPU_QUANTITY)
    memory = p.string(
        "memory", ByProfile("512Mi", "4Gi"), doc="Memory request = limit.", check=MEMORY_QUANTITY
    )
    p.close()
    return PrometheusSettings(
        replicas=replicas,
        retention=retention,
        retention_size=size,
        volume_size=volume,
        cpu=cpu,
        memory=memory,
    )


def _alerting(load: Loader, parent: Section) -> AlertingSettings:
    a = parent.section("alerting", doc="Alertmanager and where alerts go.")
    replicas = load.replicas(
        a, "replicas", ByProfile(1, 3), doc="Alertmanager replicas (gossip cluster)."
    )
    receivers: list[Receiver] = []
    names: set[str] = set()
    for r in a.items(
        "receivers",
        doc="Notification targets; each gets the alerts whose severity it lists. "
        "Credentials are names in `secrets` (Slack/webhook URL, PagerDuty routing key, "
        "SMTP password).",
    ):
        name = r.string("name", doc="Receiver name (unique).", check=DNS_LABEL)
        if name in {"null", "deadmansswitch"} or name in names:
            load.ctx.problem(r.key("name"), name, "must be unique and not 'deadmansswitch'")
        type_ = r.string("type", doc="slack, pagerduty, email or webhook.", choices=RECEIVER_TYPES)
        secret = load.secret(
            r, "secret", required=True, doc="Name in `secrets` of the URL / key / password."
        )
        severities = r.strings(
            "severities",
            ("critical", "warning"),
            doc="Severities routed here.",
            check=one_of(SEVERITIES),
            min_items=1,
        )
        channel = r.string("channel", None, doc="slack: channel, e.g. #alerts.")
        to = r.string("to", None, doc="email: recipient.", check=EMAIL)
        sender = r.string("from", None, doc="email: sender.", check=EMAIL)
        smarthost = r.string("smarthost", None, doc="email: SMTP host:port (STARTTLS).")
        username = r.string("username", None, doc="email: SMTP user.")
        if type_ == "email":
            for key, value in (("to", to), ("from", sender), ("smarthost", smarthost)):
                if not value:
                    load.ctx.problem(r.key(key), MISSING, "required for an email receiver")
        if name and type_ and secret is not None:
            names.add(name)
            receivers.append(
                Receiver(
                    name=name,
                    type=type_,
                    secret=secret,
                    severities=severities,
                    slack_channel=channel,
                    email_to=to,
                    email_from=sender,
                    smarthost=smarthost,
                    username=username,
                )
            )
    dms = load.secret(
        a,
        "deadMansSwitchSecret",
        required=False,
        doc="Name in `secrets` of a webhook URL that receives the always-firing Watchdog "
        "alert (e.g. a healthchecks.io ping URL); silence there means alerting is broken.",
    )
    a.close()
    return AlertingSettings(replicas=replicas, receivers=tuple(receivers), dead_mans_switch=dms)


def _loki(load: Loader, parent: Section) -> LokiSettings:
    lk = parent.section("loki", doc="Loki (monolithic; replicated on object storage in prod).")
    replicas = load.replicas(
        lk, "replicas", ByProfile(1, 3), doc="Loki replicas (>1 needs object storage)."
    )
    factor = lk.integer(
        "replicationFactor",
        ByProfile(1, 3),
        doc="Copies of each log stream; at most `replicas`.",
        minimum=1,
    )
    if replicas and factor and factor > replicas:
        load.ctx.problem(
            lk.key("replicationFactor"),
            factor,
            f"must be at most {lk.key('replicas')} ({replicas}): "
            "Loki needs that many live replicas to accept a write",
        )
    retention = lk.string(
        "retention", ByProfile("72h", "744h"), doc="Log retention (compactor).", check=DURATION
    )
    if retention and DURATION(retention) is None and duration_hours(retention) < 24:
        load.ctx.problem(lk.key("retention"), retention, "must be at least 24h (index period)")
    volume = lk.string(
        "volumeSize",
        ByProfile("5Gi", "20Gi"),
        doc="PVC per replica (WAL, index cache; all data with filesystem storage).",
        check=MEMORY_QUANTITY,
    )
    cpu = lk.string("cpu", ByProfile("100m", "1"), doc="CPU request.", check=CPU_QUANTITY)
    memory = lk.string(
        "memory", ByProfile("256Mi", "2Gi"), doc="Memory request.", check=MEMORY_QUANTITY
    )
    caches = lk.boolean(
        "caches", ByProfile(False, True), doc="memcached chunks and results caches."
    )
    cache_mb = lk.integer(
        "chunksCacheMb",
        ByProfile(512, 2048),
        doc="Chunks-cache memory in MB (chart default 8192 does not fit small nodes).",
        minimum=64,
    )
    store = _loki_object_store(load, lk)
    lk.close()
    return LokiSettings(
        replicas=replicas,
        replication_factor=factor,
        retention=retention,
        volume_size=volume,
        cpu=cpu,
        memory=memory,
        caches=caches,
        chunks_cache_mb=cache_mb,
        object_store=store,
    )


def _loki_object_store(load: Loader, lk: Section) -> LokiObjectStoreSettings | None:
    given = lk.is_set("objectStore")
    o = lk.section(
        "objectStore",
        doc="S3 bucket for Loki. Default: PersistenceLayer's object store, else filesystem "
        "(single replica only).",
    )
    bucket = o.string("bucket", None, doc="Bucket name (chunks and ruler data).")
    region = o.string("region", None, doc="Bucket region.")
    endpoint = o.string("endpoint", None, doc="S3-compatible endpoint; unset = AWS S3.")
    insecure = o.boolean("insecure", False, doc="Plain HTTP to the endpoint (lab only).")
    role_arn = o.string("roleArn", None, doc="IRSA role ARN for Loki's ServiceAccount.")
    key_id = load.secret(
        o, "accessKeyIdSecret", required=False, doc="Name in `secrets` of the access key id."
    )
    key = load.secret(
        o,
        "secretAccessKeySecret",
        required=False,
        doc="Name in `secrets` of the secret access key. Without keys: the AWS default "
        "credential chain (EKS Pod Identity, IRSA, instance profile).",
    )
    if (key_id is None) != (key is None):
        load.ctx.problem(
            o.key("secretAccessKeySecret"),
            "<only one key set>",
            "set both accessKeyIdSecret and secretAccessKeySecret, or neither",
        )
    load.prod_requires(o.key("insecure"), not insecure, insecure, "TLS to the object store")
    o.close()
    if not given:
        return None
    for name, value in (("bucket", bucket), ("region", region)):
        if not value:
            load.ctx.problem(o.key(name), MISSING, "required when objectStore is set")
    if not bucket or not region:
        return None
    return LokiObjectStoreSettings(
        bucket=bucket,
        region=region,
        endpoint=endpoint,
        insecure=insecure,
        role_arn=role_arn,
        access_key_id=key_id,
        secret_access_key=key,
    )


def load(raw: Mapping[str, Any], stack: str, *, docs: list[FieldDoc] | None = None) -> Settings:
    """Validate `raw` (the project's config keys without the `k8s-platform:` prefix)."""
    profile_raw = raw.get("profile", "dev")
    profile = profile_raw if profile_raw in PROFILES else "dev"
    ctx = Context(profile=profile)
    root = Section(ctx, "", raw)
    root.string("profile", "dev", doc="`dev` or `prod`: which defaults apply.", choices=PROFILES)
    accept = root.strings(
        "acceptRisks",
        doc="Keys whose prod safety minimum you deliberately waive (see Overrides).",
    )
    secrets_raw = root.raw("secrets")
    ctx.document("secrets", "map of secrets", {}, "Credentials; set each with `--secret`.")
    if secrets_raw is MISSING:
        secrets_raw = {}
    if not isinstance(secrets_raw, Mapping):
        ctx.problem("secrets", "<redacted>", "expected a mapping of names to secret strings")
        secrets_raw = {}
    load_ = Loader(ctx, accept, secrets_raw)

    cluster = cluster_settings.load_section(load_, root, stack=stack)
    security = security_settings.load_section(load_, root)
    persistence = _persistence(load_, root, cluster, security)
    observability = _observability(load_, root, cluster.name)
    edge = edge_settings.load_section(load_, root)
    root.close()

    for i, key in enumerate(accept):
        if key not in load_.guards:
            ctx.problem(
                f"acceptRisks[{i}]",
                key,
                "not a key with a prod safety minimum; allowed: " + ", ".join(sorted(load_.guards)),
            )
    for name in secrets_raw:
        if name not in load_.secrets_used:
            ctx.problem(f"secrets.{name}", "<redacted>", "no setting refers to this secret")
    if docs is not None:
        docs.extend(ctx.docs)
    if ctx.problems:
        raise SettingsError(ctx.problems)
    return Settings(
        profile=profile,
        stack=stack,
        accept_risks=accept,
        cluster=cluster,
        security=security,
        persistence=persistence,
        observability=observability,
        edge=edge,
    )


def _decode(value: Any) -> Any:
    """The engine passes structured config (objects, lists) as JSON text."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def raw_from_pulumi_config() -> dict[str, Any]:
    """Every `k8s-platform:*` key the engine passed in, structured values decoded."""
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{PROJECT}:"
    raw: dict[str, Any] = {}
    for key, value in merged.items():
        if key.startswith(prefix):
            raw[key[len(prefix) :]] = _decode(value)
    return raw


def from_pulumi() -> Settings:
    return load(raw_from_pulumi_config(), pulumi.get_stack())
