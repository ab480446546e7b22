"""Who can read Secrets cluster-wide, from the full render (ours and every chart's).

A subject reads Secrets cluster-wide when a ClusterRoleBinding binds it to a ClusterRole
with get, list or watch (or `*`) on `secrets` (or `*`) in the core group (or `*`), without
resourceNames. A ClusterRole with an aggregationRule holds the rules of every ClusterRole
whose labels its selectors match (Kubernetes RBAC "Aggregated ClusterRoles"). The roles
Kubernetes itself creates are not in the render; the ones a binding may name are listed in
BUILTIN with what they grant on Secrets (kubernetes plugin/pkg/auth/authorizer/rbac/
bootstrappolicy/policy.go: admin and edit read Secrets, view does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tools.fullrender import FullRender, Rendered

READ = {"get", "list", "watch", "*"}
BUILTIN: dict[str, bool] = {
    "cluster-admin": True,
    "admin": True,
    "edit": True,
    "view": False,
    "system:auth-delegator": False,
    "system:node-bootstrapper": False,
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": False,
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": False,
}


def reads_secrets(rules: Iterable[Mapping[str, Any]]) -> bool:
    for r in rules:
        if r.get("resourceNames") or r.get("nonResourceURLs"):
            continue
        if not {"", "*"} & set(r.get("apiGroups") or []):
            continue
        if {"secrets", "*"} & set(r.get("resources") or []) and READ & set(r.get("verbs") or []):
            return True
    return False


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _rules(role: Rendered, roles: list[Rendered]) -> list[Mapping[str, Any]]:
    rules = list(role.doc.get("rules") or [])
    for sel in (role.doc.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        for other in roles:
            labels = (other.doc.get("metadata") or {}).get("labels") or {}
            if other is not role and _matches(sel, labels):
                rules += other.doc.get("rules") or []
    return rules


def cluster_wide_readers(fr: FullRender) -> dict[str, str]:
    """`Kind namespace/name` of each subject -> the ClusterRoleBinding that grants it."""
    roles = [o for o in fr.workload() if o.kind == "ClusterRole"]
    by_name = {r.name: r for r in roles}
    out: dict[str, str] = {}
    for b in fr.workload():
        if b.kind != "ClusterRoleBinding":
            continue
        ref = (b.doc.get("roleRef") or {}).get("name", "")
        if ref in by_name:
            grants = reads_secrets(_rules(by_name[ref], roles))
        elif ref in BUILTIN:
            grants = BUILTIN[ref]
        else:
            raise ValueError(f"{b.ref}: ClusterRole {ref!r} is neither rendered nor known")
        if not grants:
            continue
        for s in b.doc.get("subjects") or []:
            ns = f"{s['namespace']}/" if s.get("namespace") else ""
            out[f"{s['kind']} {ns}{s['name']}"] = f"{b.name} -> {ref}"
    return out
