"""The Gateway, its listeners and routes, and the custom resources EdgeGateway creates."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.edge.settings import HTTP_PORT, HTTPS_PORT
from components.edge.values import GATEWAY_CLASS, GATEWAY_NAME, TLS_SECRET
from kernel import kube
from kernel.contracts import ServiceRef

Backend = ServiceRef
"""A Service the Gateway routes to (published by the component that owns it)."""


@dataclass(frozen=True)
class Route:
    key: str
    host: str
    backend: Backend
    protected: bool


def public_url(host: str, port: int) -> str:
    return f"https://{host}" if port == HTTPS_PORT else f"https://{host}:{port}"


def htpasswd_line(user: str, password: str) -> str:
    """Envoy's basic_auth filter accepts SHA1 htpasswd entries (`htpasswd -s`) only."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    return f"{user}:{{SHA}}{digest}\n"


def gateway_spec(
    routes: list[Route], tenant_listeners: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """An HTTP listener that only redirects, and one HTTPS listener per public hostname.

    Each HTTPS listener accepts routes only from its backend's namespace, so a tenant
    cannot attach a route for grafana.<domain>; tenants' listeners come last."""
    listeners: list[dict[str, Any]] = [
        {
            "name": "http",
            "protocol": "HTTP",
            "port": HTTP_PORT,
            # The redirect route and cert-manager's ACME HTTP-01 solver routes live here.
            "allowedRoutes": {"namespaces": {"from": "Same"}},
        }
    ]
    for r in routes:
        listeners.append(
            {
                "name": f"https-{r.key}",
                "protocol": "HTTPS",
                "port": HTTPS_PORT,
                "hostname": r.host,
                "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [{"group": "", "kind": "Secret", "name": TLS_SECRET}],
                },
                "allowedRoutes": {
                    "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                    "namespaces": {
                        "from": "Selector",
                        "selector": {
                            "matchLabels": {"kubernetes.io/metadata.name": r.backend.namespace}
                        },
                    },
                },
            }
        )
    return {"gatewayClassName": GATEWAY_CLASS, "listeners": [*listeners, *tenant_listeners]}


def redirect_route_spec(gateway_namespace: pulumi.Input[str], https_port: int) -> dict[str, Any]:
    redirect: dict[str, Any] = {"scheme": "https", "statusCode": 301}
    if https_port != HTTPS_PORT:
        redirect["port"] = https_port
    return {
        "parentRefs": [
            {"name": GATEWAY_NAME, "namespace": gateway_namespace, "sectionName": "http"}
        ],
        "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]}],
    }


def backend_route_spec(gateway_namespace: pulumi.Input[str], r: Route) -> dict[str, Any]:
    return {
        "parentRefs": [
            {"name": GATEWAY_NAME, "namespace": gateway_namespace, "sectionName": f"https-{r.key}"}
        ],
        "hostnames": [r.host],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": r.backend.service, "port": r.backend.port}],
            }
        ],
    }


def once_created(resource: pulumi.CustomResource, value: str) -> pulumi.Output[str | None]:
    """`value`, resolved only after `resource` exists (stack outputs then imply it)."""
    return resource.id.apply(lambda _id: value)


def first_address(status: Any) -> str | None:
    addresses = (status or {}).get("addresses") or []
    return addresses[0].get("value") if addresses else None


def cr(  # noqa: PLR0917 - reads as the manifest: api, kind, name, namespace, spec
    resource_name: str,
    api_version: str,
    kind: str,
    name: str,
    namespace: pulumi.Input[str] | None,
    spec: dict[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    wait_ready: bool = False,
) -> k8s.apiextensions.CustomResource:
    metadata: dict[str, Any] = {"name": name, "labels": kube.MANAGED_BY}
    if namespace is not None:
        metadata["namespace"] = namespace
    if wait_ready:
        # Let dependents (the controller mounting these Secrets) start only once issued.
        metadata["annotations"] = {"pulumi.com/waitFor": "condition=Ready"}
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=api_version,
        kind=kind,
        metadata=metadata,
        spec=spec,
        opts=opts,
    )


class Gateway(pulumi.CustomResource):
    """A Gateway whose `status` is an output, so the program can read its address.

    `apiextensions.CustomResource` exposes no `status`; registering the same Kubernetes
    type with a `status` output property is what it does, plus that one property."""

    status: pulumi.Output[Any]

    def __init__(
        self,
        name: str,
        namespace: pulumi.Input[str],
        spec: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> None:
        props = {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {
                "name": GATEWAY_NAME,
                "namespace": namespace,
                "labels": kube.MANAGED_BY,
                # The LB address is what users need; wait (bounded) for the controller to
                # accept the Gateway so its status is filled when we read it.
                "annotations": {
                    "pulumi.com/waitFor": "condition=Accepted",
                    "pulumi.com/timeoutSeconds": "600",
                },
            },
            "spec": spec,
            "status": None,
        }
        super().__init__("kubernetes:gateway.networking.k8s.io/v1:Gateway", name, props, opts)
