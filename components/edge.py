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

CRDs: the chart's `crds` subchart carries the Gateway API v1.6.1 standard-channel CRDs
and the Envoy Gateway CRDs in its `crds/` directory. Chart v4 renders `crds/` and Pulumi
owns every CRD like any other object, so a chart bump in the catalogue upgrades the CRDs
too (plain `helm upgrade` never would). The subchart's "safe upgrades" admission policy is
rendered through `lookup` + Helm ownership labels, which flaps under Chart v4 (rendered on
one run, deleted on the next), so we render our own equivalent policy instead.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from kernel import kube
from kernel.catalogue import chart
from kernel.contracts import ServiceRef

TYPE_TOKEN = "k8splatform:edge:EdgeGateway"

GATEWAY_CLASS = "envoy-gateway"
GATEWAY_NAME = "platform"
ENVOY_PROXY_NAME = "platform-proxy"
TLS_SECRET = "platform-gateway-tls"
GATEWAY_API_BUNDLE = "v1.6.1"
"""Gateway API release bundled by gateway-helm v1.9.0 (standard channel)."""

# Listener ports on the Gateway; Envoy Gateway binds privileged ports + 10000 in the pod.
HTTP_PORT, HTTPS_PORT = 80, 443
ENVOY_HTTP_PORT, ENVOY_HTTPS_PORT = 10080, 10443
XDS_PORT, METRICS_PORT = 18000, 19001
# Fixed NodePorts in dev; kind/dev-cluster.yaml maps laptop ports 8080/8443 onto them.
DEV_NODE_PORTS = {HTTP_PORT: 30080, HTTPS_PORT: 30443}

ALLOW_LOAD_BALANCER = "k8s-platform/allow-load-balancer"
"""The policy pack rejects LoadBalancer Services unless they carry this, with a reason."""
LOAD_BALANCER_REASON = "shared platform Gateway: the single public HTTPS entry point"

"""SecurityBaseline's ClusterIssuer names until it exposes `cluster_issuer` (see docs)."""

ENVOY_POD_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
CONTROLLER_POD_LABELS = {"control-plane": "envoy-gateway"}
ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"


Backend = ServiceRef
"""A Service the Gateway routes to (published by the component that owns it)."""


@dataclass(frozen=True)
class EdgeSettings:
    enabled: bool
    domain: str
    grafana_host: str
    prometheus_host: str
    alertmanager_host: str
    expose_prometheus: bool
    expose_alertmanager: bool
    replicas: int
    controller_replicas: int
    service_type: str
    """LoadBalancer (cloud) or NodePort (kind)."""
    public_https_port: int
    """The port in the public URLs: 443 behind a cloud LB, kind's host port in dev."""
    load_balancer_source_ranges: tuple[str, ...] = ()
    service_annotations: Mapping[str, str] = field(default_factory=dict)
    basic_auth_user: str = "admin"


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
    depends_on: tuple[pulumi.Resource, ...] = ()
    """What must exist first: cert-manager and its ClusterIssuer (SecurityBaseline)."""


def public_url(host: str, port: int) -> str:
    return f"https://{host}" if port == HTTPS_PORT else f"https://{host}:{port}"


