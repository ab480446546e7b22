"""Stand-ins for Cluster API's, CAPA's and Velero's controllers, which do not run on the
fixture. Each writes only what Cluster API or Velero would and the program waits on:

- the KubeadmControlPlane's status: every replica at `spec.version` (`status.versions`)
  and Available, as the KCP controller reports once its machines have rolled; the
  Cluster's ControlPlaneAvailable condition;
- the `<cluster>-kubeconfig` Secret, as Cluster API writes it once the control plane is
  initialised: here it points at the fixture's workload API server;
- a Velero Backup's phase: Completed, or Failed while `fail_backups` is set.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.live.doubles import patch_status
from tests.live.kube import kubectl

KCP = "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io"
CLUSTER = "clusters.cluster.x-k8s.io"
BACKUP = "backups.velero.io"


def _items(kubeconfig: Path, resource: str) -> list[dict[str, Any]]:
    done = kubectl(kubeconfig, "get", resource, "-A", "-o", "json", check=False)
    return list(json.loads(done.stdout).get("items", [])) if done.returncode == 0 else []


def _available(condition: str) -> dict[str, str]:
    """A condition of `condition` type, True for reason Available, as the controllers set it."""
    return {
        "type": condition,
        "status": "True",
        "reason": "Available",
        "message": "",
        "lastTransitionTime": _now(),
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ClusterApi:
    """Cluster API on the management fixture, for a workload fixture's kubeconfig."""

    management: Path
    workload_kubeconfig: str
    seen_versions: list[str] = field(default_factory=list)

    def step(self) -> bool:
        for c in _items(self.management, CLUSTER):
            conditions = (c.get("status") or {}).get("conditions") or []
            if not any(x.get("type") == "ControlPlaneAvailable" for x in conditions):
                up = _available("ControlPlaneAvailable")
                patch_status(
                    self.management,
                    CLUSTER,
                    c,
                    {
                        "conditions": [up],
                        "initialization": {
                            "infrastructureProvisioned": True,
                            "controlPlaneInitialized": True,
                        },
                    },
                )
        for kcp in _items(self.management, KCP):
            spec, meta = kcp["spec"], kcp["metadata"]
            cluster = meta["name"].removesuffix("-control-plane")
            self._kubeconfig_secret(meta["namespace"], cluster)
            version, replicas = spec["version"], spec.get("replicas", 1)
            status = kcp.get("status") or {}
            if status.get("versions") == [{"version": version, "replicas": replicas}]:
                continue
            self.seen_versions.append(version)
            available = _available("Available")
            patch_status(
                self.management,
                KCP,
                kcp,
                {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "upToDateReplicas": replicas,
                    "version": version,
                    "versions": [{"version": version, "replicas": replicas}],
                    "initialization": {"controlPlaneInitialized": True},
                    "conditions": [available],
                    "observedGeneration": meta.get("generation", 1),
                },
            )
        return False

    def _kubeconfig_secret(self, namespace: str, cluster: str) -> None:
        name = f"{cluster}-kubeconfig"
        if kubectl(self.management, "get", "secret", name, "-n", namespace, check=False).returncode:
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "cluster.x-k8s.io/secret",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"cluster.x-k8s.io/cluster-name": cluster},
                },
                "data": {"value": base64.b64encode(self.workload_kubeconfig.encode()).decode()},
            }
            kubectl(self.management, "create", "-f", "-", stdin=json.dumps(secret), check=False)


@dataclass
class Velero:
    """Velero's server on the workload fixture: completes (or fails) each new Backup."""

    workload: Path
    fail_backups: bool = False
    backups: list[str] = field(default_factory=list)

    def step(self) -> bool:
        for backup in _items(self.workload, BACKUP):
            if (backup.get("status") or {}).get("phase"):
                continue
            self.backups.append(backup["metadata"]["name"])
            phase = "Failed" if self.fail_backups else "Completed"
            patch_status(
                self.workload, BACKUP, backup, {"phase": phase, "completionTimestamp": _now()}
            )
        return False
