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

from components import kubeconfig
from components._config import (
    CRON,
    DNS_LABEL,
    DURATION,
    K8S_VERSION,
    MEMORY_QUANTITY,
    MISSING,
    ByProfile,
    Context,
    FieldDoc,
    Problem,
    Section,
    duration_hours,
    matches,
)
from components.control_plane import (
    EXISTING,
    MODES,
    ClusterSettings,
    ExistingClusterSettings,
)
from components.namespaces import BY_NAME as PLATFORM_NAMESPACES
from components.observability import ObservabilitySettings
from components.persistence import (
    EMBEDDED,
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
from components.security import SecuritySettings, TenantSettings

PROJECT = "k8s-platform"
PROFILES = ("dev", "prod")
DEFAULT_KUBERNETES_VERSION = "v1.35.0"
# The Kubernetes minors this release of the platform is built and validated for.
SUPPORTED_MINORS = range(31, 37)


class SettingsError(pulumi.RunError):
    """Raised with every problem at once. A RunError prints without a traceback."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"Invalid stack configuration ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}); nothing was changed:\n{lines}"
        )


class Secret:
    """A credential from the `secrets` config key. Its repr never shows the value;
    components turn it into a Pulumi secret with `.output()`."""

    def __init__(self, key: str, value: str) -> None:
        self.key = key
        self._value = value

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self._value)

    def plaintext(self) -> str:
        """For plan-time checks that must call an API (the S3 preflight) or parse the
        value; never log, export or put it in resource inputs."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.key!r})"


@dataclass(frozen=True)
class Settings:
    profile: str
    stack: str
    accept_risks: tuple[str, ...]
    cluster: ClusterSettings
    security: SecuritySettings
    persistence: PersistenceSettings
    observability: ObservabilitySettings


class _Loader:
    """Holds what every section needs: the profile, the risks the user accepted and
    the secrets, and records which guards exist so `acceptRisks` can be checked."""

    def __init__(self, ctx: Context, accept: tuple[str, ...], secrets: Mapping[str, Any]):
        self.ctx = ctx
        self.accept = set(accept)
        self.guards: set[str] = set()
        self.secrets = secrets
        self.secrets_used: set[str] = set()

    @property
    def prod(self) -> bool:
        return self.ctx.profile == "prod"

    def prod_minimum(self, section: Section, name: str, value: int | None, minimum: int) -> None:
        """prod may not go below `minimum` unless the key is listed in acceptRisks."""
        key = section.key(name)
        self.guards.add(key)
        if self.prod and value is not None and value < minimum and key not in self.accept:
            self.ctx.problem(
                key,
                value,
                f"prod needs at least {minimum}; to accept the risk, add '{key}' to acceptRisks",
            )

    def prod_requires(self, key: str, ok: bool, value: Any, what: str) -> None:
        """A prod safety property that only an explicit acceptRisks entry can waive."""
        self.guards.add(key)
        if self.prod and not ok and key not in self.accept:
            self.ctx.problem(
                key, value, f"prod requires {what}; to accept the risk, add '{key}' to acceptRisks"
            )

    def secret(self, section: Section, name: str, *, required: bool, doc: str) -> Secret | None:
        """A setting that names an entry of the `secrets` config key."""
        ref = section.string(name, None if not required else MISSING, doc=doc, check=DNS_LABEL)
        if ref is None:
            return None
        self.secrets_used.add(ref)
        value = self.secrets.get(ref)
        if not isinstance(value, str) or not value:
            self.ctx.problem(
                section.key(name),
                ref,
                f"no secret '{ref}'; set it with "
                f"`pulumi config set --secret --path 'secrets.{ref}' <value>`",
            )
            return None
        return Secret(ref, value)


def _cluster(load: _Loader, root: Section, stack: str) -> ClusterSettings:
    s = root.section("cluster", doc="The cluster itself: HAControlPlane.")
    name = s.string(
        "name",
        stack,
        doc="Cluster name; also the provider's stable cluster identifier. Default: the stack name.",
        check=DNS_LABEL,
    )
    mode = s.string(
        "mode",
        EXISTING,
        doc="`existing`: use a running cluster. `capi`: provision one through Cluster API.",
        choices=MODES,
    )
    version = s.string(
        "kubernetesVersion",
        DEFAULT_KUBERNETES_VERSION,
        doc="Kubernetes version of the cluster (pins Pod Security labels and validation).",
        check=K8S_VERSION,
    )
    if version and K8S_VERSION(version) is None:
        minor = int(version.split(".")[1])
        if minor not in SUPPORTED_MINORS:
            load.ctx.problem(
                s.key("kubernetesVersion"),
                version,
                f"supported minors: v1.{SUPPORTED_MINORS.start}..v1.{SUPPORTED_MINORS.stop - 1}",
            )
            version = DEFAULT_KUBERNETES_VERSION
    path = s.string(
        "kubeconfig",
        None,
        doc="existing mode: kubeconfig file. Default: $KUBECONFIG, else ~/.kube/config.",
    )
    context = s.string(
        "context", None, doc="existing mode: kubeconfig context. Default: the current context."
    )
    existing = None
    if mode == EXISTING:
        try:
            view = kubeconfig.read(path, context)
        except kubeconfig.KubeconfigError as exc:
            key = s.key("context") if context and "context" in str(exc) else s.key("kubeconfig")
            load.ctx.problem(
                key,
                context if key.endswith("context") else path,
                f"{exc}; create the dev cluster with `make kind-up` or point "
                "cluster.kubeconfig/cluster.context at a running cluster",
            )
        else:
            existing = ExistingClusterSettings(
                kubeconfig=path,
                context=view.context,
                server=view.server,
                minified_kubeconfig=view.minified,
            )
    s.close()
    return ClusterSettings(
        name=name or stack, mode=mode, kubernetes_version=version, existing=existing
    )


def _security(load: _Loader, root: Section) -> SecuritySettings:
    s = root.section("security", doc="SecurityBaseline.")
    tenants = []
    seen: set[str] = set()
    for t in s.items("tenants", doc="Application namespaces the platform creates and isolates."):
        name = t.string("name", doc="Tenant namespace name.", check=DNS_LABEL)
        if name and (name in PLATFORM_NAMESPACES or name.startswith("kube-") or name == "default"):
            load.ctx.problem(
                t.key("name"), name, "tenant names may not reuse a platform or system namespace"
            )
        elif name in seen:
            load.ctx.problem(t.key("name"), name, "tenant names must be unique")
        elif name:
            seen.add(name)
            tenants.append(TenantSettings(name=name))
    s.close()
    return SecuritySettings(tenants=tuple(tenants))


def _persistence(
    load: _Loader, root: Section, cluster: ClusterSettings, security: SecuritySettings
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
        ByProfile("loki", None),
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
        "registry.k8s.io/etcd:3.6.5-0",
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


def _observability(load: _Loader, root: Section) -> ObservabilitySettings:
    s = root.section("observability", doc="ObservabilityStack.")
    ms = s.section("metricsServer", doc="metrics-server (HPA and `kubectl top`).")
    replicas = ms.integer("replicas", ByProfile(1, 2), doc="Replicas.", minimum=1, maximum=5)
    load.prod_minimum(ms, "replicas", replicas, 2)
    ms.close()
    s.close()
    return ObservabilitySettings(metrics_server_replicas=replicas)


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
    load_ = _Loader(ctx, accept, secrets_raw)

    cluster = _cluster(load_, root, stack)
    security = _security(load_, root)
    persistence = _persistence(load_, root, cluster, security)
    observability = _observability(load_, root)
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
