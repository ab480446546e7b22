"""SecurityBaseline: namespaces, Pod Security, NetworkPolicies, RBAC, admission, TLS."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.namespaces import PLATFORM_NAMESPACES, RESTRICTED

TYPE_TOKEN = "k8splatform:security:SecurityBaseline"


@dataclass(frozen=True)
class TenantSettings:
    name: str


@dataclass(frozen=True)
class SecuritySettings:
    tenants: tuple[TenantSettings, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SecurityBaselineArgs:
    settings: SecuritySettings
    provider: k8s.Provider
    pod_security_version: str
    """Kubernetes minor, e.g. 'v1.34'; pins the Pod Security labels."""


class SecurityBaseline(pulumi.ComponentResource):
    namespaces: dict[str, pulumi.Output[str]]
    """Platform namespace name -> the created namespace (depend on it, not the string)."""
    tenant_namespaces: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: SecurityBaselineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = kube.child_opts(self, args.provider)
        self.namespaces = {
            ns.name: kube.isolated_namespace(
                ns.name,
                pod_security=ns.pod_security,
                pod_security_version=args.pod_security_version,
                opts=child,
            ).metadata.name
            for ns in PLATFORM_NAMESPACES
        }
        self.tenant_namespaces = {
            t.name: kube.isolated_namespace(
                t.name,
                pod_security=RESTRICTED,
                pod_security_version=args.pod_security_version,
                labels={"k8s-platform/tenant": t.name},
                opts=child,
            ).metadata.name
            for t in args.settings.tenants
        }
        self.register_outputs(
            {"namespaces": self.namespaces, "tenant_namespaces": self.tenant_namespaces}
        )
