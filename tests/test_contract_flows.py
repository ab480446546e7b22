"""The flow contract (tools/flows): every flow the platform needs is allowed and every
forbidden flow denied by the rendered policies, ours and the charts', under the CNI in use
(Cilium in both stacks), evaluated with semantics written from Cilium's documentation."""

from __future__ import annotations

import copy
import time

from tools.flows.contract import Contract
from tools.flows.evaluator import World, evaluate
from tools.fullrender import FullRender


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


def test_every_required_flow_is_allowed_and_every_forbidden_flow_denied(full: FullRender) -> None:
    start = time.monotonic()
    c = Contract(full)
    missing, leaks, walked = _verdicts(c, c.world())
    assert walked > 40, "the contract walked almost nothing"
    assert not missing, "required flows denied:\n" + "\n".join(missing)
    assert not leaks, "forbidden flows allowed:\n" + "\n".join(leaks)
    # Objects hidden by a chart-source gap are reported, never silently passed.
    for u in c.unresolved:
        assert any(g.dependency in u for g in full.gaps), f"unexplained: {u}"
    assert time.monotonic() - start < 5


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
