"""EdgeGateway: Gateway API CRDs, Envoy Gateway, and the shared HTTPS Gateway.

Envoy Gateway (gateway-helm) is installed with Chart v4, which never runs Helm hooks.
The chart has two hook-only parts, and both are handled here instead:

* `certgen` (a pre-install/pre-upgrade Job plus its RBAC) writes the control-plane TLS
  Secrets `envoy-gateway`, `envoy`, `envoy-rate-limit` and the `envoy-oidc-hmac` key.
  Without them the controller pod never starts (it mounts `envoy-gateway`). We issue the
  three TLS Secrets with cert-manager from a namespace-local CA, exactly as upstream's
  "Control Plane Authentication Using Custom Certificates" guide does, and generate the
  HMAC key with pulumi-random. cert-manager then also renews them, which certgen never did.
* the topology-injector MutatingWebhookConfiguration (a hook whose caBundle certgen
  patches): turned off, so the controller does not wait for a webhook that never exists.

CRDs: the chart's `crds` subchart carries the Gateway API v1.6.1 experimental-channel CRDs
(the only channel gateway-helm v1.9.0 ships) and the Envoy Gateway CRDs in its `crds/`
directory. Chart v4 renders `crds/` and Pulumi owns every CRD like any other object, so
a chart bump in the catalogue upgrades the CRDs too (plain `helm upgrade` never would).
The subchart's "safe upgrades" admission policy is rendered through `lookup` + Helm
ownership labels, which flaps under Chart v4 (rendered on one run, deleted on the next),
so we render our own equivalent policy instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.edge import tenants
from components.edge.routes import (
    Backend,
    Gateway,
    Route,
    backend_route_spec,
    cr,
    first_address,
    gateway_spec,
    htpasswd_line,
    once_created,
    public_url,
    redirect_route_spec,
)
from components.edge.settings import ENVOY_HTTP_PORT, ENVOY_HTTPS_PORT, HTTPS_PORT, EdgeSettings
from components.edge.values import (
    ENVOY_POD_LABELS,
    ENVOY_PROXY_NAME,
    GATEWAY_CLASS,
    TLS_SECRET,
    chart_values,
    envoy_proxy_spec,
)
from kernel import data, kube
from kernel.catalogue import chart
from kernel.contracts import ExposedTenant

TYPE_TOKEN = "k8splatform:edge:EdgeGateway"


@dataclass(frozen=True)
class EdgeGatewayArgs:
    settings: EdgeSettings
    provider: k8s.Provider
    namespace: pulumi.Input[str]
    cluster_issuer: pulumi.Input[str]
    grafana: Backend
    prometheus: Backend | None = None
    alertmanager: Backend | None = None
    cluster_domain: str = "cluster.local"
    tenants: tuple[ExposedTenant, ...] = ()
    """Tenant namespaces published through the Gateway (SecurityBaseline.exposed_tenants)."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """What must exist first: cert-manager and its ClusterIssuer (SecurityBaseline)."""


class EdgeGateway(pulumi.ComponentResource):
    gateway_address: pulumi.Output[str | None]
    """The Gateway's first status address (LB hostname/IP); None until it is programmed."""
    urls: dict[str, pulumi.Output[str | None]]
    grafana_url: pulumi.Output[str | None]
    prometheus_url: pulumi.Output[str | None]
    alertmanager_url: pulumi.Output[str | None]
    basic_auth_secret: pulumi.Output[str | None]
    """Name of the Secret (gateway namespace) holding the Prometheus/Alertmanager login."""

    def __init__(
        self, name: str, args: EdgeGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        none: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        self.gateway_address = none
        self.grafana_url = self.prometheus_url = self.alertmanager_url = none
        self.basic_auth_secret = none
        self.urls = {}
        if s.enabled:
            self._build(args)
        self.register_outputs(
            {
                "gateway_address": self.gateway_address,
                "urls": self.urls,
                "basic_auth_secret": self.basic_auth_secret,
            }
        )

    def _build(self, args: EdgeGatewayArgs) -> None:
        s = args.settings
        ns = args.namespace
        child = kube.child_opts(self, args.provider, depends_on=list(args.depends_on))

        routes = [Route("grafana", s.grafana_host, args.grafana, protected=False)]
        if s.expose_prometheus and args.prometheus is not None:
            routes.append(Route("prometheus", s.prometheus_host, args.prometheus, True))
        if s.expose_alertmanager and args.alertmanager is not None:
            routes.append(Route("alertmanager", s.alertmanager_host, args.alertmanager, True))

        self._safe_upgrade_policy(child)
        control_plane_certs = self._control_plane_certificates(args, child)
        eg = kube.helm_chart(
            "envoy-gateway",
            chart("gateway-helm"),
            ns,
            chart_values(s, args.cluster_domain),
            pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=control_plane_certs)
            ),
        )
        after_eg = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[eg]))
        self._network_policies(args, routes, child)
        tenants.network_policies(args.tenants, ns, child)

        gateway = _gateway(args, routes, child, after_eg)
        after_gw = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[gateway]))
        cr(
            "edge-https-redirect",
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "https-redirect",
            ns,
            redirect_route_spec(ns, s.public_https_port),
            after_gw,
        )
        for r in routes:
            route = cr(
                f"edge-route-{r.key}",
                "gateway.networking.k8s.io/v1",
                "HTTPRoute",
                r.key,
                r.backend.namespace,
                backend_route_spec(ns, r),
                after_gw,
            )
            url = public_url(r.host, s.public_https_port)
            self.urls[r.key] = once_created(route, url)
        if any(r.protected for r in routes):
            self.basic_auth_secret = self._basic_auth(args, routes, after_gw)

        self.grafana_url = self.urls["grafana"]
        self.prometheus_url = self.urls.get("prometheus", self.prometheus_url)
        self.alertmanager_url = self.urls.get("alertmanager", self.alertmanager_url)
        self.gateway_address = gateway.status.apply(first_address)

    # ---- pieces ------------------------------------------------------------------------

    def _control_plane_certificates(
        self, args: EdgeGatewayArgs, child: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """What certgen would write: xDS mTLS certificates and the OIDC HMAC key."""
        ns = args.namespace
        selfsigned = cr(
            "eg-selfsigned",
            "cert-manager.io/v1",
            "Issuer",
            "envoy-gateway-selfsigned",
            ns,
            {"selfSigned": {}},
            child,
        )
        ca = cr(
            "eg-ca",
            "cert-manager.io/v1",
            "Certificate",
            "envoy-gateway-ca",
            ns,
            {
                "isCA": True,
                "commonName": "envoy-gateway",
                "secretName": "envoy-gateway-ca",
                "duration": "87600h",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {
                    "group": "cert-manager.io",
                    "kind": "Issuer",
                    "name": "envoy-gateway-selfsigned",
                },
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[selfsigned])),
            wait_ready=True,
        )
        issuer = cr(
            "eg-issuer",
            "cert-manager.io/v1",
            "Issuer",
            "envoy-gateway-ca",
            ns,
            {"ca": {"secretName": "envoy-gateway-ca"}},
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ca])),
        )
        after_issuer = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[issuer])
        )
        certs = _control_plane_tls(args, after_issuer)
        hmac = random.RandomBytes(
            "eg-oidc-hmac", length=32, opts=pulumi.ResourceOptions(parent=self)
        )
        certs.append(
            k8s.core.v1.Secret(
                "eg-oidc-hmac",
                metadata={"name": "envoy-oidc-hmac", "namespace": ns, "labels": kube.MANAGED_BY},
                type="Opaque",
                data={"hmac-secret": hmac.base64},
                opts=child,
            )
        )
        return certs

    def _safe_upgrade_policy(self, child: pulumi.ResourceOptions) -> None:
        """Refuse Gateway API CRDs of another channel or an older bundle, so a
        second installer (another chart, Cilium) cannot silently swap the CRDs we pin."""
        name = "gateway-api-crds.k8s-platform.io"
        metadata: Any = {"name": name, "labels": kube.MANAGED_BY}
        policy: Any = data.yaml_doc(__file__, "gateway-api-crd-guard.yaml")
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            "gateway-api-crd-guard", metadata=metadata, spec=policy, opts=child
        )
        binding: Any = {"policyName": name, "validationActions": ["Deny"]}
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            "gateway-api-crd-guard", metadata=metadata, spec=binding, opts=child
        )

    def _network_policies(
        self, args: EdgeGatewayArgs, routes: list[Route], child: pulumi.ResourceOptions
    ) -> None:
        ns = args.namespace
        # Clients (the cloud LB, kube-proxy NodePort) come from anywhere.
        kube.network_policy(
            "allow-envoy-listeners",
            ns,
            child,
            pod_selector=ENVOY_POD_LABELS,
            ingress_from=[],
            ingress_ports=kube.tcp(ENVOY_HTTP_PORT, ENVOY_HTTPS_PORT),
            resource_name="edge-allow-envoy-listeners",
        )
        # API-server egress (controller) and Prometheus scraping (19001) come from
        # SecurityBaseline's per-namespace allows; xDS stays inside the namespace.
        for r in routes:
            b = r.backend
            kube.network_policy(
                f"allow-envoy-to-{r.key}",
                ns,
                child,
                pod_selector=ENVOY_POD_LABELS,
                egress_to=[kube.namespace_peer(b.namespace, b.pod_labels)],
                egress_ports=kube.tcp(b.pod_port),
                resource_name=f"edge-allow-envoy-to-{r.key}",
            )
            kube.network_policy(
                f"allow-gateway-to-{r.key}",
                b.namespace,
                child,
                pod_selector=b.pod_labels,
                ingress_from=[kube.namespace_peer(ns, ENVOY_POD_LABELS)],
                ingress_ports=kube.tcp(b.pod_port),
                resource_name=f"edge-allow-gateway-to-{r.key}",
            )

    def _basic_auth(
        self, args: EdgeGatewayArgs, routes: list[Route], opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str | None]:
        """Prometheus and Alertmanager have no login of their own: basic auth at the edge.

        The random password stays a Pulumi secret; the Secret carries the htpasswd line
        Envoy reads plus the plaintext for operators (`kubectl get secret`)."""
        s = args.settings
        password = random.RandomPassword(
            "edge-basic-auth", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        name = "edge-basic-auth"
        secret = k8s.core.v1.Secret(
            "edge-basic-auth",
            metadata={"name": name, "namespace": args.namespace, "labels": kube.MANAGED_BY},
            type="Opaque",
            string_data={
                ".htpasswd": password.result.apply(lambda p: htpasswd_line(s.basic_auth_user, p)),
                "username": s.basic_auth_user,
                "password": password.result,
            },
            opts=opts,
        )
        for r in routes:
            if not r.protected:
                continue
            # The route lives in the backend namespace; the policy must sit beside it and
            # reads the Secret across namespaces through the ReferenceGrant below.
            cr(
                f"edge-basic-auth-{r.key}",
                "gateway.envoyproxy.io/v1alpha1",
                "SecurityPolicy",
                f"{r.key}-basic-auth",
                r.backend.namespace,
                {
                    "targetRefs": [
                        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": r.key}
                    ],
                    "basicAuth": {
                        "users": {"kind": "Secret", "name": name, "namespace": args.namespace}
                    },
                },
                pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[secret])),
            )
        cr(
            "edge-basic-auth-grant",
            "gateway.networking.k8s.io/v1",
            "ReferenceGrant",
            "allow-security-policies-to-read-basic-auth",
            args.namespace,
            {
                "from": pulumi.Output.all(
                    *[r.backend.namespace for r in routes if r.protected]
                ).apply(
                    lambda namespaces: [
                        {"group": "gateway.envoyproxy.io", "kind": "SecurityPolicy", "namespace": n}
                        for n in sorted(set(namespaces))
                    ]
                ),
                "to": [{"group": "", "kind": "Secret", "name": name}],
            },
            opts,
        )
        return secret.metadata.name


