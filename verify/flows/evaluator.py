"""Is a flow allowed by a set of rendered policies, under the semantics of the CNI in use?

Two semantics, each written from its documentation:

"cilium" (Cilium 1.20: NetworkPolicy + CiliumNetworkPolicy + CiliumClusterwideNetworkPolicy)
- Identities: a pod has its labels (plus its namespace's, as
  io.cilium.k8s.namespace.labels.*); a node, and every hostNetwork pod on it, is `host` to
  endpoints on that node and `remote-node` elsewhere; the node that runs the API server
  also carries `kube-apiserver` (identity 7 = kube-apiserver + remote-node,
  cilium pkg/identity/numericidentity.go). Anything outside the cluster is `world`
  (cilium Documentation/security/policy/layer3.rst "Entities based").
- The API server's own calls (webhooks, APIServices) may carry either identity: the
  documented `kube-apiserver` (+ remote-node), or only `remote-node` / `host` when they
  leave the control-plane node from its cilium_host address (cilium#18049 fixed one path;
  #27967, #31711 and #43260 report the rest; layer3.rst warns the entity may not match
  ingress). `World.apiserver_calls` picks one; the contract evaluates both. As a
  destination the API server keeps `kube-apiserver` (its endpoint addresses carry it).
- CIDR/ipBlock rules match only `world` peers: never pods, never nodes or the API server,
  unless policyCIDRMatchMode=nodes (layer3.rst "IP/CIDR based", "Selecting nodes with
  CIDR / ipBlock").
- Default deny per direction as soon as any rule selecting the endpoint has that
  direction, unless the rule says enableDefaultDeny false; allowed = union of allows;
  deny rules beat every allow (intro.rst "Endpoint default policy", deny.rst).
- A NetworkPolicy rule without peers allows every peer (pkg/k8s network_policy.go).
- The local host may always reach its endpoints (layer3.rst "Access to/from local host").
- `toFQDNs` matches an outside peer by the name it was resolved from (language.rst "DNS
  based"; the DNS rule that feeds the proxy is not modelled beyond its L4 allow).

"k8s" (the Kubernetes NetworkPolicy spec, for an existing cluster with another CNI)
- Only NetworkPolicy; ipBlock matches any address; traffic between a pod and its own
  node is always allowed; hostNetwork pods are ignored by selectors (kubernetes/website
  content/en/docs/concepts/services-networking/network-policies.md).

Constructs not modelled (named ports, toServices, toNodes, toRequires, toGroups) raise,
so nothing passes silently.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Labels = Mapping[str, str]
Semantics = Literal["cilium", "k8s"]
NS_KEY = "io.kubernetes.pod.namespace"
NS_LABELS = "io.cilium.k8s.namespace.labels."
IMDS_FLOW_PORT = 80
APISERVER_CALL_IDENTITIES = ("kube-apiserver", "remote-node")
"""The identities an API server call is evaluated under (module docstring)."""
POLICY_KINDS = ("NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    runs_apiserver: bool = False


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: tuple[tuple[str, str], ...]
    node: Node
    ip: str
    host_network: bool = False

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class External:
    ip: str
    fqdn: str = ""


Peer = Pod | Node | External


@dataclass(frozen=True)
class Flow:
    src: Peer
    dst: Peer
    port: int
    protocol: str = "TCP"


@dataclass
class World:
    namespaces: dict[str, dict[str, str]]
    policies: list[dict[str, Any]] = field(default_factory=list)
    cidr_match_nodes: bool = False
    apiserver_calls: str = "kube-apiserver"
    """How the API server's calls arrive: "kube-apiserver" or "remote-node" (see above)."""
    _rules: list[Rule] | None = None

    def rules(self) -> list[Rule]:
        if self._rules is None:
            self._rules = _rules(self.policies)
        return self._rules


def selects(sel: Mapping[str, Any] | None, labels: Labels) -> bool:
    """A Kubernetes LabelSelector; `k8s:` source prefixes (Cilium) are dropped."""
    sel = sel or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k.removeprefix("k8s:")) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"].removeprefix("k8s:"), e["operator"], e.get("values") or []
        has = k in labels
        ok = {
            "In": has and labels.get(k) in vals,
            "NotIn": not has or labels.get(k) not in vals,
            "Exists": has,
            "DoesNotExist": not has,
        }[op]
        if not ok:
            return False
    return True


def in_cidr(ip: str, cidr: str, excepts: Iterable[str] = ()) -> bool:
    a = ipaddress.ip_address(ip)
    nets = [ipaddress.ip_network(x) for x in excepts]
    return a in ipaddress.ip_network(cidr) and not any(a in n for n in nets)


