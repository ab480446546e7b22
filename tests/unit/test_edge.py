"""EdgeGateway: the shared HTTPS Gateway, Envoy Gateway, and what they render."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import yaml

from components.edge.routes import htpasswd_line
from components.edge.settings import DEV_NODE_PORTS
from components.edge.values import LOAD_BALANCER_REASON
from tests.helpers import problem_keys
from tools.offline import ROOT, Evaluation, Resource, evaluate

EDGE = "k8splatform:edge:EdgeGateway"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
ENVOY_PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SECURITY_POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy"


def edge_resources(e: Evaluation) -> list[Resource]:
    out = []
    for r in e.resources:
        component = e.component_of(r)
        if component is not None and component.type == EDGE:
            out.append(r)
    return out


def edge_objects(e: Evaluation) -> list[Resource]:
    objs = set(id(r) for r in e.k8s_objects())
    return [r for r in edge_resources(e) if id(r) in objs]


def only(e: Evaluation, type_: str) -> list[Resource]:
    return [r for r in edge_resources(e) if r.type == type_]


def spec(r: Resource) -> dict[str, Any]:
    return r.inputs["spec"]


def listeners(e: Evaluation) -> list[dict[str, Any]]:
    (gateway,) = only(e, GATEWAY)
    return spec(gateway)["listeners"]


# ---- availability -------------------------------------------------------------------


def test_prod_data_plane_runs_two_replicas_spread_over_zones_with_a_pdb(prod: Evaluation) -> None:
    (proxy,) = only(prod, ENVOY_PROXY)
    kube = spec(proxy)["provider"]["kubernetes"]
    deployment = kube["envoyDeployment"]
    assert deployment["replicas"] >= 2
    assert kube["envoyPDB"] == {"minAvailable": 1}
    zone = deployment["pod"]["topologySpreadConstraints"][0]
    assert zone["topologyKey"] == "topology.kubernetes.io/zone"
    assert zone["whenUnsatisfiable"] == "DoNotSchedule"


def test_prod_controller_runs_two_replicas_with_a_pdb(prod: Evaluation) -> None:
    values = prod.chart("envoy-gateway").inputs["values"]
    assert values["deployment"]["replicas"] >= 2
    # gateway-helm renders its PDB only when minAvailable >= 1.
    assert values["podDisruptionBudget"]["minAvailable"] >= 1


def test_dev_runs_a_single_replica_without_a_pdb(dev: Evaluation) -> None:
    (proxy,) = only(dev, ENVOY_PROXY)
    kube = spec(proxy)["provider"]["kubernetes"]
    assert kube["envoyDeployment"]["replicas"] == 1
    assert "envoyPDB" not in kube
    assert dev.chart("envoy-gateway").inputs["values"]["podDisruptionBudget"]["minAvailable"] == 0


def test_the_chart_is_pinned_and_its_hook_only_parts_are_replaced(prod: Evaluation) -> None:
    chart = prod.chart("envoy-gateway")
    assert chart.inputs["chart"] == "oci://docker.io/envoyproxy/gateway-helm"
    assert chart.inputs["version"] == "v1.9.0"
    values = chart.inputs["values"]
    assert values["crds"]["enabled"] is True and chart.inputs.get("skipCrds") is False
    assert values["topologyInjector"]["enabled"] is False
    # certgen (a Helm hook) never runs under Chart v4: cert-manager issues its Secrets,
    # and the chart waits for them.
    certs = {spec(c)["secretName"]: c for c in only(prod, CERTIFICATE)}
    assert {"envoy-gateway", "envoy", "envoy-rate-limit"} <= set(certs)
    for name in ("envoy-gateway", "envoy", "envoy-rate-limit"):
        assert certs[name].urn in chart.dependencies
        assert certs[name].metadata["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    assert "envoy-gateway.gateway.svc.cluster.local" in spec(certs["envoy-gateway"])["dnsNames"]
    hmac = [r for r in only(prod, "kubernetes:core/v1:Secret") if r.k8s_name == "envoy-oidc-hmac"]
    assert hmac and hmac[0].urn in chart.dependencies
    assert hmac[0].secret_paths == ["data"]


# ---- exposure -----------------------------------------------------------------------


def test_prod_is_behind_a_load_balancer_the_policy_pack_allows(prod: Evaluation) -> None:
    (proxy,) = only(prod, ENVOY_PROXY)
    service = spec(proxy)["provider"]["kubernetes"]["envoyService"]
    assert service["type"] == "LoadBalancer"
    assert service["annotations"]["k8s-platform/allow-load-balancer"] == LOAD_BALANCER_REASON


def test_dev_is_reachable_from_the_laptop_through_kind_port_mappings(dev: Evaluation) -> None:
    (proxy,) = only(dev, ENVOY_PROXY)
    service = spec(proxy)["provider"]["kubernetes"]["envoyService"]
    assert service["type"] == "NodePort"
    assert "k8s-platform/allow-load-balancer" not in service["annotations"]
    ports = service["patch"]["value"]["spec"]["ports"]
    assert {p["nodePort"] for p in ports} == set(DEV_NODE_PORTS.values())
    kind = yaml.safe_load((ROOT / "kind" / "dev-cluster.yaml").read_text())
    mapped = {
        m["containerPort"]: m["hostPort"]
        for node in kind["nodes"]
        for m in node.get("extraPortMappings", [])
    }
    assert mapped == {30080: 8080, 30443: 8443}
    assert dev.outputs["grafanaPublicUrl"] == "https://grafana.k8s-platform.localhost:8443"
    (redirect,) = [r for r in only(dev, HTTPROUTE) if r.k8s_name == "https-redirect"]
    assert spec(redirect)["rules"][0]["filters"][0]["requestRedirect"]["port"] == 8443


def test_every_https_listener_has_tls_and_the_only_plain_listener_redirects(
    stack: Evaluation,
) -> None:
    plain = [li for li in listeners(stack) if li["protocol"] != "HTTPS"]
    assert [li["name"] for li in plain] == ["http"]
    certs = {spec(c)["secretName"]: spec(c) for c in only(stack, CERTIFICATE)}
    for li in listeners(stack):
        if li["protocol"] == "HTTPS":
            assert li["tls"]["mode"] == "Terminate"
            (ref,) = li["tls"]["certificateRefs"]
            assert li["hostname"] in certs[ref["name"]]["dnsNames"], li["name"]
    on_http = [
        r
        for r in only(stack, HTTPROUTE)
        if any(p.get("sectionName") == "http" for p in spec(r)["parentRefs"])
    ]
    assert len(on_http) == 1
    (rule,) = spec(on_http[0])["rules"]
    assert "backendRefs" not in rule
    (redirect,) = rule["filters"]
    assert redirect["type"] == "RequestRedirect"
    assert redirect["requestRedirect"]["scheme"] == "https"
    assert redirect["requestRedirect"]["statusCode"] == 301


def test_the_https_certificate_comes_from_the_platform_cluster_issuer(stack: Evaluation) -> None:
    (cert,) = [
        c for c in only(stack, CERTIFICATE) if spec(c)["secretName"] == "platform-gateway-tls"
    ]
    issuer = spec(cert)["issuerRef"]
    assert issuer["kind"] == "ClusterIssuer"
    assert issuer["name"] == {"dev": "platform-ca", "prod": "letsencrypt"}[stack.stack]
    # Tenant listeners (named after their hostname) carry their own certificates.
    hostnames = {li["hostname"] for li in listeners(stack) if li["name"].startswith("https-")}
    assert set(spec(cert)["dnsNames"]) == hostnames
    for c in only(stack, CERTIFICATE):
        if spec(c)["secretName"].startswith("tenant-"):
            assert spec(c)["issuerRef"] == issuer


def test_grafana_is_routed_and_its_public_url_is_a_stack_output(prod: Evaluation) -> None:
    assert prod.outputs["grafanaPublicUrl"] == "https://grafana.platform.example.com"
    (route,) = [r for r in only(prod, HTTPROUTE) if r.k8s_name == "grafana"]
    assert route.namespace == "monitoring"
    assert spec(route)["hostnames"] == ["grafana.platform.example.com"]
    assert spec(route)["rules"][0]["backendRefs"] == [{"name": "kps-grafana", "port": 80}]
    assert "gatewayAddress" in prod.outputs


def test_prometheus_and_alertmanager_stay_private_by_default(stack: Evaluation) -> None:
    assert {r.k8s_name for r in only(stack, HTTPROUTE)} == {"grafana", "https-redirect"}
    assert stack.outputs["prometheusPublicUrl"] is None
    assert stack.outputs["alertmanagerPublicUrl"] is None
    assert only(stack, SECURITY_POLICY) == []


def test_exposed_prometheus_and_alertmanager_require_basic_auth(exposed: Evaluation) -> None:
    assert exposed.outputs["prometheusPublicUrl"] == "https://prometheus.platform.example.com"
    policies = {spec(p)["targetRefs"][0]["name"]: p for p in only(exposed, SECURITY_POLICY)}
    assert set(policies) == {"prometheus", "alertmanager"}
    for p in policies.values():
        assert p.namespace == "monitoring"
        assert spec(p)["basicAuth"]["users"] == {
            "kind": "Secret",
            "name": "edge-basic-auth",
            "namespace": "gateway",
        }
    (secret,) = [
        r for r in only(exposed, "kubernetes:core/v1:Secret") if r.k8s_name == "edge-basic-auth"
    ]
    assert secret.secret_paths == ["stringData"]
    assert "edgeBasicAuthSecret" not in exposed.secret_outputs
    (grant,) = only(exposed, "kubernetes:gateway.networking.k8s.io/v1:ReferenceGrant")
    assert spec(grant)["from"] == [
        {"group": "gateway.envoyproxy.io", "kind": "SecurityPolicy", "namespace": "monitoring"}
    ]


def test_htpasswd_entries_use_the_sha_scheme_envoy_understands() -> None:
    digest = base64.b64encode(hashlib.sha1(b"s3cret").digest()).decode()
    assert htpasswd_line("admin", "s3cret") == f"admin:{{SHA}}{digest}\n"


def test_a_disabled_edge_renders_nothing_and_exports_no_urls() -> None:
    unpublished = [{"name": "demo", "developerGroups": ["developers"]}]
    e = evaluate("dev", {"edge.enabled": False, "security.tenants": unpublished})
    assert [r.type for r in edge_resources(e)] == []
    assert e.outputs["grafanaPublicUrl"] is None


# ---- network policy -----------------------------------------------------------------


def _policies(e: Evaluation) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in only(e, NETPOL)}


def test_envoy_accepts_clients_from_anywhere_on_its_listener_ports(prod: Evaluation) -> None:
    p = _policies(prod)["edge-allow-envoy-listeners"]
    (rule,) = p["spec"]["ingress"]
    assert "from" not in rule
    assert {port["port"] for port in rule["ports"]} == {10080, 10443}


def test_gateway_may_reach_grafana_and_monitoring_admits_it(prod: Evaluation) -> None:
    policies = _policies(prod)
    egress = policies["edge-allow-envoy-to-grafana"]
    assert egress["metadata"]["namespace"] == "gateway"
    assert egress["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 3000}]
    ingress = policies["edge-allow-gateway-to-grafana"]
    assert ingress["metadata"]["namespace"] == "monitoring"
    assert ingress["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "grafana"}}
    peer = ingress["spec"]["ingress"][0]["from"][0]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "gateway"}
    assert ingress["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 3000}]


def test_the_controller_may_reach_the_api_server(prod: Evaluation) -> None:
    # SecurityBaseline's allow for the gateway namespace: the kube-apiserver entity.
    p = prod.named("gateway-allow-api-server-egress").inputs
    rule = p["spec"]["egress"][0]
    assert {port["port"] for port in rule["toPorts"][0]["ports"]} == {"443", "6443"}
    assert rule["toEntities"] == ["kube-apiserver"]


# ---- settings -----------------------------------------------------------------------


def test_prod_needs_a_domain_and_valid_hostnames(monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.offline import DELETE, FIXTURE_KUBECONFIG

    monkeypatch.setenv("KUBECONFIG", str(FIXTURE_KUBECONFIG))
    assert problem_keys("prod", {"edge.domain": DELETE}) == ["edge.domain"]
    assert problem_keys("dev", {"edge.hostnames.grafana": "Grafana_UI"}) == [
        "edge.hostnames.grafana"
    ]


def test_prod_refuses_a_single_gateway_replica_unless_the_risk_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tools.offline import FIXTURE_KUBECONFIG

    monkeypatch.setenv("KUBECONFIG", str(FIXTURE_KUBECONFIG))
    assert problem_keys("prod", {"edge.replicas": 1, "edge.controllerReplicas": 1}) == [
        "edge.replicas",
        "edge.controllerReplicas",
    ]


# ---- validators ---------------------------------------------------------------------


def test_rendered_objects_are_listed_for_the_validators(stack: Evaluation) -> None:
    kinds = {r.kind for r in edge_objects(stack)}
    assert {"Gateway", "HTTPRoute", "EnvoyProxy", "Certificate", "NetworkPolicy"} <= kinds


def test_edge_objects_wait_for_the_security_baseline(dev: Evaluation) -> None:
    # cert-manager and the ClusterIssuer come from SecurityBaseline; our Issuers and
    # Certificates would be rejected ("no matches for kind") if created first.
    security = {
        r.urn
        for r in dev.resources
        if (c := dev.component_of(r)) is not None
        and c.type == "k8splatform:security:SecurityBaseline"
    }
    for r in edge_objects(dev):
        assert security & set(r.dependencies), r.name