def _gateway(
    args: EdgeGatewayArgs,
    routes: list[Route],
    child: pulumi.ResourceOptions,
    after_eg: pulumi.ResourceOptions,
) -> Gateway:
    """EnvoyProxy, GatewayClass, the public certificate and the shared Gateway."""
    s, ns = args.settings, args.namespace
    proxy = cr(
        "edge-envoy-proxy",
        "gateway.envoyproxy.io/v1alpha1",
        "EnvoyProxy",
        ENVOY_PROXY_NAME,
        ns,
        envoy_proxy_spec(s),
        after_eg,
    )
    gateway_class = cr(
        "edge-gateway-class",
        "gateway.networking.k8s.io/v1",
        "GatewayClass",
        GATEWAY_CLASS,
        None,
        {
            "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
            "parametersRef": {
                "group": "gateway.envoyproxy.io",
                "kind": "EnvoyProxy",
                "name": ENVOY_PROXY_NAME,
                "namespace": ns,
            },
        },
        pulumi.ResourceOptions.merge(after_eg, pulumi.ResourceOptions(depends_on=[proxy])),
    )
    # One certificate for every public hostname, from the platform ClusterIssuer.
    certificate = cr(
        "edge-gateway-tls",
        "cert-manager.io/v1",
        "Certificate",
        TLS_SECRET,
        ns,
        {
            "secretName": TLS_SECRET,
            "dnsNames": [r.host for r in routes],
            "issuerRef": {
                "group": "cert-manager.io",
                "kind": "ClusterIssuer",
                "name": args.cluster_issuer,
            },
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["digital signature", "key encipherment", "server auth"],
        },
        child,
    )
    tenant_certs = tenants.certificates(args.tenants, ns, args.cluster_issuer, child)
    gateway = Gateway(
        "edge-gateway",
        ns,
        gateway_spec(routes, tenants.listeners(args.tenants, HTTPS_PORT)),
        pulumi.ResourceOptions.merge(
            after_eg,
            pulumi.ResourceOptions(depends_on=[gateway_class, certificate, *tenant_certs]),
        ),
    )
    return gateway


