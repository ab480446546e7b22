"""The tenant-facing ValidatingAdmissionPolicies as the API server enforces them, sent as a
tenant developer (impersonated: `--as`, `--as-group`; RBAC lets developers write Services and
monitors in their namespace, so a refusal is admission's, not RBAC's):

- Service.spec.externalIPs refused everywhere (CVE-2020-8554); a Cluster API stack's API
  server also runs the DenyServiceExternalIPs plugin, which refuses first;
- a tenant's ServiceMonitor/PodMonitor scrapes its own namespace only, names no file inside
  Prometheus and does not redirect the scrape; platform monitors are not bound by the rule;
- the Gateway API CRD guard refuses the upstream standard-channel bundle of the same release
  (kubernetes-sigs/gateway-api v1.6.1 config/crd/standard) another installer would bring."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.apiserver.server import Judged
from tools.offline import CRDS_DIR

EXTERNAL_IPS = "deny-external-ips.k8s-platform.io"
MONITORS = "tenant-monitors.k8s-platform.io"
CRD_GUARD = "gateway-api-crds.k8s-platform.io"
PLUGIN = "Use of external IPs is denied by admission control"  # DenyServiceExternalIPs


def _developer(judged: Judged, namespace: str) -> tuple[str, ...]:
    """A member of the first group the tenant's developer RoleBinding names."""
    binding = next(
        o
        for o in judged.render.of_kind("RoleBinding")
        if o["metadata"]["namespace"] == namespace and o["roleRef"]["kind"] == "ClusterRole"
    )
    group = next(s["name"] for s in binding["subjects"] if s["kind"] == "Group")
    return ("--as=dev@example.com", f"--as-group={group}")


def _tenant(judged: Judged) -> str:
    tenants = judged.render.tenant_namespaces()
    assert tenants, f"{judged.stack} renders no tenant namespace"
    return tenants[0]


def _service(namespace: str, external_ips: list[str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    if external_ips is not None:
        spec["externalIPs"] = external_ips
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": spec,
    }


def test_a_service_with_external_ips_is_refused_in_tenant_and_platform_namespaces(
    judged: Judged,
) -> None:
    capi = bool(judged.render.of_kind("KubeadmControlPlane"))
    tenant = _tenant(judged)
    for ns, user in ((tenant, _developer(judged, tenant)), ("monitoring", ())):
        (msg,) = judged.dry_run(_service(ns, ["10.0.0.1"]), user=user)
        assert EXTERNAL_IPS in msg or (capi and PLUGIN in msg), (ns, msg)
        assert judged.dry_run(_service(ns, None), _service(ns, []), user=user) == ["", ""], ns


def _monitor(namespace: str, **endpoint: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "endpoints": [{"port": "http", **endpoint}],
    }
    if "namespaceSelector" in endpoint:
        spec["namespaceSelector"] = spec["endpoints"][0].pop("namespaceSelector")
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("endpoint", "refused"),
    [
        ({}, False),
        ({"namespaceSelector": {"matchNames": ["OWN"]}}, False),
        ({"namespaceSelector": {"any": True}}, True),
        ({"namespaceSelector": {"matchNames": ["monitoring"]}}, True),
        ({"bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}, True),
        ({"tlsConfig": {"caFile": "/etc/prometheus/secrets/x/ca.crt"}}, True),
        ({"proxyUrl": "http://attacker.example:8080"}, True),
        ({"relabelings": [{"targetLabel": "__address__", "replacement": "10.0.0.1:10250"}]}, True),
        ({"relabelings": [{"targetLabel": "team", "replacement": "web"}]}, False),
    ],
)
def test_a_tenant_monitor_scrapes_its_own_namespace_only(
    judged: Judged, endpoint: dict[str, Any], refused: bool
) -> None:
    ns = _tenant(judged)
    if "namespaceSelector" in endpoint and "matchNames" in endpoint["namespaceSelector"]:
        names = endpoint["namespaceSelector"]["matchNames"]
        endpoint = {"namespaceSelector": {"matchNames": [ns if n == "OWN" else n for n in names]}}
    (msg,) = judged.dry_run(_monitor(ns, **endpoint), user=_developer(judged, ns))
    assert (MONITORS in msg) is refused and (msg == "") is not refused, msg


def test_platform_monitors_are_not_bound_by_the_tenant_rule(judged: Judged) -> None:
    monitor = _monitor("monitoring", bearerTokenFile="/var/run/secrets/kubernetes.io/x")
    assert judged.dry_run(monitor) == [""]


def test_the_gateway_api_crd_guard_refuses_a_foreign_bundle(judged: Judged) -> None:
    standard = yaml.safe_load((CRDS_DIR / "gateway.networking.k8s.io_gateways.yaml").read_text())
    assert standard["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"
    (msg,) = judged.dry_run(standard)
    assert CRD_GUARD in msg, msg


OPEN_CILIUM = {"endpointSelector": {}, "egress": [{"toEntities": ["all"]}]}


def _opened(judged: Judged, kind: str, namespace: str) -> dict[str, Any]:
    """The platform's fence around `namespace` of this kind, rewritten to let everything by
    (a CiliumNetworkPolicy, of which a tenant namespace has none, is a new one)."""
    if kind == "CiliumNetworkPolicy":
        return {
            "apiVersion": "cilium.io/v2",
            "kind": kind,
            "metadata": {"name": "open", "namespace": namespace},
            "spec": OPEN_CILIUM,
        }
    fences = {
        "NetworkPolicy": (namespace, "default-deny-all"),
        "CiliumClusterwideNetworkPolicy": (None, f"tenant-{namespace}-baseline"),
    }
    where, name = fences[kind]
    policy = copy.deepcopy(
        next(
            o
            for o in judged.render.of_kind(kind)
            if o["metadata"].get("namespace") == where and o["metadata"]["name"] == name
        )
    )
    policy["spec"] = (
        {"podSelector": {}, "ingress": [{}], "egress": [{}]}
        if kind == "NetworkPolicy"
        else OPEN_CILIUM
    )
    return policy


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        ("NetworkPolicy", '"networkpolicies" in API group "networking.k8s.io"'),
        ("CiliumNetworkPolicy", '"ciliumnetworkpolicies" in API group "cilium.io"'),
        ("CiliumClusterwideNetworkPolicy", '"ciliumclusterwidenetworkpolicies"'),
    ],
)
def test_a_tenant_developer_cannot_change_network_policies(
    judged: Judged, kind: str, resource: str
) -> None:
    """The fences are the platform's: a developer reads the policies of the namespace (to see
    why a flow is denied) but creates, rewrites or deletes none, nor a clusterwide one."""
    ns = _tenant(judged)
    policy = _opened(judged, kind, ns)
    for verb, action in (("create", "create"), ("apply", "patch"), ("delete", "delete")):
        (msg,) = judged.dry_run(policy, user=_developer(judged, ns), verb=verb)
        assert f"cannot {action} resource {resource}" in msg, (verb, msg)
