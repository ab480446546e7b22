"""The live suite (`make live`): the real Pulumi engine against real API servers.

Each stack gets its own fixture cluster, one stack at a time (the machine has 2 cores).
The suite runs inside a private network namespace (`unshare --net`, see the Makefile):
nothing it starts can reach an address beyond loopback."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live import cluster, doubles, engines
from tests.live.kube import apply, kubectl

pytestmark = pytest.mark.live


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    late = engines.out_of_ci_time(time.time(), os.environ.get("CI_STARTED"))
    for item in items:
        if "tests/live/" in str(item.fspath):
            item.add_marker(pytest.mark.live)
            if late:
                item.add_marker(pytest.mark.skip(reason=late))


@pytest.fixture(scope="module")
def live_root(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    engines.require()
    return tmp_path_factory.mktemp(Path(str(request.node.name)).stem)


@contextmanager
def workload(root: Path, context: str, *, kind: bool = False) -> Iterator[cluster.Cluster]:
    """The cluster the add-ons land on, with kind's node shape, its context `context`."""
    with cluster.running("workload", root / "workload", context) as c:
        apply(c.kubeconfig, *cluster.nodes(), *([cluster.kind_storage_class()] if kind else []))
        kubectl(c.kubeconfig, "wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")
        crds = engines.crds_dir()
        with doubles.running(
            doubles.cilium_operator(c.kubeconfig, crds),
            doubles.provisioner(c.kubeconfig),
            doubles.cert_manager(c.kubeconfig, c.root / "pki"),
            doubles.gateway_controller(c.kubeconfig),
        ):
            yield c
