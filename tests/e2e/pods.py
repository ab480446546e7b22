"""The pods the smoke suite runs in a tenant namespace.

They must be admitted where tenants run: Pod Security `restricted` (non-root, no privilege
escalation, drop ALL, seccomp RuntimeDefault) and the platform's Kyverno policies (an
image pinned by digest, CPU/memory requests and limits, readiness and liveness probes).
"""

from __future__ import annotations

import os
from typing import Any

# busybox 1.37.0 (multi-arch index), pinned by digest: it has sh, nc, nslookup and httpd.
PROBE_IMAGE = os.environ.get(
    "E2E_PROBE_IMAGE",
    "docker.io/library/busybox:1.37.0"
    "@sha256:9db7b59979c38555a39def84a31fb98b5296952f9e3afd4f6f11f05b07adfab0",
)
TENANT_SELECTOR = "k8s-platform/tenant"
RUN_LABEL = "e2e.k8s-platform.io/run"
LISTEN_PORT = 8080
NOBODY = 65534

_RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "16Mi"},
    "limits": {"cpu": "100m", "memory": "32Mi"},
}


def _probe(handler: dict[str, Any]) -> dict[str, Any]:
    return {**handler, "periodSeconds": 10, "timeoutSeconds": 5}


def pod(name: str, namespace: str, run: str, script: str, listen: bool = False) -> dict[str, Any]:
    """A long-running busybox pod running `script` under the restricted profile."""
    handler = {"tcpSocket": {"port": LISTEN_PORT}} if listen else {"exec": {"command": ["true"]}}
    container: dict[str, Any] = {
        "name": "main",
        "image": PROBE_IMAGE,
        "command": ["sh", "-c", script],
        "securityContext": _RESTRICTED_CONTAINER,
        "resources": _RESOURCES,
        "readinessProbe": _probe(handler),
        "livenessProbe": _probe(handler),
    }
    if listen:
        container["ports"] = [{"containerPort": LISTEN_PORT, "protocol": "TCP"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {RUN_LABEL: run}},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": NOBODY,
                "runAsGroup": NOBODY,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
        },
    }


def logger(name: str, namespace: str, run: str, token: str) -> dict[str, Any]:
    """Prints `token` every few seconds (for Loki) and probes the network on demand."""
    return pod(
        name,
        namespace,
        run,
        f'while true; do echo "smoke-token {token}"; sleep 5; done',
    )


def listener(name: str, namespace: str, run: str) -> dict[str, Any]:
    """Serves TCP on LISTEN_PORT: the target another tenant must not reach."""
    return pod(name, namespace, run, f"exec httpd -f -p {LISTEN_PORT} -h /tmp", listen=True)
