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
    DNS_LABEL,
    DNS_NAME,
    K8S_VERSION,
    MISSING,
    ByProfile,
    Context,
    FieldDoc,
    Problem,
    Section,
    cidr,
)
from components.control_plane import (
    EXISTING,
    MODES,
    ClusterSettings,
    ExistingClusterSettings,
)
from components.edge import DEV_NODE_PORTS, HTTPS_PORT, EdgeSettings
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
    edge: EdgeSettings


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


def _edge(load: _Loader, root: Section) -> EdgeSettings:
    s = root.section("edge", doc="EdgeGateway: Gateway API, Envoy Gateway, public HTTPS.")
    enabled = s.boolean("enabled", True, doc="Install Envoy Gateway and the shared Gateway.")
    domain = s.string(
        "domain",
        ByProfile("k8s-platform.localhost", None),
        doc="DNS zone of the public hostnames (`<app>.<domain>`). Required in prod. "
        "dev: `*.localhost` resolves to your laptop without DNS.",
        check=DNS_NAME,
    )
    if enabled and domain is None and not s.is_set("domain"):
        load.ctx.problem(
            s.key("domain"), None, "required when edge.enabled (e.g. platform.example.com)"
        )
    zone = domain or "invalid.localhost"
    h = s.section("hostnames", doc="Public hostname per UI; default `<app>.<domain>`.")
    hosts = {
        app: h.string(app, f"{app}.{zone}", doc=f"Public hostname of {app}.", check=DNS_NAME)
        for app in ("grafana", "prometheus", "alertmanager")
    }
    h.close()
    expose_prometheus = s.boolean(
        "exposePrometheus", False, doc="Route Prometheus through the Gateway behind basic auth."
    )
    expose_alertmanager = s.boolean(
        "exposeAlertmanager", False, doc="Route Alertmanager through the Gateway behind basic auth."
    )
    replicas = s.integer(
        "replicas", ByProfile(1, 2), doc="Envoy data-plane replicas.", minimum=1, maximum=20
    )
    load.prod_minimum(s, "replicas", replicas, 2)
    controller = s.integer(
        "controllerReplicas",
        ByProfile(1, 2),
        doc="Envoy Gateway controller replicas (leader-elected).",
        minimum=1,
        maximum=5,
    )
    load.prod_minimum(s, "controllerReplicas", controller, 2)
    service_type = s.string(
        "serviceType",
        ByProfile("NodePort", "LoadBalancer"),
        doc="Data-plane Service: `LoadBalancer` (cloud) or `NodePort` "
        f"(kind: fixed NodePorts {sorted(DEV_NODE_PORTS.values())}).",
        choices=("LoadBalancer", "NodePort"),
    )
    https_port = s.integer(
        "publicHttpsPort",
        ByProfile(8443, HTTPS_PORT),
        doc="Port in the public URLs and the HTTP->HTTPS redirect (dev: kind's host port).",
        minimum=1,
        maximum=65535,
    )
    ranges = s.strings(
        "loadBalancerSourceRanges",
        doc="Client CIDRs allowed through the cloud load balancer (default: everyone).",
        check=cidr,
    )
    annotations = s.mapping(
        "serviceAnnotations",
        doc="Extra annotations on the data-plane Service (e.g. the cloud LB type).",
    )
    s.close()
    return EdgeSettings(
        enabled=enabled,
        domain=zone,
        grafana_host=hosts["grafana"],
        prometheus_host=hosts["prometheus"],
        alertmanager_host=hosts["alertmanager"],
        expose_prometheus=expose_prometheus,
        expose_alertmanager=expose_alertmanager,
        replicas=replicas,
        controller_replicas=controller,
        service_type=service_type,
        public_https_port=https_port,
        load_balancer_source_ranges=ranges,
        service_annotations=annotations,
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
    load_ = _Loader(ctx, accept, secrets_raw)

    cluster = _cluster(load_, root, stack)
    security = _security(load_, root)
    persistence = _persistence(load_, root)
    observability = _observability(load_, root)
    edge = _edge(load_, root)
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
