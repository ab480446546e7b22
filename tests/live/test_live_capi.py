"""staging and prod through the real engine: Cluster API objects on a management API
server, the add-ons on the workload API server the `<cluster>-kubeconfig` Secret names, a
version upgrade behind the pre-upgrade backup hook, and the policy pack as CI runs it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.live import aws, capi_doubles, cluster, doubles, engines
from tests.live.conftest import workload
from tests.live.kube import apply, can_i, get, kubectl
from tests.live.previews import (
    mandatory_violations,
    pack_ran,
    planned_changes,
    second_preview,
)
from tests.live.rendered import rendered_objects
from tests.live.workspace import Workspace, set_secrets, workspace
from tools.offline import stack_config

MGMT_CONTEXT = "capi-mgmt"


@dataclass(frozen=True)
class CapiDeployed:
    stack: str
    management: cluster.Cluster
    workload: cluster.Cluster
    capi: capi_doubles.ClusterApi
    velero: capi_doubles.Velero
    ws: Workspace
    up: str
    second: subprocess.CompletedProcess[str]


@contextmanager
def management(root: Path) -> Iterator[cluster.Cluster]:
    """The management cluster: Cluster API's CRDs (as clusterctl installs them) and nodes."""
    with cluster.running("management", root / "management", MGMT_CONTEXT) as m:
        crds = sorted(engines.crds_dir().glob("*cluster.x-k8s.io_*.yaml"))
        assert crds, "no Cluster API CRDs in the CRD schemas"
        for crd in crds:
            kubectl(m.kubeconfig, "apply", "--server-side", "-f", str(crd))
        apply(m.kubeconfig, *cluster.nodes())
        yield m


def _config(stack: str) -> dict[str, Any]:
    return stack_config(stack)


def _buckets(raw: dict[str, Any]) -> list[str]:
    out = []
    for path in (
        ("persistence", "backups", "objectStore"),
        ("observability", "loki", "objectStore"),
    ):
        node: Any = raw
        for key in path:
            node = (node or {}).get(key)
        if node and node.get("bucket"):
            out.append(node["bucket"])
    return out


def deploy(root: Path, stack: str) -> Iterator[CapiDeployed]:
    raw = _config(stack)
    capi_cfg = raw["cluster"]["capi"]
    with (
        workload(root, "workload-admin@workload") as w,
        management(root) as m,
        aws.account(root, capi_cfg, _buckets(raw)) as env,
    ):
        capi = capi_doubles.ClusterApi(m.kubeconfig, w.kubeconfig.read_text())
        velero = capi_doubles.Velero(w.kubeconfig)
        with doubles.running(capi.step, velero.step, period=1.0):
            ws = workspace(root, m.kubeconfig, extra=env)
            ws.pulumi("stack", "init", stack)
            set_secrets(ws, stack, raw.get("secrets") or {})
            # The suite's state is a file backend, which prod-profile stacks refuse unless
            # the risk is accepted; nothing else in the stack file changes.
            risks = len(raw.get("acceptRisks") or [])
            ws.pulumi(
                "config", "set", "--stack", stack, "--path", f"acceptRisks[{risks}]", "stateBackend"
            )
            ws.pulumi("preview", "--stack", stack)
            up = ws.pulumi("up", "--yes", "--skip-preview", "--stack", stack).stdout
            # The workflows preview staging and prod with the prod policy config.
            second = second_preview(ws, stack, "policy/config/prod.json")
            yield CapiDeployed(stack, m, w, capi, velero, ws, up, second)


@pytest.fixture(scope="module", params=["staging", "prod"])
def capi(request: pytest.FixtureRequest, live_root: Path) -> Iterator[CapiDeployed]:
    yield from deploy(live_root / request.param, request.param)


def test_capi_up_creates_every_rendered_object_on_one_of_its_clusters(capi: CapiDeployed) -> None:
    wanted = rendered_objects(capi.stack)
    missing = []
    for group, kind in sorted({(g, k) for g, k, _, _ in wanted}):
        have: set[tuple[str | None, str]] = set()
        for c in (capi.management, capi.workload):
            done = kubectl(
                c.kubeconfig,
                "get",
                f"{kind}.{group}" if group else kind,
                "-A",
                "-o",
                "json",
                check=False,
            )
            if done.returncode == 0:
                have |= {
                    (o["metadata"].get("namespace"), o["metadata"]["name"])
                    for o in json.loads(done.stdout)["items"]
                }
        missing += [
            f"{kind} {ns}/{name}"
            for g, k, ns, name in wanted
            if (g, k) == (group, kind) and (ns, name) not in have
        ]
    assert not missing, f"{len(missing)} rendered objects not found: {missing[:20]}"


def test_capi_a_second_preview_changes_nothing(capi: CapiDeployed) -> None:
    assert not planned_changes(capi.second), capi.second.stdout[-5000:]


def test_capi_the_policy_pack_reports_no_mandatory_violation(capi: CapiDeployed) -> None:
    assert pack_ran(capi.second), "the policy pack did not run"
    assert not mandatory_violations(capi.second), capi.second.stdout[-6000:]


def test_capi_tenants_cannot_reach_around_isolation(capi: CapiDeployed) -> None:
    sec = _config(capi.stack)["security"]
    kc = capi.workload.kubeconfig
    for tenant in sec["tenants"]:
        as_ = ("--as=dev@example.com", *[f"--as-group={g}" for g in tenant["developerGroups"]])
        ns = tenant["name"]
        assert can_i(kc, "create", "deployments.apps", ns, *as_), f"{ns}: developers must deploy"
        assert not can_i(kc, "create", "networkpolicies.networking.k8s.io", ns, *as_)
        assert not can_i(kc, "create", "ciliumnetworkpolicies.cilium.io", ns, *as_)
        for platform in ("monitoring", "velero", "kube-system"):
            assert not can_i(kc, "get", "secrets", platform, *as_), f"{ns} reads {platform}"


def _kcp_version(capi: CapiDeployed) -> str:
    items = get(capi.management.kubeconfig, capi_doubles.KCP, "-A")["items"]
    return str(items[0]["spec"]["version"])


def _set_version(capi: CapiDeployed, version: str) -> None:
    capi.ws.pulumi(
        "config",
        "set",
        "--stack",
        capi.stack,
        "--path",
        "k8s-platform:cluster.kubernetesVersion",
        version,
    )


def test_an_upgrade_backs_up_first_and_a_failed_backup_stops_it(capi: CapiDeployed) -> None:
    if capi.stack != "staging":
        pytest.skip("the upgrade is rehearsed on staging, as the upgrade runbook says")
    before = _kcp_version(capi)
    target = before.rsplit(".", 1)[0] + ".9"
    _set_version(capi, target)
    capi.velero.fail_backups = True
    failed = capi.ws.pulumi("up", "--yes", "--skip-preview", "--stack", capi.stack, check=False)
    assert failed.returncode != 0, "the upgrade went ahead after a failed backup"
    assert _kcp_version(capi) == before, "the KubeadmControlPlane changed despite the failure"
    assert capi.velero.backups, "no pre-upgrade backup was attempted"
    capi.velero.fail_backups = False
    capi.ws.pulumi("up", "--yes", "--skip-preview", "--stack", capi.stack)
    assert _kcp_version(capi) == target
    assert len(capi.velero.backups) >= 2, capi.velero.backups
