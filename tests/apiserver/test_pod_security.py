"""Pod Security as the API server's PodSecurity admission judges it, per namespace label.

Our side: every Pod a rendered workload controller would create is admitted in its namespace
(PodSecurity enforces on Pods only, so the Pod from each pod template is sent, as the
controller would create it). The tenant side: in a tenant namespace the server refuses what
the Pod Security Standards forbid (kubernetes.io/docs/concepts/security/pod-security-standards:
Baseline forbids privileged containers, hostPath volumes, host namespaces, host ports and
added capabilities; Restricted also requires runAsNonRoot, no privilege escalation, a
RuntimeDefault or Localhost seccomp profile and dropping ALL capabilities)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.apiserver.render import pods, ref
from tests.apiserver.server import Judged, send

PSA_ENFORCE = "pod-security.kubernetes.io/enforce"


def test_every_workload_pod_is_admitted_in_its_namespace(judged: Judged) -> None:
    pairs = pods(judged.render)
    kinds = {c["kind"] for c, _ in pairs}
    assert len(pairs) > 15 and {"Deployment", "DaemonSet"} <= kinds, sorted(kinds)
    owner = {ref(p): ref(c) for c, p in pairs}
    refused = send(judged, [p for _, p in pairs], dry_run=True, verb="create")
    lines = [f"{owner.get(r.ref, r.ref)} (its Pod): {' '.join(r.message.split())}" for r in refused]
    assert not refused, f"{judged.stack}: {len(refused)} Pods refused:\n" + "\n".join(lines)


def _restricted_pod(namespace: str) -> dict[str, Any]:
    """A Pod the Restricted profile admits: the control the refusals below are judged against."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": namespace},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1.0",
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "runAsUser": 1000,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


VIOLATIONS: dict[str, Any] = {
    # Baseline
    # (the API server's validation refuses privileged beside allowPrivilegeEscalation: false)
    "privileged": lambda c, s: c.update(securityContext={"privileged": True}),
    "hostPath": lambda c, s: s.update(volumes=[{"name": "h", "hostPath": {"path": "/etc"}}]),
    "hostNetwork": lambda c, s: s.update(hostNetwork=True),
    "hostPID": lambda c, s: s.update(hostPID=True),
    "hostPort": lambda c, s: c.update(ports=[{"containerPort": 80, "hostPort": 80}]),
    "NET_ADMIN": lambda c, s: c["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
    # Restricted
    "runAsUser 0": lambda c, s: c["securityContext"].update(runAsUser=0),
    "privilege escalation": lambda c, s: c["securityContext"].update(allowPrivilegeEscalation=True),
    "no seccomp": lambda c, s: s["securityContext"].pop("seccompProfile"),
    "capabilities kept": lambda c, s: c["securityContext"].pop("capabilities"),
}


def _violating(namespace: str, violation: str) -> dict[str, Any]:
    pod = copy.deepcopy(_restricted_pod(namespace))
    VIOLATIONS[violation](pod["spec"]["containers"][0], pod["spec"])
    return pod


def test_a_restricted_pod_is_admitted_in_every_tenant_namespace(judged: Judged) -> None:
    tenants = judged.render.tenant_namespaces()
    assert tenants, f"{judged.stack} renders no tenant namespace"
    for ns in tenants:
        labels = next(
            o["metadata"]["labels"]
            for o in judged.render.of_kind("Namespace")
            if o["metadata"]["name"] == ns
        )
        assert labels.get(PSA_ENFORCE) == "restricted", (ns, labels)
        assert judged.dry_run(_restricted_pod(ns), verb="create") == [""], ns


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_the_api_server_refuses_what_pod_security_forbids_in_a_tenant_namespace(
    judged: Judged, violation: str
) -> None:
    for ns in judged.render.tenant_namespaces():
        (msg,) = judged.dry_run(_violating(ns, violation), verb="create")
        assert "violates PodSecurity" in msg and '"restricted:' in msg, (ns, violation, msg)
