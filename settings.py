"""Stack config -> validated, typed settings for every component: the settings root.

This is the only module that reads Pulumi config. It reads the profile, `acceptRisks`
and `secrets`, then calls each component's section loader (its `settings.py`) in
dependency order, passing values one section needs from another as plain arguments.
A profile (`dev` | `prod`) supplies the defaults, so a stack file states only what
differs. Every problem is collected and raised as one `SettingsError` before any
resource is registered.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.control_plane import settings as cluster_settings
from components.control_plane.settings import ClusterSettings
from components.edge import settings as edge_settings
from components.edge.settings import EdgeSettings
from components.observability import settings as observability_settings
from components.observability.settings import ObservabilitySettings
from components.persistence import settings as persistence_settings
from components.persistence.settings import PersistenceSettings
from components.security import settings as security_settings
from components.security.settings import SecuritySettings
from kernel import backend as state_backend
from kernel import compat
from kernel.config import (
    K8S_VERSION,
    MISSING,
    Context,
    FieldDoc,
    Section,
)
from kernel.loader import Loader, SettingsError

__all__ = [
    "PREFLIGHT_SWITCHES",
    "PROFILES",
    "PROJECT",
    "Settings",
    "SettingsError",
    "from_pulumi",
    "installed_features",
    "load",
    "matrix_mode",
    "preflights_off",
    "raw_from_pulumi_config",
]

PROJECT = "k8s-platform"
PROFILES = ("dev", "prod")
OTHER_NAMESPACES = ("pulumi", "kubernetes", "random", "aws")
"""Config namespaces besides the project's that a stack file may use (provider settings)."""


PREFLIGHT_SWITCHES = (
    "cluster.capi.aws.preflight",
    "cluster.serverVersionCheck",
    "persistence.backups.objectStore.preflight",
)
"""Settings that turn off the preflights (previews and renders without credentials or cluster)."""


def preflights_off(raw: Mapping[str, Any]) -> dict[str, bool]:
    """The switches of PREFLIGHT_SWITCHES that apply to a stack's config: the CAPA one only
    where the stack configures cluster.capi.aws, the server-version one only in existing
    mode (elsewhere those keys are errors)."""
    cluster = (raw.get("cluster") or {}) if isinstance(raw, Mapping) else {}
    capi = cluster.get("capi") or {} if isinstance(cluster, Mapping) else {}
    profile_mode = cluster_settings.CAPI if raw.get("profile") == "prod" else "existing"
    existing = (cluster.get("mode") or profile_mode) == cluster_settings.EXISTING
    applies = {
        "cluster.capi.aws.preflight": isinstance(capi, Mapping) and "aws" in capi,
        "cluster.serverVersionCheck": existing,
    }
    return {key: False for key in PREFLIGHT_SWITCHES if applies.get(key, True)}


@dataclass(frozen=True)
class Settings:
    profile: str
    stack: str
    cluster: ClusterSettings
    security: SecuritySettings
    persistence: PersistenceSettings
    observability: ObservabilitySettings
    edge: EdgeSettings
    warnings: tuple[str, ...] = ()
    """Accepted risks and dev-only findings: preview and up print each one."""


def load(
    raw: Mapping[str, Any],
    stack: str,
    *,
    docs: list[FieldDoc] | None = None,
    foreign: Mapping[str, Any] | None = None,
    backend: str | None = None,
) -> Settings:
    """Validate `raw` (the project's config keys without the `k8s-platform:` prefix).

    `foreign`: config keys in namespaces that are neither the project's nor a provider's
    (a misspelled project name); `backend`: the state backend URL the CLI uses."""
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
    persistence = persistence_settings.load_section(
        load_, root, cluster_name=cluster.name, tenant_names=[t.name for t in security.tenants]
    )
    observability = observability_settings.load_section(load_, root, cluster_name=cluster.name)
    edge = edge_settings.load_section(load_, root)
    root.close()
    _check_kubernetes_version(load_, cluster, security, persistence, edge)
    _check_across_sections(load_, cluster, security, foreign or {}, backend)
    _check_exposure(ctx, security, edge)

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
        cluster=cluster,
        security=security,
        persistence=persistence,
        observability=observability,
        edge=edge,
        warnings=tuple(ctx.warnings),
    )


def _check_across_sections(
    load_: Loader,
    cluster: ClusterSettings,
    security: SecuritySettings,
    foreign: Mapping[str, Any],
    backend: str | None,
) -> None:
    """Rules that span sections or concern the stack itself rather than one component."""
    for key, value in foreign.items():
        load_.ctx.problem(key, value, _foreign_hint(key))
    load_.prod_requires(
        state_backend.ACCEPT_KEY,
        not state_backend.is_local(backend),
        backend,
        "a shared state backend (Pulumi Cloud or an object store, see `pulumi login`), "
        "not a local file backend",
    )
    if security.tenants and cluster.cni.name != "cilium":
        # Tenant isolation rests on cluster-wide deny rules (CiliumClusterwideNetworkPolicy).
        load_.ctx.problem(
            "cluster.cni.name",
            cluster.cni.name,
            "tenants need a CNI with cluster-wide deny rules (cilium); remove security.tenants "
            "or run cilium",
        )


MAX_LISTENERS = 64
"""Gateway API v1 `spec.listeners` maxItems (gateway.networking.k8s.io_gateways.yaml)."""