def ports_match(ports: list[dict[str, Any]] | None, port: int, proto: str) -> bool:
    if not ports:
        return True
    for p in ports:
        if (p.get("protocol") or "TCP").upper() not in (proto, "ANY"):
            continue
        value = p.get("port")
        if value in (None, 0, "0"):
            return True
        if isinstance(value, str) and not value.isdigit():
            raise ValueError(f"named port {value!r} is not modelled")
        lo = int(value)
        if lo <= port <= int(p.get("endPort") or lo):
            return True
    return False


@dataclass(frozen=True)
class Ident:
    reserved: frozenset[str]
    pod: Pod | None
    ip: str
    fqdn: str
    cidr_selectable: bool


def identity(peer: Peer, observer: Node, w: World, *, source: bool = False) -> Ident:
    if isinstance(peer, Pod) and not peer.host_network:
        return Ident(frozenset(), peer, peer.ip, "", False)
    if isinstance(peer, External):
        return Ident(frozenset({"world"}), None, peer.ip, peer.fqdn, True)
    node = peer.node if isinstance(peer, Pod) else peer
    res = {"host"} if node == observer else {"remote-node"}
    if node.runs_apiserver and not (source and w.apiserver_calls == "remote-node"):
        res.add("kube-apiserver")
    return Ident(frozenset(res), None, node.ip, "", w.cidr_match_nodes)


_ENTITY = {
    "all": lambda i: True,
    "world": lambda i: "world" in i.reserved,
    "cluster": lambda i: "world" not in i.reserved,
    "host": lambda i: "host" in i.reserved,
    "remote-node": lambda i: "remote-node" in i.reserved,
    "kube-apiserver": lambda i: "kube-apiserver" in i.reserved,
}


def _endpoint_labels(pod: Pod, w: World) -> dict[str, str]:
    ns_labels = {f"{NS_LABELS}{k}": v for k, v in w.namespaces.get(pod.namespace, {}).items()}
    return {**pod.label_map, NS_KEY: pod.namespace, **ns_labels}


def _names_namespace(sel: Mapping[str, Any]) -> bool:
    keys = [k.removeprefix("k8s:") for k in sel.get("matchLabels") or {}]
    keys += [e["key"].removeprefix("k8s:") for e in sel.get("matchExpressions") or []]
    return NS_KEY in keys


def _endpoint_sel(sel: Mapping[str, Any], pod: Pod, default_ns: str | None, w: World) -> bool:
    """A Cilium endpoint selector; in a CNP it stays in the policy's namespace unless it
    names one (cilium Documentation/security/policy/kubernetes.rst)."""
    if default_ns is not None and not _names_namespace(sel) and pod.namespace != default_ns:
        return False
    return selects(sel, _endpoint_labels(pod, w))


@dataclass
class Rule:
    ns: str | None
    selector: dict[str, Any]
    ingress: list[dict[str, Any]] | None
    egress: list[dict[str, Any]] | None
    ingress_deny: list[dict[str, Any]]
    egress_deny: list[dict[str, Any]]
    default_deny: dict[str, bool]
    kind: str


def _rules(policies: list[dict[str, Any]]) -> list[Rule]:
    out: list[Rule] = []
    for o in policies:
        kind, ns, spec = o["kind"], o["metadata"].get("namespace"), o.get("spec") or {}
        if kind == "NetworkPolicy":
            types = spec.get("policyTypes") or (
                ["Ingress"] + (["Egress"] if "egress" in spec else [])
            )
            out.append(
                Rule(
                    ns,
                    spec.get("podSelector") or {},
                    (spec.get("ingress") or []) if "Ingress" in types else None,
                    (spec.get("egress") or []) if "Egress" in types else None,
                    [],
                    [],
                    {"ingress": True, "egress": True},
                    kind,
                )
            )
            continue
        for s in ([spec] if spec else []) + list(o.get("specs") or []):
            if "nodeSelector" in s:
                continue  # host policies: the host firewall is off in our values
            dd = s.get("enableDefaultDeny") or {}
            out.append(
                Rule(
                    ns if kind == "CiliumNetworkPolicy" else None,
                    s.get("endpointSelector") or {},
                    s.get("ingress"),
                    s.get("egress"),
                    s.get("ingressDeny") or [],
                    s.get("egressDeny") or [],
                    {"ingress": dd.get("ingress", True), "egress": dd.get("egress", True)},
                    kind,
                )
            )
    return out


def _np_peer(peer: dict[str, Any], ns: str, ident: Ident, sem: Semantics, w: World) -> bool:
    if "ipBlock" in peer:
        b = peer["ipBlock"]
        ok = in_cidr(ident.ip, b["cidr"], b.get("except") or [])
        return ok and (ident.cidr_selectable if sem == "cilium" else True)
    pod = ident.pod
    if pod is None:
        return False  # selectors never select nodes or hostNetwork pods
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], w.namespaces.get(pod.namespace, {})):
            return False
    elif pod.namespace != ns:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], pod.label_map)


