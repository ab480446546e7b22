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

from components import capi_objects, kubeconfig
from components._config import (
    DNS_LABEL,
    K8S_VERSION,
    MISSING,
    ByProfile,
    Context,
    FieldDoc,
    Problem,
    Section,
    cidr,
    matches,
)
from components.control_plane import (
    CAPI,
    EXISTING,
    MODES,
    CapiAwsSettings,
    CapiDockerSettings,
    CapiSettings,
    ClusterSettings,
    ExistingClusterSettings,
)
from components.namespaces import BY_NAME as PLATFORM_NAMESPACES
from components.observability import ObservabilitySettings
from components.persistence import PersistenceSettings
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
        ByProfile(dev=EXISTING, prod=CAPI),
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
        capi_range = capi_objects.CAPI_WORKLOAD_MINORS
        if mode == CAPI and minor not in capi_range:
            load.ctx.problem(
                s.key("kubernetesVersion"),
                version,
                f"Cluster API {capi_objects.CAPI_VERSION} supports workload clusters "
                f"v1.{capi_range.start}..v1.{capi_range.stop - 1}",
            )
            version = DEFAULT_KUBERNETES_VERSION
        elif minor not in SUPPORTED_MINORS:
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
    if mode == CAPI:
        for key, value in (("kubeconfig", path), ("context", context)):
            if value is not None:
                load.ctx.problem(
                    s.key(key), value, "existing mode only; capi mode uses cluster.capi.management*"
                )
    capi = _capi(load, s, name or stack, mode == CAPI)
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
        name=name or stack, mode=mode, kubernetes_version=version, existing=existing, capi=capi
    )


