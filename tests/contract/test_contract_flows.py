"""The flow contract (verify/flows): every flow the platform needs is allowed and every
forbidden flow denied by the rendered policies, ours and the charts', under the CNI in use
(Cilium in every stack), evaluated with semantics written from Cilium's documentation, in
dev, staging and prod, and under both identities an API server call may carry."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from tools.fullrender import FullRender
from verify.flows.contract import Contract
from verify.flows.evaluator import APISERVER_CALL_IDENTITIES, World, evaluate


@pytest.fixture(params=["dev", "staging", "prod"])
def every_stack(
    request: pytest.FixtureRequest,
    full_dev: FullRender,
    full_staging: FullRender,
    full_prod: FullRender,
) -> FullRender:
    return {"dev": full_dev, "staging": full_staging, "prod": full_prod}[request.param]


def _verdicts(c: Contract, world: World) -> tuple[list[str], list[str], int]:
    missing, leaks, walked = [], [], 0
    for row in c.required():
        for f in row.flows():
            walked += 1
            ok, why = evaluate(f, world, "cilium")
            if not ok:
                missing.append(f"{row.addon}: {f.src} -> {f.dst}:{f.port} ({row.why}): {why}")
    for row in c.forbidden():
        for f in row.flows():
            walked += 1
            ok, why = evaluate(f, world, "cilium")
            if ok:
                leaks.append(f"{f.src} -> {f.dst}:{f.port} ({row.why}): {why}")
    return missing, leaks, walked


@pytest.mark.parametrize("calls_as", APISERVER_CALL_IDENTITIES)
def test_every_required_flow_is_allowed_and_every_forbidden_flow_denied(
    every_stack: FullRender, calls_as: str
) -> None:
    start = time.monotonic()
    c = Contract(every_stack)
    missing, leaks, walked = _verdicts(c, c.world(calls_as))
    assert walked > 40, "the contract walked almost nothing"
    assert not missing, "required flows denied:\n" + "\n".join(missing)
    assert not leaks, "forbidden flows allowed:\n" + "\n".join(leaks)
    # Objects hidden by a chart-source gap are reported, never silently passed.
    for u in c.unresolved:
        assert any(g.dependency in u for g in every_stack.gaps), f"unexplained: {u}"
    assert time.monotonic() - start < 5


def _only_kube_apiserver(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policies as they were before: API server calls admitted from the documented
    `kube-apiserver` entity only."""
    out = copy.deepcopy(policies)
    for p in out:
        for rule in (p.get("spec") or {}).get("ingress") or []:
            if "kube-apiserver" in rule.get("fromEntities", []):
                rule["fromEntities"] = ["kube-apiserver"]
    return out


@pytest.mark.parametrize("calls_as", APISERVER_CALL_IDENTITIES)
def test_webhooks_admitting_only_the_kube_apiserver_entity_fail_when_calls_arrive_as_nodes(
    full_prod: FullRender, calls_as: str
) -> None:
    """The old policies pass under the documented identity and fail under the reported
    one (cilium#27967, #31711, #43260): the contract must see the difference."""
    c = Contract(full_prod)
    world = c.world(calls_as)
    old = World(world.namespaces, _only_kube_apiserver(world.policies), apiserver_calls=calls_as)
    missing, _, _ = _verdicts(c, old)
    webhooks = [m for m in missing if "WebhookConfiguration" in m or "APIService" in m]
    if calls_as == "kube-apiserver":
        assert not webhooks, webhooks
    else:
        assert any("metrics.k8s.io" in m for m in webhooks), missing
        assert any("cert-manager-webhook" in m for m in webhooks), missing
        assert any("kyverno" in m for m in missing), missing


def test_contract_derives_webhooks_scrapes_and_api_clients_from_the_render(
    full: FullRender,
) -> None:
    addons = {r.addon for r in Contract(full).required()}
    assert "APIService v1beta1.metrics.k8s.io (metrics-server)" in addons
    assert any(a.startswith("ValidatingWebhookConfiguration cert-manager-webhook") for a in addons)
    assert any(a.startswith("ServiceMonitor logging/loki") for a in addons)
    assert "cert-manager/cert-manager" in addons  # bound to a role: API client


def test_an_ipblock_toward_the_api_server_fails_the_contract(full_prod: FullRender) -> None:
    """The old design: an ipBlock of the control-plane subnets. Cilium never matches it
    against the API server, so cert-manager loses the API."""
    c = Contract(full_prod)
    world = c.world()
    policies = copy.deepcopy(world.policies)
    for i, p in enumerate(policies):
        meta = p["metadata"]
        if meta["name"] == "allow-api-server-egress" and meta["namespace"] == "cert-manager":
            policies[i] = {
                "kind": "NetworkPolicy",
                "metadata": meta,
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [{"ipBlock": {"cidr": "10.0.64.0/18"}}],
                            "ports": [{"protocol": "TCP", "port": 6443}],
                        }
                    ],
                },
            }
            break
    else:
        raise AssertionError("no cert-manager API-server allow in the render")
    missing, _, _ = _verdicts(c, World(world.namespaces, policies))
    assert any(m.startswith("cert-manager/") for m in missing), missing
