"""Stand-ins for the controllers that do not run on the fixture, each setting only what
the program or the engine waits on (tests/live/README.md lists them):

- the cilium-operator registers Cilium's policy CRDs once its Deployment is available;
- cert-manager issues each Certificate (its Secret, then Ready), Envoy Gateway accepts
  each Gateway;
- a volume provisioner binds each pending claim to a PersistentVolume on the node the
  scheduler chose, so StatefulSets with volumeClaimTemplates become Ready.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.live.kube import kubectl

CILIUM_CRDS = (
    "cilium.io_ciliumnetworkpolicies.yaml",
    "cilium.io_ciliumclusterwidenetworkpolicies.yaml",
)
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def _items(kubeconfig: Path, *args: str) -> list[dict[str, Any]]:
    done = kubectl(kubeconfig, "get", *args, "-o", "json", check=False)
    if done.returncode:
        return []
    return list(json.loads(done.stdout).get("items", []))


def cilium_operator(kubeconfig: Path, crds_dir: Path) -> Callable[[], bool]:
    """Registers the policy CRDs once a cilium-operator Deployment is available; True when done."""

    def step() -> bool:
        for d in _items(kubeconfig, "deployments", "-A", "-l", "io.cilium/app=operator"):
            if (d.get("status") or {}).get("availableReplicas"):
                docs = [yaml.safe_load((crds_dir / f).read_text()) for f in CILIUM_CRDS]
                kubectl(
                    kubeconfig, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(docs)
                )
                return True
        return False

    return step


def _volume(claim: dict[str, Any], node: str) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim["spec"]
    name = f"pv-{meta['namespace']}-{meta['name']}"[:63]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"k8s-platform.io/live-double": "provisioner"}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
            "storageClassName": spec.get("storageClassName") or "",
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
            "hostPath": {"path": f"/var/lib/live/{name}"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


def provisioner(kubeconfig: Path) -> Callable[[], bool]:
    """Creates a bound PersistentVolume for each pending claim the scheduler placed."""

    def step() -> bool:
        for claim in _items(kubeconfig, "pvc", "-A"):
            node = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
            if claim.get("status", {}).get("phase") == "Pending" and node:
                kubectl(
                    kubeconfig,
                    "apply",
                    "--server-side",
                    "-f",
                    "-",
                    stdin=yaml.safe_dump(_volume(claim, node)),
                    check=False,
                )
        return False

    return step


@contextmanager
def running(*steps: Callable[[], bool], period: float = 2.0) -> Iterator[None]:
    """Runs each step every `period` seconds until it returns True or the block ends."""
    stop = threading.Event()
    pending = list(steps)

    def loop() -> None:
        while pending and not stop.wait(period):
            for step in list(pending):
                try:
                    if step():
                        pending.remove(step)
                except Exception:  # a stand-in must outlive one bad round
                    pass  # the API server is busy or the object moved on: next round

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def patch_status(kubeconfig: Path, resource: str, obj: dict[str, Any], status: Any) -> None:
    """Through the status subresource where the CRD has one, else on the object."""
    meta = obj["metadata"]
    patch = ["patch", resource, meta["name"], "-n", meta["namespace"], "--type=merge"]
    body = json.dumps({"status": status})
    if kubectl(kubeconfig, *patch, "--subresource=status", "-p", body, check=False).returncode:
        kubectl(kubeconfig, *patch, "-p", body, check=False)


def _ready(kubeconfig: Path, resource: str, obj: dict[str, Any], *types: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    generation = obj["metadata"].get("generation", 1)
    conditions = [
        {
            "type": t,
            "status": "True",
            "reason": t,
            "message": "live double",
            "lastTransitionTime": now,
            "observedGeneration": generation,
        }
        for t in types
    ]
    patch_status(kubeconfig, resource, obj, {"conditions": conditions})


def cert_manager(kubeconfig: Path, pki: Path) -> Callable[[], bool]:
    """Issues each Certificate as cert-manager would: its Secret, then Ready."""
    tls = {
        "tls.crt": (pki / "apiserver.crt").read_bytes(),
        "tls.key": (pki / "apiserver.key").read_bytes(),
        "ca.crt": (pki / "ca.crt").read_bytes(),
    }
    data = {k: base64.b64encode(v).decode() for k, v in tls.items()}

    def step() -> bool:
        for cert in _items(kubeconfig, "certificates.cert-manager.io", "-A"):
            conditions = (cert.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Ready" for c in conditions):
                continue
            ns, secret = cert["metadata"]["namespace"], cert["spec"]["secretName"]
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {"name": secret, "namespace": ns},
                "data": data,
            }
            kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(body), check=False)
            _ready(kubeconfig, "certificates.cert-manager.io", cert, "Ready")
        return False

    return step


def gateway_controller(kubeconfig: Path) -> Callable[[], bool]:
    """Envoy Gateway's controller: accepts each Gateway."""

    def step() -> bool:
        for gw in _items(kubeconfig, "gateways.gateway.networking.k8s.io", "-A"):
            conditions = (gw.get("status") or {}).get("conditions") or []
            if not any(
                c.get("type") == "Accepted" and c.get("status") == "True" for c in conditions
            ):
                _ready(
                    kubeconfig, "gateways.gateway.networking.k8s.io", gw, "Accepted", "Programmed"
                )
        return False

    return step
