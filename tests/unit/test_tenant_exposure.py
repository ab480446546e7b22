"""Publishing a tenant through the shared Gateway: its hostnames become listeners that
admit HTTPRoutes from that tenant only, Envoy may reach its pods, and a tenant that did
not ask stays closed to the Gateway whatever allows exist."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.loader import SettingsError
from settings import load
from tools.fullrender import FullRender
from tools.offline import Evaluation, apply_overrides, stack_config
from verify.flows.contract import W1, W2, Contract, admits
from verify.flows.evaluator import Flow, Pod, World, evaluate

GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
ENVOY = (
    ("app.kubernetes.io/component", "proxy"),
    ("app.kubernetes.io/managed-by", "envoy-gateway"),
    ("app.kubernetes.io/name", "envoy"),
)


def _tenants(*expose: Any) -> dict[str, Any]:
    return {"security.tenants": [{"name": f"t{i}", "expose": e} for i, e in enumerate(expose)]}


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        (
            _tenants({"hostnames": ["Shop_1.example.com"]}),
            "security.tenants[0].expose.hostnames[0]",
            "a DNS name",
        ),
        (
            _tenants({"hostnames": ["*.example.com"]}),
            "security.tenants[0].expose.hostnames[0]",
            "a DNS name",
        ),
        (
            _tenants({"hostnames": ["shop"]}),
            "security.tenants[0].expose.hostnames[0]",
            "full DNS name such as shop.k8s-platform",
        ),
        (
            _tenants({"hostnames": ["grafana.k8s-platform.localhost"]}),
            "security.tenants[0].expose.hostnames[0]",
            "already used by edge.hostnames.grafana",
        ),
        (
            _tenants({"hostnames": ["a.example.com"]}, {"hostnames": ["a.example.com"]}),
            "security.tenants[1].expose.hostnames[0]",
            "belongs to one tenant",
        ),
        (_tenants({"port": 8080}), "security.tenants[0].expose.hostnames", "required"),
        (
            _tenants({"hostnames": ["a.example.com"], "port": 0}),
            "security.tenants[0].expose.port",
            "range",
        ),
        (
            _tenants({"hostnames": ["a.example.com"], "path": "/"}),
            "security.tenants[0].expose.path",
            "unknown key",
        ),
        (
            {**_tenants({"hostnames": ["a.example.com"]}), "edge.enabled": False},
            "security.tenants[0].expose.hostnames",
            "set edge.enabled: true",
        ),
        (
            _tenants({"hostnames": [f"h{i}.example.com" for i in range(63)]}),
            "security.tenants[0].expose.hostnames",
            "at most 62 tenant hostnames",
        ),
    ],
)
def test_bad_exposure_names_its_key_the_value_and_what_is_allowed(
    overrides: dict[str, Any], key: str, says: str
) -> None:
    with pytest.raises(SettingsError) as err:
        load(apply_overrides(stack_config("dev"), overrides), "dev")
    messages = [str(p) for p in err.value.problems if p.key == key]
    assert messages, f"no problem for {key}: {err.value}"
    assert says in messages[0], messages[0]


def test_the_gateway_admits_routes_only_from_published_tenants(prod: Evaluation) -> None:
    """prod publishes storefront (shop.platform.example.com), not payments. Admission is
    read with Gateway API semantics (allowedRoutes.namespaces: Same / All / Selector)."""
    (gw,) = [r for r in prod.resources if r.type == GATEWAY]
    listeners = gw.inputs["spec"]["listeners"]
    admitted: dict[str, set[str]] = {}
    for tenant in ("payments", "storefront"):
        labels = {"kubernetes.io/metadata.name": tenant, "k8s-platform/tenant": tenant}
        for listener in listeners:
            if admits(listener, "gateway", tenant, labels):
                admitted.setdefault(tenant, set()).add(listener.get("hostname", "*"))
    assert admitted == {"storefront": {"shop.platform.example.com"}}
    (shop,) = [x for x in listeners if x.get("hostname") == "shop.platform.example.com"]
    assert shop["protocol"] == "HTTPS" and shop["tls"]["mode"] == "Terminate"
    secret = shop["tls"]["certificateRefs"][0]["name"]
    certs = [r.inputs["spec"] for r in prod.resources if r.type == CERTIFICATE]
    (cert,) = [c for c in certs if c["secretName"] == secret]
    assert cert["dnsNames"] == ["shop.platform.example.com"]
    assert cert["issuerRef"]["kind"] == "ClusterIssuer"


def _open(namespace: str, direction: str) -> dict[str, Any]:
    spec = {"podSelector": {}, "policyTypes": [direction], direction.lower(): [{}]}
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": "open", "namespace": namespace},
        "spec": spec,
    }


def test_a_tenant_the_gateway_does_not_admit_stays_closed_whatever_allows_exist(
    full_prod: FullRender,
) -> None:
    """Cilium deny rules beat every allow (deny.rst): allow-all at both ends still leaves
    payments closed to the Gateway, while the published storefront stays reachable."""
    c = Contract(full_prod)
    w = c.world()
    allow_in = _open("payments", "Ingress")
    allow_out = _open("gateway", "Egress")
    world = World(w.namespaces, [*w.policies, allow_in, allow_out])
    envoy = Pod("gateway", ENVOY, W1, "192.168.1.9")
    closed = Pod("payments", (("app", "web"),), W2, "192.168.7.9")
    published = Pod("storefront", (("app", "web"),), W2, "192.168.7.10")
    ok, why = evaluate(Flow(envoy, closed, 8080), world, "cilium")
    assert not ok and "deny rule" in why, why
    assert evaluate(Flow(envoy, published, 8080), world, "cilium")[0]


def test_tenant_developers_write_their_own_httproutes() -> None:
    from components.security.isolation import DEVELOPER_RULES

    assert any(
        "gateway.networking.k8s.io" in r["apiGroups"]
        and "httproutes" in r["resources"]
        and {"create", "update", "delete"} <= set(r["verbs"])
        for r in DEVELOPER_RULES
    )
