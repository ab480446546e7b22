"""The `cluster.cni` section: which CNI enforces the platform's network policies."""

from __future__ import annotations

from dataclasses import dataclass

from kernel import network
from kernel.config import ByProfile, Section, cidr
from kernel.loader import Loader


@dataclass(frozen=True)
class CniSettings:
    name: str = network.CILIUM
    """The CNI that enforces the policies: `cilium`, or `other` (existing mode only)."""
    install: bool = True
    """This program installs it (Cilium): always in capi mode, by default in dev."""
    operator_replicas: int = 1
    node_cidrs: tuple[str, ...] = ()
    """`other` only: node / API server addresses for ipBlock rules."""
    small: bool = True
    """Laptop-sized requests (dev profile); the values are otherwise the same."""


def load_cni(load: Loader, cluster: Section, capi_mode: bool) -> CniSettings:
    """The CNI the policies are written for; combinations it cannot enforce are refused."""
    s = cluster.section("cni", doc="The pod network (CNI) that enforces the network policies.")
    name = s.string(
        "name",
        network.CILIUM,
        doc="`cilium` (installed by this program, or already on an existing cluster) or "
        "`other` (existing mode: plain NetworkPolicy with `nodeCidrs`; no tenants).",
        choices=network.CNIS,
    )
    install = s.boolean(
        "install",
        ByProfile(dev=True, prod=capi_mode),
        doc="Install Cilium with this program (capi mode always does; dev's kind cluster "
        "has its default CNI disabled for it).",
    )
    replicas = load.replicas(
        s, "operatorReplicas", ByProfile(1, 2), doc="Cilium operator replicas.", maximum=3
    )
    nodes = s.strings(
        "nodeCidrs",
        doc="`other` only: CIDRs of the nodes and API server endpoints (ipBlock rules).",
        check=cidr,
    )
    s.close()
    if name == network.OTHER and (install or capi_mode):
        load.ctx.problem(
            s.key("name"),
            name,
            "this program installs only cilium; `other` needs existing mode and install: false",
        )
    if name == network.OTHER and not nodes:
        load.ctx.problem(
            s.key("nodeCidrs"), [], "required with `other`: the node addresses for ipBlock rules"
        )
    if name == network.CILIUM and nodes:
        load.ctx.problem(
            s.key("nodeCidrs"), list(nodes), "cilium policies use entities, not node CIDRs"
        )
    return CniSettings(
        name=name,
        install=bool(install),
        operator_replicas=replicas,
        node_cidrs=nodes,
        small=not load.prod,
    )