def htpasswd_line(user: str, password: str) -> str:
    """Envoy's basic_auth filter accepts SHA1 htpasswd entries (`htpasswd -s`) only."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    return f"{user}:{{SHA}}{digest}\n"


def chart_values(s: EdgeSettings, cluster_domain: str) -> dict[str, Any]:
    """gateway-helm v1.9.0 values (keys checked against the chart's values.yaml)."""
    ha = s.controller_replicas > 1
    return {
        "crds": {"enabled": True, "gatewayAPI": {"safeUpgradePolicy": {"enabled": False}}},
        # Hook-only; see the module docstring.
        "topologyInjector": {"enabled": False},
        "kubernetesClusterDomain": cluster_domain,
        "deployment": {
            "replicas": s.controller_replicas,
            "envoyGateway": {
                "resources": kube.resources("100m", "256Mi", cpu_limit="500m", memory_limit="1Gi")
            },
            "pod": {
                "topologySpreadConstraints": spread(CONTROLLER_POD_LABELS) if ha else [],
            },
        },
        # The chart only renders the PDB when minAvailable >= 1.
        "podDisruptionBudget": {"minAvailable": 1 if ha else 0},
        "config": {
            "envoyGateway": {
                "gateway": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
                "provider": {"type": "Kubernetes"},
                "logging": {"level": {"default": "info"}},
            }
        },
    }


def spread(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Hard spread over zones (a zone outage keeps the rest), soft over nodes."""
    selector = {"matchLabels": dict(labels)}
    return [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": selector,
        },
        {
            "maxSkew": 1,
            "topologyKey": HOSTNAME,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
        },
    ]


def envoy_proxy_spec(s: EdgeSettings) -> dict[str, Any]:
    """EnvoyProxy (gateway.envoyproxy.io/v1alpha1): data-plane Deployment, PDB, Service."""
    ha = s.replicas > 1
    pod_labels = {**ENVOY_POD_LABELS, "gateway.envoyproxy.io/owning-gateway-name": GATEWAY_NAME}
    service: dict[str, Any] = {"type": s.service_type, "annotations": dict(s.service_annotations)}
    if s.service_type == "LoadBalancer":
        service["annotations"][ALLOW_LOAD_BALANCER] = LOAD_BALANCER_REASON
        # Local keeps the client IP and skips a second hop; the cloud LB health-checks nodes.
        service["externalTrafficPolicy"] = "Local"
        if s.load_balancer_source_ranges:
            service["loadBalancerSourceRanges"] = list(s.load_balancer_source_ranges)
    else:
        # kind forwards host ports to one node; Cluster lets that node reach any envoy pod.
        service["externalTrafficPolicy"] = "Cluster"
        service["patch"] = {
            "type": "StrategicMerge",
            "value": {
                "spec": {
                    "ports": [
                        {"port": port, "nodePort": node_port}
                        for port, node_port in DEV_NODE_PORTS.items()
                    ]
                }
            },
        }
    kubernetes: dict[str, Any] = {
        "envoyDeployment": {
            "replicas": s.replicas,
            "container": {
                "resources": kube.resources("100m", "128Mi", cpu_limit="1", memory_limit="512Mi")
            },
            "pod": {"topologySpreadConstraints": spread(pod_labels) if ha else []},
            # The shutdown-manager sidecar has no resources field of its own here.
            "patch": {
                "type": "StrategicMerge",
                "value": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "shutdown-manager",
                                        "resources": kube.resources(
                                            "10m", "32Mi", cpu_limit="100m", memory_limit="64Mi"
                                        ),
                                    }
                                ]
                            }
                        }
                    }
                },
            },
        },
        "envoyService": service,
    }
    if ha:
        kubernetes["envoyPDB"] = {"minAvailable": 1}
    return {"provider": {"type": "Kubernetes", "kubernetes": kubernetes}}


@dataclass(frozen=True)
class _Route:
    key: str
    host: str
    backend: Backend
    protected: bool


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

        routes = [_Route("grafana", s.grafana_host, args.grafana, protected=False)]
        if s.expose_prometheus and args.prometheus is not None:
            routes.append(_Route("prometheus", s.prometheus_host, args.prometheus, True))
        if s.expose_alertmanager and args.alertmanager is not None:
            routes.append(_Route("alertmanager", s.alertmanager_host, args.alertmanager, True))

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

        proxy = _cr(
            "edge-envoy-proxy",
            "gateway.envoyproxy.io/v1alpha1",
            "EnvoyProxy",
            ENVOY_PROXY_NAME,
            ns,
            envoy_proxy_spec(s),
            after_eg,
        )
        gateway_class = _cr(
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
        certificate = _cr(
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
        gateway = _Gateway(
            "edge-gateway",
            ns,
            gateway_spec(routes),
            pulumi.ResourceOptions.merge(
                after_eg, pulumi.ResourceOptions(depends_on=[gateway_class, certificate])
            ),
        )
        after_gw = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[gateway]))
        _cr(
            "edge-https-redirect",
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "https-redirect",
            ns,
            redirect_route_spec(ns, s.public_https_port),
            after_gw,
        )
        for r in routes:
            route = _cr(
                f"edge-route-{r.key}",
                "gateway.networking.k8s.io/v1",
                "HTTPRoute",
                r.key,
                r.backend.namespace,
                backend_route_spec(ns, r),
                after_gw,
            )
            url = public_url(r.host, s.public_https_port)
            self.urls[r.key] = _once_created(route, url)
        if any(r.protected for r in routes):
            self.basic_auth_secret = self._basic_auth(args, routes, after_gw)

        self.grafana_url = self.urls["grafana"]
        self.prometheus_url = self.urls.get("prometheus", self.prometheus_url)
        self.alertmanager_url = self.urls.get("alertmanager", self.alertmanager_url)
        self.gateway_address = gateway.status.apply(_first_address)

    # ---- pieces ------------------------------------------------------------------------

    def _control_plane_certificates(
        self, args: EdgeGatewayArgs, child: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """What certgen would write: xDS mTLS certificates and the OIDC HMAC key."""
        ns = args.namespace
        selfsigned = _cr(
            "eg-selfsigned",
            "cert-manager.io/v1",
            "Issuer",
            "envoy-gateway-selfsigned",
            ns,
            {"selfSigned": {}},
            child,
        )
        ca = _cr(
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
        issuer = _cr(
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
                _cr(
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
        """Refuse Gateway API CRDs from the experimental channel or an older bundle, so a
        second installer (another chart, Cilium) cannot silently swap the CRDs we pin."""
        name = "gateway-api-crds.k8s-platform.io"
        metadata: Any = {"name": name, "labels": kube.MANAGED_BY}

        def annotation_is(key: str, condition: str) -> str:
            a = "object.metadata.annotations"
            return (
                "object.spec.group != 'gateway.networking.k8s.io' || "
                f"(has({a}) && '{key}' in {a} && {a}['{key}']{condition})"
            )

        policy: Any = {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apiextensions.k8s.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["customresourcedefinitions"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": annotation_is(
                        "gateway.networking.k8s.io/channel", " == 'standard'"
                    ),
                    "message": "only standard-channel Gateway API CRDs are allowed",
                    "reason": "Invalid",
                },
                {
                    "expression": annotation_is(
                        "gateway.networking.k8s.io/bundle-version",
                        ".matches('^v1\\\\.([5-9]|[1-9][0-9])\\\\.')",
                    ),
                    "message": "Gateway API CRDs older than v1.5 are refused "
                    f"(this platform pins {GATEWAY_API_BUNDLE})",
                    "reason": "Invalid",
                },
            ],
        }
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            "gateway-api-crd-guard", metadata=metadata, spec=policy, opts=child
        )
        binding: Any = {"policyName": name, "validationActions": ["Deny"]}
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            "gateway-api-crd-guard", metadata=metadata, spec=binding, opts=child
        )

    def _network_policies(
        self, args: EdgeGatewayArgs, routes: list[_Route], child: pulumi.ResourceOptions
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
        self, args: EdgeGatewayArgs, routes: list[_Route], opts: pulumi.ResourceOptions
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
            _cr(
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
        _cr(
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


def gateway_spec(routes: list[_Route]) -> dict[str, Any]:
    """An HTTP listener that only redirects, and one HTTPS listener per public hostname.

    Each HTTPS listener accepts routes only from its backend's namespace, so a tenant
    cannot attach a route for grafana.<domain>."""
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
    return {"gatewayClassName": GATEWAY_CLASS, "listeners": listeners}


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


def backend_route_spec(gateway_namespace: pulumi.Input[str], r: _Route) -> dict[str, Any]:
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


def _once_created(resource: pulumi.CustomResource, value: str) -> pulumi.Output[str | None]:
    """`value`, resolved only after `resource` exists (stack outputs then imply it)."""
    return resource.id.apply(lambda _id: value)


def _first_address(status: Any) -> str | None:
    addresses = (status or {}).get("addresses") or []
    return addresses[0].get("value") if addresses else None


def _cr(  # noqa: PLR0917 - reads as the manifest: api, kind, name, namespace, spec
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


class _Gateway(pulumi.CustomResource):
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
