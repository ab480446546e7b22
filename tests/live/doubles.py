"""Stand-ins for the controllers that do not run on the fixture, each setting only what
the program or the engine waits on (tests/live/README.md lists them):

- the cilium-operator registers Cilium's policy CRDs once its Deployment is available;
- a volume provisioner binds each pending claim to a PersistentVolume on the node the
  scheduler chose, so StatefulSets with volumeClaimTemplates become Ready.
"""

from __future__ import annotations

import json
import threading
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
                except AssertionError:
                    pass  # the API server is busy or the object moved on: next round

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
