"""The VPC layout (CAPA's AWSCluster `spec.network`): stated once in config, checked here,
and the only source of every address the program derives.

CAPA (v2.11.1, unchanged in v2.13.0) splits an unset layout itself
(pkg/cloud/services/network/subnets.go `getDefaultSubnets`): the VPC into zones+1 equal
blocks, the first one again into one public subnet per zone, the others private.
`capa_default` reproduces that split so the default stays what CAPA would build, but the
result is written into the AWSCluster, so nothing depends on CAPA's defaulting and nothing
else can disagree with it.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from kernel.config import Section
from kernel.config import cidr as a_cidr
from kernel.loader import Loader

VPC_DEFAULT = "10.0.0.0/16"


@dataclass(frozen=True)
class ZoneSubnets:
    zone: str
    private: str
    """Machines (control plane and workers) land here."""
    public: str
    """NAT gateways and the internet-facing API load balancer."""


def _split(network: ipaddress.IPv4Network, parts: int) -> list[ipaddress.IPv4Network]:
    extra = math.ceil(math.log2(parts)) if parts > 1 else 0
    return list(network.subnets(prefixlen_diff=extra))[:parts]


def capa_default(vpc: str, zones: tuple[str, ...]) -> tuple[ZoneSubnets, ...]:
    """CAPA's default layout for `vpc` over `zones` (SubnetSchemaPreferPrivate)."""
    net = ipaddress.IPv4Network(vpc)
    blocks = _split(net, len(zones) + 1)
    public = _split(blocks[0], len(zones))
    return tuple(ZoneSubnets(z, str(blocks[i + 1]), str(public[i])) for i, z in enumerate(zones))


def problems(vpc: str, zones: tuple[str, ...], layout: tuple[ZoneSubnets, ...]) -> list[str]:
    """Every way `layout` cannot be a CAPA managed VPC: one message each."""
    out: list[str] = []
    net = ipaddress.IPv4Network(vpc)
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for s in layout:
        for role, cidr in (("private", s.private), ("public", s.public)):
            sub = ipaddress.IPv4Network(cidr)
            if not sub.subnet_of(net):
                out.append(f"{s.zone} {role} {cidr} is not inside the VPC {vpc}")
            for other, o in seen:
                if sub.overlaps(o):
                    out.append(f"{s.zone} {role} {cidr} overlaps {other} {o}")
            seen.append((f"{s.zone} {role}", sub))
    stated = [s.zone for s in layout]
    if sorted(stated) != sorted(zones) or len(set(stated)) != len(stated):
        out.append(
            f"needs exactly one entry (private + public) per availability zone {list(zones)}; "
            f"got {stated}"
        )
    return out


def network_spec(vpc: str, zones: tuple[str, ...], layout: tuple[ZoneSubnets, ...]) -> Any:
    """AWSCluster `spec.network.vpc` + `subnets`. In a managed VPC an `id` that does not
    start with `subnet-` is a placeholder CAPA uses as the Name tag (api/v1beta2
    network_types.go SubnetSpec.ID)."""
    return {
        "vpc": {
            "cidrBlock": vpc,
            "availabilityZoneUsageLimit": len(zones),
            "availabilityZoneSelection": "Ordered",
        },
        "subnets": [
            {
                "id": f"{kind}-{s.zone}",
                "cidrBlock": cidr,
                "availabilityZone": s.zone,
                "isPublic": kind == "public",
            }
            for s in layout
            for kind, cidr in (("private", s.private), ("public", s.public))
        ],
    }


def load_vpc(
    load: Loader, a: Section, zones: tuple[str, ...]
) -> tuple[str, tuple[ZoneSubnets, ...]]:
    """`cluster.capi.aws.network`: the VPC and its subnets, stated once."""
    n = a.section("network", doc="The VPC layout CAPA builds (AWSCluster spec.network).")
    vpc = n.string("vpcCidr", VPC_DEFAULT, doc="VPC CIDR.", check=a_cidr)
    layout: list[ZoneSubnets] = []
    for z in n.items(
        "subnets",
        doc="One entry per availability zone: {zone, private, public} CIDRs inside the VPC. "
        "Default: CAPA's own split of the VPC (private /18s, public /20s for a /16).",
    ):
        zone = z.string("zone", doc="Availability zone.")
        private = z.string("private", doc="Private subnet (the machines).", check=a_cidr)
        public = z.string("public", doc="Public subnet (NAT, API load balancer).", check=a_cidr)
        if zone and private and public:
            layout.append(ZoneSubnets(zone, private, public))
    n.close()
    if not vpc or a_cidr(vpc) is not None or not zones:
        return VPC_DEFAULT, ()
    if not layout:
        return vpc, capa_default(vpc, zones)
    for problem in problems(vpc, zones, tuple(layout)):
        load.ctx.problem(n.key("subnets"), [s.zone for s in layout], problem)
    return vpc, tuple(layout)
