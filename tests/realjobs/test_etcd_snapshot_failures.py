"""Every way the etcd-snapshot job can fail must fail the Job (exit non-zero), promptly."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from tests.realjobs import etcd, pki, pod
from tests.realjobs.fixtures import HANG_CAP, PKI_DIR, JobRunner, World, make_world
from tests.realjobs.objectstore import ObjectStore

pytestmark = pytest.mark.realjobs  # real binaries: `make realjobs`

OLD = "20200101T0000{:02d}Z-cp-0.db"  # sorts before any snapshot taken today


def seed(world: World, count: int) -> list[str]:
    """`count` older snapshots under the job's prefix, oldest first."""
    keys = [f"{world.prefix}/{OLD.format(i)}" for i in range(count)]
    s3 = world.store.client("s3")
    for key in keys:
        s3.put_object(Bucket=world.bucket, Key=key, Body=b"old")
    return keys


def snapshots(world: World) -> list[str]:
    return [k for k in world.store.keys(world.bucket, world.prefix + "/") if k.endswith(".db")]


@pytest.fixture
def foreign_cert_node(node: pod.Node, tmp_path_factory: pytest.TempPathFactory) -> pod.Node:
    """A node whose client cert comes from another CA (the etcd CA file is the real one)."""
    other = pod.Node("cp-2", tmp_path_factory.mktemp("node-foreign"))
    pki.kubeadm_etcd_pki(other.path(PKI_DIR), ca_name="someone-else")
    shutil.copy(node.path(PKI_DIR) / "ca.crt", other.path(PKI_DIR) / "ca.crt")
    return other


def test_retention_keeps_exactly_keep(
    store: ObjectStore, upload_env: dict[str, str], run_snapshot_job: JobRunner
) -> None:
    keep = int(upload_env["KEEP"])
    world = make_world(store, upload_env)
    old = seed(world, keep + 2)
    _, run = run_snapshot_job(world)
    assert run.ok, run.describe()
    left = snapshots(world)
    assert len(left) == keep
    assert set(old[:3]).isdisjoint(left) and set(old[3:]) <= set(left)


Case = Callable[[ObjectStore, dict[str, str], JobRunner, etcd.Etcd, pod.Node], pod.PodRun]


def _etcd_down(s: ObjectStore, env: dict[str, str], r: JobRunner, *_: object) -> pod.PodRun:
    closed = f"https://127.0.0.1:{etcd.free_port()}"  # nothing listens there
    return r(make_world(s, env), etcd_endpoint=closed, cap=HANG_CAP)[1]


def _etcd_hung(
    s: ObjectStore, env: dict[str, str], r: JobRunner, server: etcd.Etcd, _n: pod.Node
) -> pod.PodRun:
    world = make_world(s, env)
    with server.frozen():  # accepts TCP, answers nothing
        return r(world, cap=HANG_CAP)[1]


def _bad_cert(
    s: ObjectStore, env: dict[str, str], r: JobRunner, _e: etcd.Etcd, foreign: pod.Node
) -> pod.PodRun:
    return r(make_world(s, env), on=foreign, cap=HANG_CAP)[1]


def _missing_bucket(s: ObjectStore, env: dict[str, str], r: JobRunner, *_: object) -> pod.PodRun:
    return r(make_world(s, env, bucket=False), cap=HANG_CAP)[1]


def _no_list(s: ObjectStore, env: dict[str, str], r: JobRunner, *_: object) -> pod.PodRun:
    world = make_world(s, env, without=("s3:ListBucket",))
    seed(world, int(env["KEEP"]))  # one to prune once this run's snapshot is in
    return r(world, cap=HANG_CAP)[1]


def _no_delete(s: ObjectStore, env: dict[str, str], r: JobRunner, *_: object) -> pod.PodRun:
    world = make_world(s, env, without=("s3:DeleteObject",))
    seed(world, int(env["KEEP"]))
    return r(world, cap=HANG_CAP)[1]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_etcd_down, id="etcd-down"),
        pytest.param(_etcd_hung, id="etcd-hung"),
        pytest.param(_bad_cert, id="bad-certificate"),
        pytest.param(_missing_bucket, id="missing-bucket"),
        pytest.param(_no_list, id="no-list-right"),
        pytest.param(_no_delete, id="no-delete-right"),
    ],
)
def test_each_failure_fails_the_job_promptly(
    case: Case,
    *,
    store: ObjectStore,
    upload_env: dict[str, str],
    run_snapshot_job: JobRunner,
    etcd_server: etcd.Etcd,
    foreign_cert_node: pod.Node,
) -> None:
    run = case(store, upload_env, run_snapshot_job, etcd_server, foreign_cert_node)
    assert not run.hung, f"still running after {HANG_CAP}s:\n{run.describe()}"
    assert not run.ok, f"exited 0:\n{run.describe()}"


def test_a_retry_after_a_failed_prune_adds_no_snapshot(
    store: ObjectStore, upload_env: dict[str, str], run_snapshot_job: JobRunner
) -> None:
    keep = int(upload_env["KEEP"])
    world = make_world(store, upload_env, without=("s3:DeleteObject",))
    seeded = seed(world, keep)
    for _attempt in range(2):  # restartPolicy OnFailure: the kubelet runs the pod again
        _, run = run_snapshot_job(world, cap=HANG_CAP)
        assert not run.ok, run.describe()
    assert snapshots(world) == seeded
