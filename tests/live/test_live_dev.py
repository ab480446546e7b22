"""dev through the real engine: `pulumi up` on a real API server with kind's node shape,
then what a user and a tenant see there, then `pulumi destroy`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.security.policies import TENANT_LABEL
from tests.live.cluster import Cluster
from tests.live.conftest import workload
from tests.live.kube import can_i, get, server_dry_run
from tests.live.rendered import rendered_objects
from tests.live.workspace import Workspace, workspace

STACK = "dev"
TENANT = "demo"
DEVELOPER = ("--as=dev@example.com", "--as-group=developers")


@dataclass(frozen=True)
class Deployed:
    cluster: Cluster
    ws: Workspace
    preview: str
    up: str


@pytest.fixture(scope="module")
def dev(live_root: Path) -> Iterator[Deployed]:
    with workload(live_root, "kind-k8s-platform-dev", kind=True) as c:
        ws = workspace(live_root, c.kubeconfig)
        ws.pulumi("stack", "init", STACK)
        preview = ws.pulumi("preview", "--stack", STACK, "--diff").stdout
        up = ws.pulumi("up", "--yes", "--skip-preview", "--stack", STACK).stdout
        yield Deployed(c, ws, preview, up)


def _created(up: str) -> int:
    m = re.search(r"Resources:\s*\n\s*\+ (\d+) created", up)
    return int(m.group(1)) if m else 0


def test_up_creates_every_object_the_render_lists(dev: Deployed) -> None:
    assert _created(dev.up) > 100, dev.up[-3000:]
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


def test_a_second_preview_changes_nothing(dev: Deployed) -> None:
    done = dev.ws.pulumi("preview", "--stack", STACK, "--expect-no-changes", "--diff", check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


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
    done = dev.ws.pulumi(
        "preview",
        "--stack",
        STACK,
        "--policy-pack",
        "policy",
        "--policy-pack-config",
        "policy/config/dev.json",
        check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert "mandatory" not in done.stdout.lower(), done.stdout[-5000:]


def test_destroy_completes_and_leaves_only_what_the_docs_say_survives(dev: Deployed) -> None:
    dev.ws.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK, timeout=1200)
    kc = dev.cluster.kubeconfig
    left = [n["metadata"]["name"] for n in get(kc, "namespaces")["items"]]
    assert set(left) <= {"default", "kube-system", "kube-public", "kube-node-lease"}, left
