"""The network model every component writes its allows in: which CNI enforces them and
how an allow toward something that is not a pod is expressed under it.

Pod-to-pod rules stay plain NetworkPolicy (kernel.kube.network_policy). Rules toward the
API server, the nodes (and hostNetwork pods), IMDS or a named outside service go through
`entity_policy`, which writes what the CNI really honours:

- Cilium: a CiliumNetworkPolicy with entities. Cilium never matches an ipBlock/CIDR rule
  against a node or the kube-apiserver unless `policyCIDRMatchMode: nodes` is set
  (cilium Documentation/security/policy/layer3.rst, "Selecting nodes with CIDR / ipBlock");
  the `kube-apiserver`, `host` and `remote-node` entities do match them (same file,
  "Entities based"). Outside names use `toFQDNs`, which needs a DNS rule on the pod's
  DNS egress so the agent's DNS proxy learns the addresses (language.rst "DNS based").
- another CNI (existing mode, stated in config): a NetworkPolicy whose ipBlock holds the
  configured node CIDRs, the Kubernetes spec's way to reach node addresses.

Calls *from* the API server (webhooks, APIServices) are admitted from `kube-apiserver`,
`host` and `remote-node`, on the called port only. Which identity such a call carries is
not settled: a call from a control-plane node to a pod elsewhere may leave from that node's
`cilium_host` address and arrive as `remote-node` (cilium#14724, #27967, #31711; #18049
fixed one path, #43260 is open on 1.18), and Cilium's layer-3 docs say the
`kube-apiserver` entity may not match ingress. Rancher's webhook hardening guide admits
`host` and `remote-node` on the webhook port for this reason. Egress *to* the API server
keeps `kube-apiserver`: its endpoint addresses carry that identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from kernel import kube

CILIUM = "cilium"
OTHER = "other"
CNIS = (CILIUM, OTHER)

IMDS = "169.254.169.254/32"
"""EC2 instance metadata: not a node address, so a CIDR rule matches it under any CNI."""

API_SERVER = "kube-apiserver"
NODES = "nodes"
"""The local node and every other one, hostNetwork pods (node-exporter, etcd, kubelet) included."""
WORLD = "world"
ENTITIES: dict[str, tuple[str, ...]] = {
    API_SERVER: ("kube-apiserver",),
    NODES: ("host", "remote-node"),
    WORLD: ("world",),
}
API_SERVER_CALLERS = ("kube-apiserver", "host", "remote-node")
"""The identities an API server call may arrive with (module docstring); only ever
admitted on the webhook or APIService port."""
API_SERVER_PORTS = (6443, 443)
"""6443 is the backend port after Service translation; 443 kept for a load-balanced
endpoint that does not translate (the ClusterIP port)."""

CNP_API = "cilium.io/v2"
DNS_PEER = {
    "matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}
}


@dataclass(frozen=True)
class Network:
    """What the components need to know about the cluster's pod network."""

    cni: str = CILIUM
    node_cidrs: tuple[str, ...] = ()
    """Another CNI only: the node (and API server endpoint) addresses for ipBlock rules."""
    ready: tuple[pulumi.Resource, ...] = field(default=())
    """The CNI install, where this program installs it: Cilium's CRDs exist once it is up."""

    @property
    def cilium(self) -> bool:
        return self.cni == CILIUM


def _cilium_ports(ports: Sequence[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"ports": [{"port": str(p), "protocol": protocol} for p in ports]}]


def cnp(
    name: str,
    namespace: pulumi.Input[str],
    spec: Mapping[str, Any],
    net: Network,
    opts: pulumi.ResourceOptions,
    *,
    resource_name: str | None = None,
) -> k8s.apiextensions.CustomResource:
    """A CiliumNetworkPolicy (its CRD is registered by the cilium-operator)."""
    deps = pulumi.ResourceOptions(depends_on=list(net.ready)) if net.ready else None
    return k8s.apiextensions.CustomResource(
        resource_name or name,
        api_version=CNP_API,
        kind="CiliumNetworkPolicy",
        metadata={"name": name, "namespace": namespace, "labels": kube.MANAGED_BY},
        spec=dict(spec),
        opts=pulumi.ResourceOptions.merge(opts, deps),
    )


