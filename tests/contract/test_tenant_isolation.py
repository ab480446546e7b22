"""Tenants cannot undo their isolation: no developer role writes network policies, and the
cluster-wide baseline denies what no namespaced allow can re-open."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from tools.fullrender import FullRender
from verify.flows.contract import W1, Contract
from verify.flows.evaluator import IMDS_FLOW_PORT, External, Flow, Pod, World, evaluate

WRITES = {"create", "update", "patch", "delete", "deletecollection", "*"}
GUARDED = [
    ("networking.k8s.io", "networkpolicies"),
    ("cilium.io", "ciliumnetworkpolicies"),
    ("cilium.io", "ciliumclusterwidenetworkpolicies"),
]
# Built-in roles (kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go):
# `edit` and `admin` aggregate system:aggregate-to-edit, which writes networkpolicies.
BUILTIN: dict[str, list[dict[str, Any]]] = {
    "edit": [
        {
            "apiGroups": ["networking.k8s.io", "extensions"],
            "resources": ["networkpolicies"],
            "verbs": ["create", "delete", "deletecollection", "patch", "update"],
        }
    ],
    "admin": [
        {
            "apiGroups": ["networking.k8s.io", "extensions"],
            "resources": ["networkpolicies"],
            "verbs": ["create", "delete", "deletecollection", "patch", "update"],
        }
    ],
    "cluster-admin": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    "view": [],
}
AGGREGATE = {
    "edit": "rbac.authorization.k8s.io/aggregate-to-edit",
    "admin": "rbac.authorization.k8s.io/aggregate-to-admin",
}


def _rules(name: str, roles: Mapping[str, Mapping[str, Any]], seen: set[str]) -> list[Any]:
    """A ClusterRole's rules, aggregation resolved (its own selectors, and charts' roles
    labelled to join a built-in role)."""
    if name in seen:
        return []
    seen.add(name)
    role = roles.get(name)
    rules = list(BUILTIN.get(name, [])) + list((role or {}).get("rules") or [])
    selectors = [
        s.get("matchLabels") or {}
        for s in ((role or {}).get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    ]
    if name in AGGREGATE:
        selectors.append({AGGREGATE[name]: "true"})
    for other, doc in roles.items():
        labels = (doc.get("metadata") or {}).get("labels") or {}
        if any(sel and all(labels.get(k) == v for k, v in sel.items()) for sel in selectors):
            rules += _rules(other, roles, seen)
    return rules


def _grants_write(rules: Iterable[Mapping[str, Any]], group: str, resource: str) -> bool:
    return any(
        {group, "*"} & set(r.get("apiGroups") or [])
        and {resource, "*"} & set(r.get("resources") or [])
        and WRITES & set(r.get("verbs") or [])
        for r in rules
    )


def developer_writes(full: FullRender, groups: set[str]) -> list[str]:
    roles = {o.name: o.doc for o in full.of_kind("ClusterRole")}
    ns_roles = {(o.namespace, o.name): o.doc for o in full.of_kind("Role")}
    found = []
    for b in full.of_kind("RoleBinding", "ClusterRoleBinding"):
        subjects = {s.get("name") for s in b.doc.get("subjects") or [] if s.get("kind") == "Group"}
        if not subjects & groups:
            continue
        ref = b.doc["roleRef"]
        if ref["kind"] == "Role":
            rules = list(ns_roles.get((b.namespace, ref["name"]), {}).get("rules") or [])
        else:
            rules = _rules(ref["name"], roles, set())
        found += [
            f"{b.ref} -> {ref['name']}: {g}/{r}" for g, r in GUARDED if _grants_write(rules, g, r)
        ]
    return found


def _developer_groups(full: FullRender) -> set[str]:
    return {"developers"} if full.stack == "dev" else {"oidc:team-payments", "oidc:team-storefront"}


def test_tenant_developers_cannot_write_network_or_cilium_policies(full: FullRender) -> None:
    groups = _developer_groups(full)
    bound = [
        b
        for b in full.of_kind("RoleBinding")
        if groups & {s.get("name") for s in b.doc.get("subjects") or []}
    ]
    assert bound, "no developer binding in the render: the check would walk nothing"
    assert developer_writes(full, groups) == []


def test_the_rbac_check_sees_the_builtin_edit_role_and_its_aggregated_chart_roles(
    full_dev: FullRender,
) -> None:
    """The check itself: binding `edit` (the old design) is caught."""
    from dataclasses import replace

    from tools.fullrender import Rendered

    binding = {
        "kind": "RoleBinding",
        "metadata": {"name": "x", "namespace": "demo"},
        "roleRef": {"kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "Group", "name": "developers"}],
    }
    with_edit = replace(
        full_dev, objects=(*full_dev.objects, Rendered("test", "workload", binding))
    )
    assert developer_writes(with_edit, {"developers"})


@pytest.mark.parametrize("api_access", [False, True])
def test_the_baseline_survives_an_allow_all_the_tenant_adds(
    full_dev: FullRender, api_access: bool
) -> None:
    from components.security.isolation import tenant_baseline

    c = Contract(full_dev)
    w = c.world()
    open_all = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
    allow_all = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "open", "namespace": "demo"},
        "spec": open_all,
    }
    ccnp = {
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": "b"},
        "spec": tenant_baseline("demo", api_access),
    }
    others = [p for p in w.policies if p["kind"] != "CiliumClusterwideNetworkPolicy"]
    world = World(w.namespaces, [*others, allow_all, ccnp])
    tenant = Pod("demo", (("app", "web"),), W1, "192.168.7.9")
    assert not evaluate(Flow(tenant, External("169.254.169.254"), IMDS_FLOW_PORT), world, "cilium")[
        0
    ]
    assert not evaluate(Flow(tenant, W1, 10250), world, "cilium")[0]
    # Only subtracts: what the tenant's own policies allow elsewhere stays allowed.
    assert evaluate(Flow(tenant, External("203.0.113.10"), 443), world, "cilium")[0]


def test_every_tenant_of_the_render_keeps_its_baseline_whatever_it_allows(
    full: FullRender,
) -> None:
    """The rendered policies alone (no hand-built baseline): a tenant that allows all its
    egress still cannot reach IMDS or the kubelets (Cilium: deny rules beat allows)."""
    c = Contract(full)
    w = c.world()
    assert c.tenants, "the stack has no tenant: nothing to check"
    open_all = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
    opened = [
        {"kind": "NetworkPolicy", "metadata": {"name": "open", "namespace": t}, "spec": open_all}
        for t in c.tenants
    ]
    world = World(w.namespaces, [*w.policies, *opened])
    for t in c.tenants:
        pod = Pod(t, (("app", "web"),), W1, "192.168.7.9")
        assert not evaluate(
            Flow(pod, External("169.254.169.254"), IMDS_FLOW_PORT), world, "cilium"
        )[0], t
        assert not evaluate(Flow(pod, W1, 10250), world, "cilium")[0], t
