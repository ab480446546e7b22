"""Stack config -> validated, typed settings for every component: the settings root.

This is the only module that reads Pulumi config. It reads the profile, `acceptRisks`
and `secrets`, then calls each component's section loader (its `settings.py`) in
dependency order, passing values one section needs from another as plain arguments.
A profile (`dev` | `prod`) supplies the defaults, so a stack file states only what
differs. Every problem is collected and raised as one `SettingsError` before any
resource is registered.
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
from components.observability import settings as observability_settings
from components.observability.settings import ObservabilitySettings
from components.persistence import settings as persistence_settings
from components.persistence.settings import PersistenceSettings
from components.security import settings as security_settings
from components.security.settings import SecuritySettings
from kernel.config import (
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
    "load",
    "raw_from_pulumi_config",
]

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
    persistence = persistence_settings.load_section(
        load_, root, cluster_name=cluster.name, tenant_names=[t.name for t in security.tenants]
    )
    observability = observability_settings.load_section(load_, root, cluster_name=cluster.name)
    edge = edge_settings.load_section(load_, root)
    root.close()
    if security.tenants and cluster.cni.name != "cilium":
        # Tenant isolation rests on cluster-wide deny rules (CiliumClusterwideNetworkPolicy).
        ctx.problem(
            "cluster.cni.name",
            cluster.cni.name,
            "tenants need a CNI with cluster-wide deny rules (cilium); remove security.tenants "
            "or run cilium",
        )

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