def entity_policy(
    name: str,
    namespace: pulumi.Input[str],
    net: Network,
    opts: pulumi.ResourceOptions,
    *,
    pod_selector: Mapping[str, str] | None = None,
    egress_to: str | None = None,
    egress_ports: Sequence[int] = (),
    ingress_from: str | None = None,
    ingress_ports: Sequence[int] = (),
    resource_name: str | None = None,
) -> pulumi.CustomResource:
    """One allow between the selected pods and a cluster entity (API_SERVER, NODES, WORLD)."""
    if net.cilium:
        spec: dict[str, Any] = {"endpointSelector": {"matchLabels": dict(pod_selector or {})}}
        if egress_to is not None:
            spec["egress"] = [
                {"toEntities": list(ENTITIES[egress_to]), "toPorts": _cilium_ports(egress_ports)}
            ]
            if egress_to == WORLD:
                # `world` includes IMDS (outside the cluster): deny beats the allow, so the
                # internet stays open and the node role closed (ipBlock `except` elsewhere).
                spec["egressDeny"] = [{"toCIDR": [IMDS]}]
        if ingress_from is not None:
            callers = API_SERVER_CALLERS if ingress_from == API_SERVER else None
            if callers and not ingress_ports:
                raise ValueError(f"{name}: API server calls are admitted on named ports only")
            spec["ingress"] = [
                {
                    "fromEntities": list(callers or ENTITIES[ingress_from]),
                    "toPorts": _cilium_ports(ingress_ports),
                }
            ]
        return cnp(name, namespace, spec, net, opts, resource_name=resource_name)
    return kube.network_policy(
        name,
        namespace,
        opts,
        pod_selector=pod_selector,
        egress_to=None if egress_to is None else _blocks(egress_to, net),
        egress_ports=kube.tcp(*egress_ports),
        ingress_from=None if ingress_from is None else _blocks(ingress_from, net),
        ingress_ports=kube.tcp(*ingress_ports),
        resource_name=resource_name,
    )


def _blocks(entity: str, net: Network) -> list[kube.Peer]:
    if entity == WORLD:
        return [kube.cidr_peer("0.0.0.0/0", exclude=[IMDS])]
    return [kube.cidr_peer(c) for c in net.node_cidrs]


def fqdn_policy(
    name: str,
    namespace: pulumi.Input[str],
    net: Network,
    opts: pulumi.ResourceOptions,
    *,
    pod_selector: Mapping[str, str],
    hosts: Sequence[str],
    ports: Sequence[int],
    imds: bool = False,
    resource_name: str | None = None,
) -> pulumi.CustomResource:
    """Egress to named outside hosts (an S3 endpoint), plus IMDS on port 80 when the pods
    take their credentials from the node's instance profile.

    Cilium: `toFQDNs` with the DNS rule that lets the agent's proxy learn the names
    (cilium Documentation/security/policy/language.rst "DNS based"; the DNS rule also
    keeps DNS to kube-dns open for these pods). Another CNI has no names in policy:
    0.0.0.0/0 except IMDS on those ports."""
    if net.cilium:
        fqdns = [{"matchPattern": h} if "*" in h else {"matchName": h} for h in hosts]
        egress: list[dict[str, Any]] = [
            {
                "toEndpoints": [DNS_PEER],
                "toPorts": [
                    {
                        "ports": [{"port": "53", "protocol": "ANY"}],
                        "rules": {"dns": [{"matchPattern": "*"}]},
                    }
                ],
            },
            {"toFQDNs": fqdns, "toPorts": _cilium_ports(ports)},
        ]
        if imds:
            egress.append({"toCIDR": [IMDS], "toPorts": _cilium_ports([80])})
        spec = {"endpointSelector": {"matchLabels": dict(pod_selector)}, "egress": egress}
        return cnp(name, namespace, spec, net, opts, resource_name=resource_name)
    peers = _blocks(WORLD, net) + ([kube.cidr_peer(IMDS)] if imds else [])
    return kube.network_policy(
        name,
        namespace,
        opts,
        pod_selector=pod_selector,
        egress_to=peers,
        egress_ports=kube.tcp(*ports, *([80] if imds else [])),
        resource_name=resource_name,
    )


def s3_hosts(region: object, endpoint: object) -> tuple[list[str], list[int]] | None:
    """The names and ports an S3 client reaches: the regional AWS endpoint (path and
    virtual-hosted style), or a custom endpoint's host. None when the endpoint is inside
    the cluster (then a pod-to-pod NetworkPolicy applies) or not known at plan time."""
    from urllib.parse import urlparse

    if isinstance(endpoint, str) and endpoint:
        url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        host = url.hostname or ""
        if host.endswith((".svc", ".svc.cluster.local")) or "." not in host:
            return None
        return [host], [url.port or (80 if url.scheme == "http" else 443)]
    if not isinstance(region, str) or not region:
        return None
    return [f"s3.{region}.amazonaws.com", f"*.s3.{region}.amazonaws.com"], [443]
