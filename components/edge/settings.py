"""EdgeGateway's settings: the `edge` section (hostnames, exposure, data-plane Service)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kernel.config import DNS_NAME, ByProfile, Section, cidr
from kernel.loader import Loader

# Listener ports on the Gateway; Envoy Gateway binds privileged ports + 10000 in the pod.
HTTP_PORT, HTTPS_PORT = 80, 443
ENVOY_HTTP_PORT, ENVOY_HTTPS_PORT = 10080, 10443
# Fixed NodePorts in dev; kind/dev-cluster.yaml maps laptop ports 8080/8443 onto them.
DEV_NODE_PORTS = {HTTP_PORT: 30080, HTTPS_PORT: 30443}


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


def load_section(load: Loader, root: Section) -> EdgeSettings:
    """The `edge` section."""
    s = root.section("edge", doc="EdgeGateway: Gateway API, Envoy Gateway, public HTTPS.")
    enabled = s.boolean("enabled", True, doc="Install Envoy Gateway and the shared Gateway.")
    zone, hosts = _hostnames(load, s, enabled)
    expose_prometheus = s.boolean(
        "exposePrometheus", False, doc="Route Prometheus through the Gateway behind basic auth."
    )
    expose_alertmanager = s.boolean(
        "exposeAlertmanager", False, doc="Route Alertmanager through the Gateway behind basic auth."
    )
    replicas = load.replicas(
        s, "replicas", ByProfile(1, 2), doc="Envoy data-plane replicas.", maximum=20
    )
    controller = load.replicas(
        s,
        "controllerReplicas",
        ByProfile(1, 2),
        doc="Envoy Gateway controller replicas (leader-elected).",
        maximum=5,
    )
    service_type, https_port, ranges, annotations = _data_plane_service(s)
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


def _hostnames(load: Loader, s: Section, enabled: bool) -> tuple[str, dict[str, str]]:
    """The DNS zone and each UI's public hostname (`<app>.<domain>` unless set)."""
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
    return zone, hosts


def _data_plane_service(s: Section) -> tuple[str, int, tuple[str, ...], Mapping[str, str]]:
    """The Envoy data-plane Service: its type, the public HTTPS port, who may reach it."""
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
    return service_type, https_port, ranges, annotations