def _control_plane_tls(
    args: EdgeGatewayArgs, after_issuer: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """The controller's and the proxies' xDS TLS certificates, from the namespace CA."""
    ns = args.namespace
    controller_names = [
        "envoy-gateway",
        pulumi.Output.concat("envoy-gateway.", ns),
        pulumi.Output.concat("envoy-gateway.", ns, ".svc"),
        pulumi.Output.concat("envoy-gateway.", ns, ".svc.", args.cluster_domain),
    ]
    proxy_names = [pulumi.Output.concat("*.", ns)]
    certs: list[pulumi.Resource] = []
    for secret, common_name, names in (
        ("envoy-gateway", "envoy-gateway", controller_names),
        ("envoy", "*", proxy_names),
        ("envoy-rate-limit", "*", proxy_names),
    ):
        certs.append(
            cr(
                f"eg-cert-{secret}",
                "cert-manager.io/v1",
                "Certificate",
                secret,
                ns,
                {
                    "commonName": common_name,
                    "dnsNames": names,
                    "secretName": secret,
                    "privateKey": {"algorithm": "ECDSA", "size": 256},
                    "issuerRef": {
                        "group": "cert-manager.io",
                        "kind": "Issuer",
                        "name": "envoy-gateway-ca",
                    },
                    "usages": [
                        "digital signature",
                        "key encipherment",
                        "server auth",
                        "client auth",
                    ],
                },
                after_issuer,
                wait_ready=True,
            )
        )
    return certs