_UNMODELLED = ("Services", "Groups", "Nodes", "Requires")


def _cnp_peer(r: dict[str, Any], d: str, ns: str | None, ident: Ident, w: World) -> bool:
    """One Cilium rule; a rule with no L3 field is L4-only and matches every peer."""
    unsupported = {f"{d}{x}" for x in _UNMODELLED} & r.keys()
    if unsupported:
        raise ValueError(f"not modelled: {sorted(unsupported)}")
    ents, eps, fqdns = r.get(f"{d}Entities"), r.get(f"{d}Endpoints"), r.get(f"{d}FQDNs")
    cidrs = [{"cidr": c} for c in r.get(f"{d}CIDR") or []] + list(r.get(f"{d}CIDRSet") or [])
    if ents is None and eps is None and fqdns is None and not cidrs:
        return True
    if any(_ENTITY[e](ident) for e in ents or []):
        return True
    if ident.pod is not None and any(_endpoint_sel(s, ident.pod, ns, w) for s in eps or []):
        return True
    if ident.fqdn and any(_fqdn(f, ident.fqdn) for f in fqdns or []):
        return True
    return ident.cidr_selectable and any(
        in_cidr(ident.ip, c["cidr"], c.get("except") or []) for c in cidrs
    )


def _fqdn(f: Mapping[str, str], name: str) -> bool:
    import fnmatch

    if "matchName" in f:
        return f["matchName"] == name
    pattern = f.get("matchPattern", "")
    # `*` matches one or more DNS-valid characters within a label (language.rst).
    return fnmatch.fnmatchcase(name, pattern) and name.count(".") == pattern.count(".")


def _applies(r: Rule, pod: Pod, w: World) -> bool:
    if pod.host_network or (r.ns is not None and r.ns != pod.namespace):
        return False
    if r.kind == "NetworkPolicy":
        return selects(r.selector, pod.label_map)
    return _endpoint_sel(r.selector, pod, None, w)


def _l4(item: dict[str, Any]) -> list[dict[str, Any]] | None:
    tp = item.get("toPorts")
    return None if not tp else [p for t in tp for p in t.get("ports") or []]


def _verdict(  # noqa: PLR0917 - one direction of one flow, all it depends on
    pod: Pod, peer: Ident, d: str, f: Flow, w: World, sem: Semantics
) -> str | None:
    """None = allowed; else why not."""
    cdir = "from" if d == "ingress" else "to"
    isolated, allowed = False, False
    for r in w.rules():
        if (sem == "k8s" and r.kind != "NetworkPolicy") or not _applies(r, pod, w):
            continue
        denies = r.ingress_deny if d == "ingress" else r.egress_deny
        for dr in denies:
            if _cnp_peer(dr, cdir, r.ns, peer, w) and ports_match(_l4(dr), f.port, f.protocol):
                return f"denied by a {r.kind} deny rule"
        section = r.ingress if d == "ingress" else r.egress
        if section is None and not denies:
            continue
        isolated |= r.default_deny[d]
        for item in section or []:
            if r.kind == "NetworkPolicy":
                peers = item.get(cdir)
                hit = not peers or any(_np_peer(p, r.ns or "", peer, sem, w) for p in peers)
                ok = hit and ports_match(item.get("ports"), f.port, f.protocol)
            else:
                ok = _cnp_peer(item, cdir, r.ns, peer, w) and ports_match(
                    _l4(item), f.port, f.protocol
                )
            allowed |= ok
    if allowed or not isolated:
        return None
    return "no allow (default deny)"


def _node_of(p: Peer) -> Node | None:
    return p.node if isinstance(p, Pod) else p if isinstance(p, Node) else None


def _is_host(p: Peer) -> bool:
    return isinstance(p, Node) or (isinstance(p, Pod) and p.host_network)


def evaluate(f: Flow, w: World, sem: Semantics) -> tuple[bool, str]:
    """Both ends must allow: egress at a pod source, ingress at a pod destination."""
    src_node = _node_of(f.src)
    if isinstance(f.src, Pod) and not f.src.host_network:
        own_node = _is_host(f.dst) and _node_of(f.dst) == f.src.node
        if not (sem == "k8s" and own_node):
            why = _verdict(f.src, identity(f.dst, f.src.node, w), "egress", f, w, sem)
            if why:
                return False, f"egress: {why}"
    if isinstance(f.dst, Pod) and not f.dst.host_network:
        if _is_host(f.src) and src_node == f.dst.node:
            return True, "from the local node (always allowed)"
        why = _verdict(f.dst, identity(f.src, f.dst.node, w, source=True), "ingress", f, w, sem)
        if why:
            return False, f"ingress: {why}"
    return True, "allowed"
