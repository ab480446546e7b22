"""dev through the real engine: `pulumi up` on a real API server with kind's node shape,
then what a user and a tenant see there, then `pulumi destroy`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.security.policies import TENANT_LABEL
from tests.live.cluster import Cluster
from tests.live.conftest import workload
from tests.live.events import early_custom_resources, summary
from tests.live.kube import can_i, get, server_dry_run
from tests.live.moves import before_moves
from tests.live.previews import (
    mandatory_violations,
    pack_ran,
    planned_changes,
    second_preview,
)
from tests.live.rendered import rendered_objects
from tests.live.workspace import ROOT, Workspace, workspace

STACK = "dev"
TENANT = "demo"
DEVELOPER = ("--as=dev@example.com", "--as-group=developers")


@dataclass(frozen=True)
class Deployed:
    cluster: Cluster
    ws: Workspace
    preview: str
    up: str
    second: subprocess.CompletedProcess[str]
    events: Path  # the engine's events of `pulumi up`, one JSON document a line


@pytest.fixture(scope="module")
def dev(live_root: Path) -> Iterator[Deployed]:
    with workload(live_root, "kind-k8s-platform-dev", kind=True) as c:
        ws = workspace(live_root, c.kubeconfig)
        ws.pulumi("stack", "init", STACK)
        preview = ws.pulumi("preview", "--stack", STACK).stdout
        # With --skip-preview, --json streams the engine's events, one per line.
        up = ws.pulumi("up", "--yes", "--skip-preview", "--stack", STACK, "--json").stdout
        events = live_root / "up-events.jsonl"
        events.write_text(up)
        second = second_preview(ws, STACK, "policy/config/dev.json")
        yield Deployed(c, ws, preview, up, second, events)


def test_up_creates_every_object_the_render_lists(dev: Deployed) -> None:
    assert summary(dev.events).get("create", 0) > 100, dev.up[-3000:]
    wanted = rendered_objects(STACK)
    missing = []
    for group, kind in sorted({(g, k) for g, k, _, _ in wanted}):
        live = get(dev.cluster.kubeconfig, f"{kind}.{group}" if group else kind, "-A")
        have = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in live["items"]}
        missing += [
            f"{kind} {ns}/{name}"
            for g, k, ns, name in wanted
            if (g, k) == (group, kind) and (ns, name) not in have
        ]
    assert not missing, f"{len(missing)} rendered objects not in the cluster: {missing[:20]}"


def test_no_custom_resource_is_created_before_its_crd(dev: Deployed) -> None:
    """On a new cluster a custom resource sent before its CRD is served fails with `no
    matches for kind`: the program orders every CRD it installs before its resources."""
    checked, early = early_custom_resources(dev.events)
    assert checked > 20, f"only {checked} custom resources of CRDs this run created"
    assert not early, f"created before their CRD was ready: {early[:10]}"


def test_a_second_preview_changes_nothing(dev: Deployed) -> None:
    assert not planned_changes(dev.second), dev.second.stdout[-5000:]


def test_the_api_server_enforces_pod_security_in_tenant_namespaces(dev: Deployed) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "escape", "namespace": TENANT},
        "spec": {
            "containers": [
                {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}
            ]
        },
    }
    done = server_dry_run(dev.cluster.kubeconfig, pod)
    assert done.returncode != 0 and "violates PodSecurity" in done.stderr, done.stderr


def test_the_api_server_refuses_a_gateway_api_crd_our_guard_does_not_admit(dev: Deployed) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "widgets.gateway.networking.k8s.io",
            "annotations": {
                # What every Gateway API CRD carries (the API server requires it in
                # *.k8s.io groups); the standard channel is what the guard refuses.
                "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/4530",
                "gateway.networking.k8s.io/channel": "standard",
                "gateway.networking.k8s.io/bundle-version": "v1.6.1",
            },
        },
        "spec": {
            "group": "gateway.networking.k8s.io",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    done = server_dry_run(dev.cluster.kubeconfig, crd)
    assert done.returncode != 0, "a standard-channel Gateway API CRD was admitted"
    # The ValidatingAdmissionPolicy's name (components/edge, gateway-api-crd-guard).
    assert "gateway-api-crds.k8s-platform.io" in done.stderr, done.stderr
    # The channel the pinned chart ships passes the same guard.
    crd["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] = "experimental"
    done = server_dry_run(dev.cluster.kubeconfig, crd)
    assert done.returncode == 0, done.stderr


def test_tenant_developers_cannot_change_isolation_or_read_platform_secrets(
    dev: Deployed,
) -> None:
    kc = dev.cluster.kubeconfig
    assert can_i(kc, "create", "deployments.apps", TENANT, *DEVELOPER), "developers must deploy"
    for verb, resource in (
        ("create", "networkpolicies.networking.k8s.io"),
        ("delete", "networkpolicies.networking.k8s.io"),
        ("create", "ciliumnetworkpolicies.cilium.io"),
        ("create", "rolebindings.rbac.authorization.k8s.io"),
    ):
        assert not can_i(kc, verb, resource, TENANT, *DEVELOPER), f"{verb} {resource}"
    platform = [
        n["metadata"]["name"]
        for n in get(kc, "namespaces")["items"]
        if TENANT_LABEL not in n["metadata"].get("labels", {})
    ]
    assert {"kube-system", "monitoring", "velero"} <= set(platform), platform
    for ns in platform:
        assert not can_i(kc, "get", "secrets", ns, *DEVELOPER), f"secrets in {ns}"


def test_the_policy_pack_reports_no_mandatory_violation(dev: Deployed) -> None:
    assert pack_ran(dev.second), "the policy pack did not run"
    assert not mandatory_violations(dev.second), dev.second.stdout[-5000:]


def test_the_engine_registers_the_urns_the_render_snapshot_records(dev: Deployed) -> None:
    """The snapshot's URNs come from mocks; the URN history and every alias check build on
    them, so they must be the URNs the real engine writes."""
    export = json.loads(dev.ws.pulumi("stack", "export", "--stack", STACK).stdout)
    snapshot = json.loads((ROOT / "tests" / "snapshots" / "render.json").read_text())

    def ours(resources: list[dict[str, str]]) -> set[str]:
        # Chart v4's children and the engine's own resources are not in the snapshot.
        return {
            r["urn"]
            for r in resources
            if "helm.sh/v4:Chart$" not in r["urn"] and not r["type"].startswith("pulumi:")
        }

    live, recorded = ours(export["deployment"]["resources"]), ours(snapshot[STACK]["resources"])
    assert live and live == recorded, (sorted(live - recorded)[:10], sorted(recorded - live)[:10])


def test_a_stack_from_before_the_last_move_keeps_every_resource(dev: Deployed) -> None:
    """The upgrade path: the stack as the program left it before its resources moved
    (tests/live/moves.py), then `pulumi up` of the current program."""
    export = json.loads(dev.ws.pulumi("stack", "export", "--stack", STACK).stdout)
    state, found = before_moves(export, STACK)
    assert found, "the URN history records no moved resource: nothing to check"
    old = dev.ws.project.parent / "before-moves.json"
    old.write_text(json.dumps(state))
    dev.ws.pulumi("stack", "import", "--stack", STACK, "--file", str(old))
    done = dev.ws.pulumi("up", "--yes", "--skip-preview", "--stack", STACK, "--json", check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    events = dev.ws.project.parent / "upgrade-events.jsonl"
    events.write_text(done.stdout)
    changes = summary(events)
    assert set(changes) == {"same"}, f"moved {sorted(found)}: {changes}"


def test_destroy_completes_and_leaves_only_what_the_docs_say_survives(dev: Deployed) -> None:
    dev.ws.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK, timeout=1200)
    kc = dev.cluster.kubeconfig
    left = [n["metadata"]["name"] for n in get(kc, "namespaces")["items"]]
    assert set(left) <= {"default", "kube-system", "kube-public", "kube-node-lease"}, left
