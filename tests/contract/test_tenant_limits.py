"""Tenant limits that hold whatever a tenant writes, shown on the full render with the
platform's own admission rules (tools/admission evaluates the rendered
ValidatingAdmissionPolicies and their bindings):

- Service.spec.externalIPs refused everywhere (CVE-2020-8554), and in capi mode by the API
  server's DenyServiceExternalIPs plugin too;
- a tenant's ServiceMonitor/PodMonitor scrapes its own namespace only, names no file inside
  Prometheus and does not redirect the scrape;
- every kind the developer role may create has an object-count quota;
- no tenant pod may use a system or platform PriorityClass, and the Fail-closed webhooks run
  at the platform's critical class."""

from __future__ import annotations

from typing import Any

import pytest

from components.security.isolation import DEVELOPER_RULES
from components.security.tenancy import PLATFORM_CRITICAL
from tests.contract.test_contract_admission import _tenant_namespace, admission
from tests.unit.test_control_plane_capi import arg_map, kcp_spec
from tools.fullrender import FullRender
from tools.offline import Evaluation

TENANT_RULES = (
    "ValidatingAdmissionPolicy deny-external-ips",
    "ValidatingAdmissionPolicy tenant-monitors",
)


def _denied_by(full: FullRender, obj: dict[str, Any], rule: str) -> bool:
    report = admission(full).evaluators["workload"].run([obj])
    return any(d.source.startswith(rule) for d in report.denials)


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
    full: FullRender,
) -> None:
    for ns in (_tenant_namespace(full), "monitoring"):
        assert _denied_by(full, _service(ns, ["10.0.0.1"]), TENANT_RULES[0]), ns
        assert not _denied_by(full, _service(ns, None), TENANT_RULES[0]), ns
        assert not _denied_by(full, _service(ns, []), TENANT_RULES[0]), ns


def test_capi_api_server_runs_deny_service_external_ips_beside_node_restriction(
    prod: Evaluation,
) -> None:
    api = kcp_spec(prod)["kubeadmConfigSpec"]["clusterConfiguration"]["apiServer"]
    plugins = arg_map(api["extraArgs"])["enable-admission-plugins"].split(",")
    # The flag replaces kubeadm's default: NodeRestriction must stay.
    assert {"NodeRestriction", "DenyServiceExternalIPs"} <= set(plugins)


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
    full: FullRender, endpoint: dict[str, Any], refused: bool
) -> None:
    ns = _tenant_namespace(full)
    if "namespaceSelector" in endpoint and "matchNames" in endpoint["namespaceSelector"]:
        names = endpoint["namespaceSelector"]["matchNames"]
        endpoint = {"namespaceSelector": {"matchNames": [ns if n == "OWN" else n for n in names]}}
    assert _denied_by(full, _monitor(ns, **endpoint), TENANT_RULES[1]) is refused


def test_platform_monitors_are_not_bound_by_the_tenant_rule(full: FullRender) -> None:
    monitor = _monitor("monitoring", bearerTokenFile="/var/run/secrets/kubernetes.io/x")
    assert not _denied_by(full, monitor, TENANT_RULES[1])


def _tenant_quotas(full: FullRender, ns: str) -> list[dict[str, Any]]:
    return [o.doc for o in full.of_kind("ResourceQuota") if o.namespace == ns]


def test_every_kind_a_developer_may_create_has_an_object_count_quota(full: FullRender) -> None:
    ns = _tenant_namespace(full)
    hard: dict[str, str] = {}
    for q in _tenant_quotas(full, ns):
        hard |= q["spec"]["hard"]
    creatable = [
        (g, r)
        for rule in DEVELOPER_RULES
        if "create" in rule["verbs"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        if "/" not in r
    ]
    assert creatable
    for group, resource in creatable:
        key = f"count/{resource}" + (f".{group}" if group else "")
        covered = key in hard or (resource == "pods" and "pods" in hard)
        assert covered, f"{ns}: no object-count quota for {key}"


def test_no_tenant_pod_may_use_a_system_or_platform_priority_class(full: FullRender) -> None:
    ns = _tenant_namespace(full)
    scoped = [q["spec"] for q in _tenant_quotas(full, ns) if q["spec"].get("scopeSelector")]
    assert scoped, f"{ns}: no PriorityClass-scoped quota"
    reserved = {"system-node-critical", "system-cluster-critical"} | {
        o.name for o in full.of_kind("PriorityClass")
    }
    assert len(reserved) > 2, "the render has no platform PriorityClass"
    (spec,) = scoped
    (expr,) = spec["scopeSelector"]["matchExpressions"]
    assert expr["scopeName"] == "PriorityClass" and expr["operator"] == "In"
    assert set(expr["values"]) == reserved and spec["hard"] == {"pods": "0"}


def test_fail_closed_webhooks_run_at_the_platforms_critical_priority(full: FullRender) -> None:
    classes = {o.name for o in full.of_kind("PriorityClass")}
    assert PLATFORM_CRITICAL in classes
    for release, name in (
        ("kyverno", "kyverno-admission-controller"),
        ("cert-manager", "cert-manager-webhook"),
    ):
        (deploy,) = [
            o for o in full.from_chart(release) if o.kind == "Deployment" and o.name == name
        ]
        spec = deploy.doc["spec"]["template"]["spec"]
        assert spec.get("priorityClassName") == PLATFORM_CRITICAL, name
