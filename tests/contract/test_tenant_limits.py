"""Tenant limits that hold whatever a tenant writes, shown on the full render (the
ValidatingAdmissionPolicies that refuse external IPs and confine tenant monitors are judged by
a real API server: tests/apiserver/test_tenant_policies.py):

- in capi mode the API server runs the DenyServiceExternalIPs plugin beside our policy;
- every kind the developer role may create has an object-count quota;
- no tenant pod may use a system or platform PriorityClass, and the Fail-closed webhooks run
  at the platform's critical class."""

from __future__ import annotations

from typing import Any

from components.security.isolation import DEVELOPER_RULES
from components.security.tenancy import PLATFORM_CRITICAL
from tests.contract.test_contract_admission import _tenant_namespace
from tests.unit.test_control_plane_capi import arg_map, kcp_spec
from tools.fullrender import FullRender
from tools.offline import Evaluation


def test_capi_api_server_runs_deny_service_external_ips_beside_node_restriction(
    prod: Evaluation,
) -> None:
    api = kcp_spec(prod)["kubeadmConfigSpec"]["clusterConfiguration"]["apiServer"]
    plugins = arg_map(api["extraArgs"])["enable-admission-plugins"].split(",")
    # The flag replaces kubeadm's default: NodeRestriction must stay.
    assert {"NodeRestriction", "DenyServiceExternalIPs"} <= set(plugins)


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
