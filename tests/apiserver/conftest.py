"""The API server tier (`make apiserver`): each stack's render judged by a real kube-apiserver
(`make engines`) on loopback, with etcd and nothing else: no Pulumi, no controllers, no
nodes. One API server per stack, started once and stopped before the next stack's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver.render import StackRender, load
from tests.apiserver.server import Judged, judge
from tests.live import cluster, engines
from tools.offline import CRDS_DIR

STACKS = ("dev", "staging", "prod")
NEEDED = ("kube-apiserver", "kubectl")
# kind's API server runs kubeadm's default admission plugins; a Cluster API stack's runs the
# KubeadmControlPlane's (tests/live/apiserver_flags.py), DenyServiceExternalIPs among them.
KIND_ADMISSION = ("--enable-admission-plugins=NodeRestriction",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/apiserver/" in str(item.fspath):
            item.add_marker(pytest.mark.apiserver)


def _require() -> None:
    missing = [b for b in NEEDED if not (engines.bin_dir() / b).is_file()]
    if missing:
        msg = f"missing engines in {engines.bin_dir()}: {', '.join(missing)}; run `make engines`"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def _is_capi(render: StackRender) -> bool:
    return bool(render.of_kind("KubeadmControlPlane"))


# Required of a CRD in a *.k8s.io group (kubernetes/enhancements#1111); Gateway API's own.
APPROVED = "https://github.com/kubernetes-sigs/gateway-api/pull/1538"


def _probes(render: StackRender) -> dict[str, Any]:
    """One object each admission policy group refuses once it is in force."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "probes.gateway.networking.k8s.io",
            "annotations": {
                "gateway.networking.k8s.io/channel": "standard",
                "api-approved.kubernetes.io": APPROVED,
            },
        },
        "spec": {
            "group": "gateway.networking.k8s.io",
            "scope": "Namespaced",
            "names": {"kind": "Probe", "plural": "probes"},
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
    probes: dict[str, Any] = {"gateway-api-crds.k8s-platform.io": crd}
    if "disallow-host-path" in render.names("ValidatingPolicy"):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe", "namespace": "default"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            },
        }
        probes["ValidatingAdmissionPolicy 'kyverno-"] = pod
    return probes


@pytest.fixture(scope="session", params=STACKS)
def judged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Judged]:
    _require()
    stack = str(request.param)
    render = load(stack)
    extra = () if _is_capi(render) else KIND_ADMISSION
    root = tmp_path_factory.mktemp(f"apiserver-{stack}")
    with cluster.api_server_only(stack, root, stack, extra) as c:
        yield judge(c, render, CRDS_DIR, _probes(render))
        for p in c.processes:  # nothing to keep: no graceful shutdown to wait for
            p.kill()
