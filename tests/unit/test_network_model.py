"""The network model's pieces, each against upstream behaviour: the evaluator's Cilium
semantics (cilium Documentation/security/policy/*.rst), CAPA's subnet layout and security
group rules (cluster-api-provider-aws v2.11.1), the CNI choice in settings."""

from __future__ import annotations

from typing import Any

import pytest

from components.control_plane import subnets
from tools.offline import Evaluation
from verify.flows.evaluator import External, Flow, Node, Pod, World, evaluate

CP = Node("cp", "10.0.64.10", runs_apiserver=True)
W1, W2 = Node("w1", "10.0.128.10"), Node("w2", "10.0.192.10")
NS = {n: {"kubernetes.io/metadata.name": n} for n in ("cert-manager", "kube-system")}
CM = Pod("cert-manager", (("app", "cm"),), W1, "192.168.1.5")
DENY_ALL = {
    "kind": "NetworkPolicy",
    "metadata": {"name": "d", "namespace": "cert-manager"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}


def _np_egress(peer: dict[str, Any], port: int) -> dict[str, Any]:
    spec = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [peer], "ports": [{"protocol": "TCP", "port": port}]}],
    }
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": "a", "namespace": "cert-manager"},
        "spec": spec,
    }


def test_an_ipblock_selects_nodes_under_the_kubernetes_spec_but_not_under_cilium() -> None:
    # layer3.rst "Selecting nodes with CIDR / ipBlock"; network-policies.md (ipBlock).
    world = World(NS, [DENY_ALL, _np_egress({"ipBlock": {"cidr": "10.0.64.0/18"}}, 6443)])
    api = Flow(CM, CP, 6443)
    assert evaluate(api, world, "k8s")[0]
    assert not evaluate(api, world, "cilium")[0]
    world.cidr_match_nodes, world._rules = True, None
    assert evaluate(api, world, "cilium")[0]


def test_the_kube_apiserver_entity_matches_the_api_server_node_only() -> None:
    spec = {"endpointSelector": {}, "egress": [{"toEntities": ["kube-apiserver"]}]}
    cnp = {
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "c", "namespace": "cert-manager"},
        "spec": spec,
    }
    world = World(NS, [DENY_ALL, cnp])
    assert evaluate(Flow(CM, CP, 6443), world, "cilium")[0]
    assert not evaluate(Flow(CM, W2, 10250), world, "cilium")[0]


def test_a_deny_beats_every_allow_and_a_deny_only_rule_isolates_unless_told_not_to() -> None:
    # deny.rst; intro.rst "Endpoint default policy" (enableDefaultDeny).
    deny: dict[str, Any] = {
        "endpointSelector": {},
        "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}],
    }
    ccnp = {"kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "b"}, "spec": deny}
    open_all = _np_egress({"ipBlock": {"cidr": "0.0.0.0/0"}}, 80)
    imds, web = External("169.254.169.254"), External("203.0.113.9")
    assert not evaluate(Flow(CM, imds, 80), World(NS, [open_all, ccnp]), "cilium")[0]
    alone = World(NS, [ccnp])
    assert not evaluate(Flow(CM, web, 443), alone, "cilium")[0]
    deny["enableDefaultDeny"] = {"egress": False, "ingress": False}
    assert evaluate(Flow(CM, web, 443), World(NS, [ccnp]), "cilium")[0]


def test_the_default_subnets_are_capas_own_split() -> None:
    # pkg/cloud/services/network/subnets.go getDefaultSubnets (v2.11.1 = v2.13.0), /16 x 3.
    zones = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    layout = subnets.capa_default("10.0.0.0/16", zones)
    assert [(s.private, s.public) for s in layout] == [
        ("10.0.64.0/18", "10.0.0.0/20"),
        ("10.0.128.0/18", "10.0.16.0/20"),
        ("10.0.192.0/18", "10.0.32.0/20"),
    ]
    assert subnets.problems("10.0.0.0/16", zones, layout) == []
    bad = (subnets.ZoneSubnets("eu-west-1a", "10.1.0.0/18", "10.0.128.0/20"), *layout[1:])
    found = subnets.problems("10.0.0.0/16", zones, bad)
    assert any("not inside the VPC" in p for p in found)
    assert any("overlaps" in p for p in found)


def test_the_aws_cluster_states_its_subnets_and_opens_ciliums_ports(prod: Evaluation) -> None:
    spec = prod.one("kubernetes:infrastructure.cluster.x-k8s.io/v1beta2:AWSCluster").inputs["spec"]
    net = spec["network"]
    assert {s["cidrBlock"] for s in net["subnets"]} == {
        "10.0.64.0/18",
        "10.0.128.0/18",
        "10.0.192.0/18",
        "10.0.0.0/20",
        "10.0.16.0/20",
        "10.0.32.0/20",
    }
    rules = {(r["protocol"], r["fromPort"]) for r in net["cni"]["cniIngressRules"]}
    # system_requirements.rst "Firewall Rules": VXLAN, health, ICMP echo.
    assert {("udp", 8472), ("tcp", 4240), ("icmp", 8)} <= rules
    # Prometheus scrapes these between nodes: node-exporter (prometheus-node-exporter
    # chart, service.port 9100) and the kubelet (Kubernetes "Ports and Protocols": 10250).
    assert {("tcp", 9100), ("tcp", 10250)} <= rules
    assert all("cidrBlocks" not in r for r in net["cni"]["cniIngressRules"])
    cp = {r["fromPort"] for r in net["additionalControlPlaneIngressRules"]}
    assert cp == {2381, 10257, 10259}


@pytest.mark.parametrize(
    "cni",
    [
        {"name": "other", "install": True, "nodeCidrs": ["172.18.0.0/16"]},
        {"name": "other", "install": False},
    ],
)
def test_a_cni_the_program_cannot_enforce_is_refused(cni: dict[str, Any]) -> None:
    from settings import SettingsError, load
    from tools.offline import apply_overrides, stack_config

    with pytest.raises(SettingsError) as err:
        load(apply_overrides(stack_config("dev"), {"cluster.cni": cni}), "dev")
    assert any(p.key.startswith("cluster.cni") for p in err.value.problems)
