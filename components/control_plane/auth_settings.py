"""The `cluster.authentication` section: how people and CI log in to the API server.

One OIDC issuer, as the API server's structured AuthenticationConfiguration (a JWT
authenticator; kubernetes.io "Authenticating", "Using Authentication Configuration")
maps it: username and groups from the token's claims, both under one prefix, so the
RBAC bindings in the stack files (`oidc:platform-admins`, ...) name its groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from kernel.config import MISSING, Section
from kernel.loader import Loader

DEFAULT_PREFIX = "oidc:"


def _https_url(value: str) -> str | None:
    url = urlsplit(value)
    if url.scheme != "https" or not url.hostname or url.query or url.fragment:
        return "an https URL without query or fragment (the token's `iss`, exactly)"
    return None


@dataclass(frozen=True)
class AuthenticationSettings:
    issuer: str
    """The token's `iss`, exactly; the API server fetches its discovery document."""
    audiences: tuple[str, ...]
    """Accepted `aud` values (MatchAny when several)."""
    client_id: str
    """The OIDC client the kubeconfig's exec plugin logs in with (one of `audiences`)."""
    username_claim: str = "email"
    groups_claim: str = "groups"
    prefix: str = DEFAULT_PREFIX
    """Prepended to usernames and groups: RBAC names `oidc:<group>`."""


def load_authentication(load: Loader, cluster: Section) -> AuthenticationSettings | None:
    key = cluster.key("authentication")
    configured = cluster.is_set("authentication")
    s = cluster.section(
        "authentication",
        doc="OIDC login to the API server (a JWT authenticator in its AuthenticationConfiguration"
        "). Required with the prod profile unless acceptRisks lists `cluster.authentication`.",
    )
    issuer = s.string(
        "issuer",
        MISSING if configured else None,
        doc="Issuer URL (the tokens' `iss`), e.g. https://login.example.com/realms/platform.",
        check=_https_url,
    )
    audiences = s.strings(
        "audiences",
        doc="Accepted token audiences (`aud`): the OIDC client IDs.",
        min_items=1 if configured else 0,
    )
    client_id = s.string(
        "clientId",
        audiences[0] if audiences else None,
        doc="OIDC client of the `kubeconfig` output's exec plugin. Default: the first audience.",
    )
    username = s.string("usernameClaim", "email", doc="Claim that holds the username.")
    groups = s.string("groupsClaim", "groups", doc="Claim that holds the groups.")
    prefix = s.string(
        "prefix",
        DEFAULT_PREFIX,
        doc="Prefix of usernames and groups; the RBAC groups of the stack files carry it.",
    )
    s.close()
    load.prod_requires(key, configured, None, "an OIDC authenticator for people and CI")
    if not configured or not issuer or not audiences:
        return None
    if client_id not in audiences:
        load.ctx.problem(s.key("clientId"), client_id, f"one of the audiences {list(audiences)}")
    if prefix in ("", "-"):
        load.ctx.problem(
            s.key("prefix"),
            prefix,
            "a prefix such as `oidc:`: unprefixed names could "
            "claim built-in users and groups (system:...)",
        )
    return AuthenticationSettings(
        issuer=issuer,
        audiences=audiences,
        client_id=client_id,
        username_claim=username,
        groups_claim=groups,
        prefix=prefix,
    )
