"""Fixtures for the real-binary job tests: etcd with client TLS, S3 on loopback, the pods.

The Jobs come from the offline evaluation of the stacks (the session's `prod` and `dev`
fixtures), so the tests run exactly the command, env and mounts the program renders.
Loaded as a pytest plugin by the top-level conftest.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.realjobs import binaries, etcd, pki, pod
from tests.realjobs.objectstore import Keys, ObjectStore
from tools.offline import Evaluation

CLUSTER = "prod"  # the prod stack's cluster name
ETCD_RENDERED_ENDPOINT = "https://127.0.0.1:2379"  # hostNetwork: etcd on the node's loopback
PKI_DIR = "/etc/kubernetes/pki/etcd"
# Seeded before every snapshot; the restore test reads them back.
SEED = {f"/registry/configmaps/default/cm-{i}": f"value-{i}" for i in range(20)}
HANG_CAP = 10.0  # seconds a container may run here before it counts as hung


def rendered(evaluation: Evaluation, type_: str, name: str) -> dict[str, Any]:
    """A Job or CronJob of the evaluation as its manifest (kind + spec)."""
    r = evaluation.one(type_, name)
    return {"kind": r.kind, "metadata": r.metadata, "spec": r.inputs["spec"]}


@pytest.fixture(scope="session")
def bins() -> dict[str, Path]:
    found = binaries.require("etcd", "etcdctl", "etcdutl", "aws")
    if shutil.which("bash") is None:
        pytest.skip("bash missing: it stands in for the aws-cli image's /bin/sh")
    return found


@pytest.fixture(scope="session")
def snapshot_cronjob(prod: Evaluation) -> dict[str, Any]:
    return rendered(prod, "kubernetes:batch/v1:CronJob", "etcd-snapshot")


@pytest.fixture(scope="session")
def velero_location(prod: Evaluation) -> dict[str, Any]:
    """The prod BackupStorageLocation as the Velero chart gets it."""
    values = prod.chart("velero").inputs["values"]
    (location,) = values["configuration"]["backupStorageLocation"]
    return dict(location)


@pytest.fixture(scope="session")
def upload_env(snapshot_cronjob: dict[str, Any]) -> dict[str, str]:
    """The upload container's literal env (BUCKET, PREFIX, KEEP, AWS_REGION)."""
    (upload,) = pod.pod_spec(snapshot_cronjob)["containers"]
    return {e["name"]: e["value"] for e in upload["env"] if "value" in e}


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> pod.Node:
    """A control-plane node's file system with kubeadm's etcd PKI."""
    n = pod.Node("cp-1", tmp_path_factory.mktemp("node"))
    pki.kubeadm_etcd_pki(n.path(PKI_DIR))
    return n


@pytest.fixture(scope="session")
def etcd_server(
    bins: dict[str, Path], node: pod.Node, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[etcd.Etcd]:
    work = tmp_path_factory.mktemp("etcd")
    server = etcd.start(
        bins["etcd"], bins["etcdctl"], work / "data", node.path(PKI_DIR), log=work / "etcd.log"
    )
    try:
        for key, value in SEED.items():
            assert server.ctl("put", key, value).returncode == 0
        yield server
    finally:
        etcd.stop(server)


@pytest.fixture(scope="session")
def store() -> Iterator[ObjectStore]:
    s = ObjectStore()
    try:
        yield s
    finally:
        s.stop()


@dataclass(frozen=True)
class World:
    """A reset object store with the prod bucket and the job's identity, IAM enforced."""

    store: ObjectStore
    bucket: str
    prefix: str
    keys: Keys


def make_world(
    store: ObjectStore,
    env: Mapping[str, str],
    *,
    bucket: bool = True,
    without: tuple[str, ...] = (),
) -> World:
    store.reset()
    if bucket:
        store.create_bucket(env["BUCKET"], env["AWS_REGION"])
    keys = store.snapshot_user(env["BUCKET"], env["PREFIX"], without=without)
    store.enforce()
    return World(store, env["BUCKET"], env["PREFIX"], keys)


JobRunner = Callable[..., tuple[pod.Pod, pod.PodRun]]


def _credential_secrets(cronjob: dict[str, Any], keys: Keys) -> dict[str, dict[str, str]]:
    """Every Secret volume of the job holds the snapshot user's keys as an AWS INI file."""
    ini = (
        "[default]\n"
        f"aws_access_key_id = {keys.access_key_id}\n"
        f"aws_secret_access_key = {keys.secret_access_key}\n"
    )
    volumes = pod.pod_spec(cronjob).get("volumes", [])
    names = [v["secret"]["secretName"] for v in volumes if "secret" in v]
    assert names, "the snapshot job mounts no credentials Secret"
    return {name: {"cloud": ini} for name in names}


@pytest.fixture(scope="session")
def run_snapshot_job(
    bins: dict[str, Path],
    node: pod.Node,
    etcd_server: etcd.Etcd,
    snapshot_cronjob: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> JobRunner:
    """Runs one Job of the CronJob: returns the pod (for its mounts) and what it did."""

    def run(
        world: World, *, on: pod.Node = node, etcd_endpoint: str | None = None, cap: float = 60
    ) -> tuple[pod.Pod, pod.PodRun]:
        p = pod.Pod(
            spec=pod.pod_spec(snapshot_cronjob),
            node=on,
            workdir=tmp_path_factory.mktemp("pod"),
            path=binaries.bin_dirs(bins),
            metadata={"labels": {"batch.kubernetes.io/job-name": "etcd-snapshot-29418480"}},
            rewrites={ETCD_RENDERED_ENDPOINT: etcd_endpoint or etcd_server.endpoint},
            # The job's static keys arrive as the rendered Secret's `cloud` file (the
            # AWS_SHARED_CREDENTIALS_FILE the CronJob sets); the endpoint is AWS in prod.
            secrets=_credential_secrets(snapshot_cronjob, world.keys),
            extra_env={
                "AWS_ENDPOINT_URL": world.store.url,
                "AWS_EC2_METADATA_DISABLED": "true",
            },
            cap=cap,
        )
        return p, p.run()

    return run