AWS_REGION = matches(r"[a-z]{2}(-[a-z]+)+-\d", "an AWS region such as eu-west-1")
AMI_ID = matches(r"ami-[0-9a-f]{8,17}", "an AMI id such as ami-0123456789abcdef0")
INSTANCE_TYPE = matches(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type such as m6i.large")
PERCENT = matches(r"([1-9]|[1-9]\d)%", "a percentage below 100% such as 40%")


def _capi(load: _Loader, cluster: Section, name: str, active: bool) -> CapiSettings | None:
    """Read the `cluster.capi` section always (docs, unknown keys); require keys only
    when capi mode is on."""
    req: Any = MISSING if active else None
    s = cluster.section("capi", doc="capi mode: Cluster API on a management cluster.")
    mgmt_path = s.string(
        "managementKubeconfig",
        None,
        doc="Kubeconfig file of the management cluster. Default: $KUBECONFIG, else ~/.kube/config.",
    )
    mgmt_context = s.string(
        "managementContext", req, doc="Kubeconfig context of the management cluster (required)."
    )
    namespace = s.string(
        "namespace",
        name,
        doc="Namespace on the management cluster for the Cluster objects. Default: cluster name.",
        check=DNS_LABEL,
    )
    create_ns = s.boolean(
        "createNamespace",
        True,
        doc="Create that namespace (PSA restricted + default-deny); false if it exists.",
    )
    infra = s.string(
        "infrastructure",
        ByProfile(dev=capi_objects.DOCKER, prod=capi_objects.AWS),
        doc="`aws` (CAPA, production) or `docker` (CAPD Dev* kinds, HA rehearsal on a laptop).",
        choices=capi_objects.INFRASTRUCTURES,
    )
    cp = s.section("controlPlane", doc="KubeadmControlPlane.")
    replicas = cp.integer(
        "replicas",
        ByProfile(dev=1, prod=3),
        doc="Control-plane nodes (stacked etcd): odd; at least 3 in prod.",
        minimum=1,
        maximum=7,
    )
    if replicas is not None and replicas % 2 == 0:
        load.ctx.problem(
            cp.key("replicas"),
            replicas,
            "must be odd (1, 3, 5, 7): etcd quorum gains nothing from an even member",
        )
    load.prod_minimum(cp, "replicas", replicas, 3)
    cp_type = cp.string(
        "instanceType", "m6i.large", doc="aws: control-plane instance type.", check=INSTANCE_TYPE
    )
    cp.close()
    w = s.section("workers", doc="Worker MachineDeployments, one per failure domain.")
    w_type = w.string(
        "instanceType", "m6i.xlarge", doc="aws: worker instance type.", check=INSTANCE_TYPE
    )
    w_min = w.integer(
        "minPerZone", 1, doc="cluster-autoscaler minimum per zone.", minimum=0, maximum=100
    )
    w_max = w.integer(
        "maxPerZone",
        ByProfile(dev=2, prod=6),
        doc="cluster-autoscaler maximum per zone.",
        minimum=1,
        maximum=200,
    )
    if w_min is not None and w_max is not None and w_min > w_max:
        load.ctx.problem(w.key("minPerZone"), w_min, f"must not exceed maxPerZone ({w_max})")
    max_unhealthy = w.string(
        "maxUnhealthy",
        "40%",
        doc="MachineHealthCheck remediates only while at most this share is unhealthy.",
        check=PERCENT,
    )
    w.close()
    autoscaler = s.integer(
        "autoscalerReplicas",
        ByProfile(dev=1, prod=2),
        doc="cluster-autoscaler replicas (leader election + PDB when > 1).",
        minimum=1,
        maximum=3,
    )
    load.prod_minimum(s, "autoscalerReplicas", autoscaler, 2)
    cilium_ops = s.integer(
        "ciliumOperatorReplicas",
        ByProfile(dev=1, prod=2),
        doc="Cilium operator replicas.",
        minimum=1,
        maximum=3,
    )
    load.prod_minimum(s, "ciliumOperatorReplicas", cilium_ops, 2)
    pods = s.string("podsCidr", "192.168.0.0/16", doc="Pod network CIDR.", check=cidr)
    services = s.string("servicesCidr", "10.96.0.0/12", doc="Service CIDR.", check=cidr)

    aws = _capi_aws(load, s, active and infra == capi_objects.AWS)
    docker = _capi_docker(load, s)
    s.close()
    if not active or mgmt_context is None:
        return None
    try:
        view = kubeconfig.read(mgmt_path, mgmt_context)
    except kubeconfig.KubeconfigError as exc:
        load.ctx.problem(
            s.key("managementContext"),
            mgmt_context,
            f"{exc}; bootstrap the management cluster (docs/capi.md) or fix "
            "cluster.capi.managementKubeconfig/managementContext",
        )
        return None
    return CapiSettings(
        management_kubeconfig=mgmt_path,
        management_context=view.context,
        namespace=namespace,
        create_namespace=create_ns,
        infrastructure=infra,
        control_plane_replicas=replicas,
        control_plane_instance_type=cp_type,
        worker_instance_type=w_type,
        workers_min_per_zone=w_min,
        workers_max_per_zone=w_max,
        max_unhealthy_workers=max_unhealthy,
        autoscaler_replicas=autoscaler,
        cilium_operator_replicas=cilium_ops,
        pods_cidr=pods,
        services_cidr=services,
        aws=aws if infra == capi_objects.AWS else None,
        docker=docker if infra == capi_objects.DOCKER else None,
    )


def _capi_aws(load: _Loader, capi: Section, active: bool) -> CapiAwsSettings | None:
    req: Any = MISSING if active else None
    a = capi.section("aws", doc="capi + aws (CAPA).")
    region = a.string("region", req, doc="AWS region.", check=AWS_REGION)
    zones = a.strings(
        "availabilityZones",
        doc="Availability zones (failure domains), at least 3. Default: <region>a, b, c.",
    )
    if not zones and region:
        zones = tuple(f"{region}{z}" for z in "abc")
    if active and len(zones) < 3:
        load.ctx.problem(
            a.key("availabilityZones"),
            list(zones),
            "at least 3 availability zones are needed for an HA control plane and workers",
        )
    for i, zone in enumerate(zones):
        if region and not zone.startswith(region):
            load.ctx.problem(f"{a.key('availabilityZones')}[{i}]", zone, f"not in {region}")
    ssh = a.string(
        "sshKeyName", req, doc='Existing EC2 key pair for the nodes ("" = none).', check=None
    )
    ami = a.string("amiId", req, doc="Pinned AMI (own image-builder image).", check=AMI_ID)
    allowed = a.strings(
        "apiAllowedCidrs",
        doc="CIDRs allowed to reach the Kubernetes API NLB (required; no 0.0.0.0/0 default).",
        check=cidr,
    )
    if active and not allowed:
        load.ctx.problem(
            a.key("apiAllowedCidrs"), [], "required: the CIDRs that may reach the API server"
        )
    open_ = any(c in ("0.0.0.0/0", "::/0") for c in allowed)
    load.prod_requires(
        a.key("apiAllowedCidrs"),
        not open_,
        list(allowed),
        "an API allow-list narrower than 0.0.0.0/0",
    )
    egress = a.strings(
        "managementEgressCidrs",
        doc="Egress CIDRs of the management cluster; always added to the API allow-list.",
        check=cidr,
    )
    if active and not egress:
        load.ctx.problem(
            a.key("managementEgressCidrs"),
            [],
            "required: CAPI on the management cluster must reach the workload API",
        )
    bastion = a.boolean("bastion", False, doc="CAPA bastion host (off: use SSM).")
    preflight = a.boolean(
        "preflight",
        True,
        doc="Check AWS prerequisites (AZs, instance profiles, key pair, AMI) before any "
        "resource; false for previews without AWS credentials.",
    )
    a.close()
    if not active:
        return None
    return CapiAwsSettings(
        region=region or "",
        availability_zones=zones,
        ssh_key_name=ssh if ssh is not None else "",
        ami_id=ami or "",
        api_allowed_cidrs=allowed,
        management_egress_cidrs=egress,
        bastion=bastion,
        preflight=preflight,
    )


def _capi_docker(load: _Loader, capi: Section) -> CapiDockerSettings:
    d = capi.section("docker", doc="capi + docker (CAPD).")
    fds = d.strings(
        "failureDomains",
        ("fd1", "fd2", "fd3"),
        doc="Fake failure domains so the spreading logic is exercised (at least 3).",
        check=DNS_LABEL,
    )
    if len(fds) < 3:
        load.ctx.problem(d.key("failureDomains"), list(fds), "at least 3 failure domains")
    d.close()
    return CapiDockerSettings(failure_domains=fds)


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


def _persistence(load: _Loader, root: Section) -> PersistenceSettings:
    s = root.section("persistence", doc="PersistenceLayer.")
    existing = s.string(
        "existingStorageClass",
        "standard",
        doc="Use this existing StorageClass as the default (kind: `standard`).",
        check=DNS_LABEL,
    )
    s.close()
    return PersistenceSettings(existing_storage_class=existing)


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
    persistence = _persistence(load_, root)
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
