"""Kubelet serving certificates are approved automatically wherever the render makes the
kubelets request them (serverTLSBootstrap), by an approver that checks each CSR against
the node names and addresses this cluster can have. kube-controller-manager never
approves `kubernetes.io/kubelet-serving` CSRs (kubernetes/kubernetes#73356), so without
one metrics-server never becomes Ready and `kubectl logs/exec` fail on every new node.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import yaml

from tools.fullrender import FullRender, Rendered

SIGNER = "kubernetes.io/kubelet-serving"


def _bootstraps_serving_certs(full: FullRender) -> list[str]:
    """Kubeadm configs of the render whose kubelets request serving certificates."""
    found = []
    for o in full.objects:
        if o.kind not in {"KubeadmControlPlane", "KubeadmConfigTemplate"}:
            continue
        spec = o.doc["spec"]
        spec = spec.get("kubeadmConfigSpec") or spec.get("template", {}).get("spec", {})
        for f in spec.get("files") or []:
            doc = yaml.safe_load(f.get("content") or "") or {}
            kubelet = isinstance(doc, dict) and doc.get("kind") == "KubeletConfiguration"
            if kubelet and doc.get("serverTLSBootstrap"):
                found.append(o.ref)
    return found


def _approvers(full: FullRender) -> list[tuple[Rendered, dict[str, Any]]]:
    """Deployments whose ServiceAccount may approve kubelet-serving CSRs."""
    roles = {r.name: r.doc.get("rules") or [] for r in full.of_kind("ClusterRole")}

    def can_approve(rules: list[dict[str, Any]]) -> bool:
        signer = any(
            "approve" in r.get("verbs", [])
            and "signers" in r.get("resources", [])
            and SIGNER in (r.get("resourceNames") or [SIGNER])
            for r in rules
        )
        approval = any(
            "update" in r.get("verbs", [])
            and "certificatesigningrequests/approval" in r.get("resources", [])
            for r in rules
        )
        return signer and approval

    subjects = {
        (s.get("namespace"), s["name"])
        for b in full.of_kind("ClusterRoleBinding")
        if can_approve(roles.get(b.doc["roleRef"]["name"], []))
        for s in b.doc.get("subjects") or []
        if s.get("kind") == "ServiceAccount"
    }
    out = []
    for d in full.of_kind("Deployment"):
        pod = d.doc["spec"]["template"]["spec"]
        if (d.namespace, pod.get("serviceAccountName", "default")) in subjects:
            out.append(
                (d, {e["name"]: e.get("value") for e in pod["containers"][0].get("env", [])})
            )
    return out


def test_every_stack_that_bootstraps_serving_certs_runs_an_approver(full: FullRender) -> None:
    bootstraps, approvers = _bootstraps_serving_certs(full), _approvers(full)
    if full.stack == "prod":
        assert bootstraps, "prod's kubelets no longer request serving certificates"
    if bootstraps:
        assert approvers, f"{full.stack}: nothing approves the serving CSRs of {bootstraps}"
    else:
        # kind's kubelets sign their own certificates: no approver idles on a laptop.
        assert not approvers, [d.ref for d, _ in approvers]


def test_the_approver_accepts_only_this_clusters_node_names_and_addresses(
    full_prod: FullRender,
) -> None:
    (dep, env), *others = _approvers(full_prod)
    assert not others
    # Pulumi.prod.yaml: eu-west-1, VPC 10.0.0.0/16 (the subnets module's default).
    regex = re.compile(env["PROVIDER_REGEX"])
    assert regex.match("ip-10-0-12-34.eu-west-1.compute.internal")
    for name in (
        "ip-10-0-12-34.eu-west-1.compute.internal.evil.example",
        "ip-10-0-12-34.us-east-1.compute.internal",
        "kubernetes.default.svc",
        "attacker.example.com",
    ):
        assert not regex.match(name), name
    prefixes = [ipaddress.ip_network(p) for p in env["PROVIDER_IP_PREFIXES"].split(",")]
    assert prefixes == [ipaddress.ip_network("10.0.0.0/16")]
    # Names must resolve to the CSR's IPs (VPC DNS): the check is not bypassed.
    assert env.get("BYPASS_DNS_RESOLUTION") in (None, "false")
    assert env.get("ALLOWED_DNS_NAMES") == "1"
    assert int(dep.doc["spec"]["replicas"]) >= 2
