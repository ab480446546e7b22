"""ObservabilityStack's settings: the `observability` section (metrics-server,
Prometheus, alerting, Grafana, Loki)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pulumi

from kernel import objectstore
from kernel.config import (
    CPU_QUANTITY,
    DNS_LABEL,
    DURATION,
    EMAIL,
    MEMORY_QUANTITY,
    MISSING,
    ByProfile,
    Section,
    duration_hours,
    memory_bytes,
    one_of,
)
from kernel.loader import Loader

SEVERITIES = ("critical", "warning", "info")
RECEIVER_TYPES = ("slack", "pagerduty", "email", "webhook")


class SecretValue(Protocol):
    """A credential from settings (`kernel.loader.Secret`): name + Pulumi-secret value."""

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


def load_section(load: Loader, root: Section, *, cluster_name: str) -> ObservabilitySettings:
    """The `observability` section; the cluster name labels metrics and logs."""
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
    gs = s.section("grafana", doc="Grafana (one replica, provisioned from ConfigMaps).")
    # One replica everywhere: each replica keeps its own SQLite, so a second one loses
    # sessions and UI changes at random (docs/observability.md, "Grafana"); an HA
    # exception of the platform contract (tests/contract/test_ha_contract.py).
    grafana_replicas = load.replicas(
        gs, "replicas", ByProfile(1, 1), doc="Grafana replicas (1: no shared database).", maximum=1
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
    # A production stack that pages nobody is not production: every alert would go to `null`.
    load.prod_requires(a.key("receivers"), bool(receivers), [], "at least one alert receiver")
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
    where = objectstore.read_location(
        o,
        docs={
            "bucket": "Bucket name (chunks and ruler data).",
            "region": "Bucket region.",
            "endpoint": "S3-compatible endpoint; unset = AWS S3.",
            "roleArn": "IRSA role ARN for Loki's ServiceAccount.",
        },
    )
    bucket, region, endpoint, role_arn = where.bucket, where.region, where.endpoint, where.role_arn
    insecure = o.boolean("insecure", False, doc="Plain HTTP to the endpoint (lab only).")
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
    if given:
        load.prod_requires(
            o.key("accessKeyIdSecret"),
            key is not None or role_arn is not None,
            None,
            "static keys (accessKeyIdSecret/secretAccessKeySecret) or roleArn for Loki, not "
            "the node's instance profile",
        )
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