def _check_exposure(ctx: Context, security: SecuritySettings, edge: EdgeSettings) -> None:
    """Tenant hostnames become listeners on the shared Gateway: it must exist, and a
    hostname belongs to one owner (a platform UI or one tenant)."""
    exposed = [t.expose for t in security.tenants if t.expose]
    if exposed and not edge.enabled:
        ctx.problem(
            exposed[0].key,
            list(exposed[0].hostnames),
            "tenants are exposed through the shared Gateway; set edge.enabled: true",
        )
        return
    owners = {edge.grafana_host: "edge.hostnames.grafana"}
    if edge.expose_prometheus:
        owners[edge.prometheus_host] = "edge.hostnames.prometheus"
    if edge.expose_alertmanager:
        owners[edge.alertmanager_host] = "edge.hostnames.alertmanager"
    room = MAX_LISTENERS - 1 - len(owners)  # - the HTTP redirect listener, the UIs
    for e in exposed:
        for i, host in enumerate(e.hostnames):
            if host in owners:
                ctx.problem(
                    f"{e.key}[{i}]",
                    host,
                    f"already used by {owners[host]}; "
                    "each hostname belongs to one tenant or platform UI",
                )
            elif "." not in host:
                ctx.problem(
                    f"{e.key}[{i}]", host, f"expected a full DNS name such as {host}.{edge.domain}"
                )
            owners.setdefault(host, e.key)
    count = sum(len(e.hostnames) for e in exposed)
    if count > room:
        ctx.problem(
            exposed[-1].key,
            count,
            f"at most {room} tenant hostnames fit on the "
            f"Gateway (Gateway API allows {MAX_LISTENERS} listeners)",
        )


def _check_kubernetes_version(
    load_: Loader,
    cluster: ClusterSettings,
    security: SecuritySettings,
    persistence: PersistenceSettings,
    edge: EdgeSettings,
) -> None:
    """`cluster.kubernetesVersion` must be a minor every component this stack installs
    supports (kernel/compatibility.yaml): known only once every section is read."""
    version = cluster.kubernetes_version
    load_.guards.add("cluster.kubernetesVersion")  # acceptRisks may name it (end of life)
    if not isinstance(version, str) or K8S_VERSION(version) is not None:
        return  # the cluster section reported it already
    on = installed_features(cluster, security, persistence, edge)
    problem = compat.version_problem(version, on, matrix_mode(cluster))
    if problem:
        load_.ctx.problem("cluster.kubernetesVersion", version, problem)
        return
    _check_end_of_life(load_, version, on)


def installed_features(
    cluster: ClusterSettings,
    security: SecuritySettings,
    persistence: PersistenceSettings,
    edge: EdgeSettings,
) -> set[str]:
    """What the stack installs, as the compatibility matrix names it (kernel.compat.FEATURES)."""
    capi = cluster.mode == cluster_settings.CAPI
    features = {
        "capi": capi,
        "aws": capi and cluster.infrastructure == "aws",
        "edge": edge.enabled,
        "backups": persistence.backups.enabled,
        "snapshots": persistence.snapshots.enabled,
        "ebs": persistence.storage.existing_class is None,
        "trivy": security.trivy.enabled,
    }
    return {name for name, enabled in features.items() if enabled}


def matrix_mode(cluster: ClusterSettings) -> str:
    capi = cluster.mode == cluster_settings.CAPI
    return f"capi/{cluster.infrastructure}" if capi else cluster.mode


def _check_end_of_life(load_: Loader, version: str, features: set[str]) -> None:
    """The prod profile (staging and prod) refuses a minor past upstream end of life unless
    acceptRisks names `cluster.kubernetesVersion`; dev deploys it with a warning."""
    key = "cluster.kubernetesVersion"
    eol = compat.eol_problem(version, features)
    load_.prod_requires(
        key, eol is None, version, f"a Kubernetes minor inside upstream support: {eol}"
    )
    if eol is not None and (not load_.prod or key in load_.accept):
        load_.ctx.warn(f"{key} {version}: {eol}")


def _decode(value: Any) -> Any:
    """The engine passes structured config (objects, lists) as JSON text."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _foreign_hint(key: str) -> str:
    namespace = key.partition(":")[0]
    near = difflib.get_close_matches(namespace, [PROJECT], n=1, cutoff=0.6)
    hint = f"did you mean '{PROJECT}:{key.partition(':')[2]}'? " if near else ""
    allowed = ", ".join(f"{n}:" for n in (PROJECT, *OTHER_NAMESPACES))
    return f"unknown config namespace '{namespace}'; {hint}allowed namespaces: {allowed}"


def split_config(merged: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the project's keys without the prefix, decoded; keys in unknown namespaces)."""
    prefix = f"{PROJECT}:"
    raw: dict[str, Any] = {}
    foreign: dict[str, Any] = {}
    for key, value in merged.items():
        if key.startswith(prefix):
            raw[key[len(prefix) :]] = _decode(value)
        elif key.partition(":")[0] not in OTHER_NAMESPACES:
            foreign[key] = "<redacted>" if "secret" in key.lower() else value
    return raw, foreign


def _engine_config() -> dict[str, Any]:
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def raw_from_pulumi_config() -> dict[str, Any]:
    """Every `k8s-platform:*` key the engine passed in, structured values decoded."""
    return split_config(_engine_config())[0]


def from_pulumi() -> Settings:
    raw, foreign = split_config(_engine_config())
    return load(raw, pulumi.get_stack(), foreign=foreign, backend=state_backend.current_url())
