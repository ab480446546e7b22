"""The etcd-snapshot CronJob's own command, env and mounts against a real etcd and S3 API."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.realjobs import etcd, pod
from tests.realjobs.fixtures import CLUSTER, PKI_DIR, SEED, JobRunner, World, make_world
from tests.realjobs.objectstore import ObjectStore

pytestmark = pytest.mark.realjobs  # real binaries: `make realjobs`

STAMPED = re.compile(r"(?P<stamp>\d{8}T\d{6}Z)-(?P<node>[\w.-]+)\.db")
# velero pkg/persistence/object_store.go IsValid + object_store_layout.go: the only
# folders allowed directly under a backup location's prefix.
VELERO_SUBDIRS = {"backups", "restores", "restic", "kopia", "metadata", "plugins"}
# What the snapshot container needs from the node's etcd PKI (its env names them).
NEEDED_PKI = {
    f"{PKI_DIR}/{f}" for f in ("ca.crt", "healthcheck-client.crt", "healthcheck-client.key")
}


def outside_velero_layout(keys: list[str], velero_prefix: str) -> list[str]:
    """Keys Velero's IsValid would reject: under its prefix but not in one of its folders."""
    root = f"{velero_prefix.strip('/')}/" if velero_prefix.strip("/") else ""
    return [
        k
        for k in keys
        if k.startswith(root) and (k[len(root) :].split("/")[0] not in VELERO_SUBDIRS)
    ]


@dataclass(frozen=True)
class HappyRun:
    """One successful run, and what the store held right after it (other tests of this
    worker reset the store later)."""

    world: World
    job_pod: pod.Pod
    run: pod.PodRun
    before: datetime
    key: str
    all_keys: list[str]
    encryption: str | None
    snapshot: Path


@pytest.fixture(scope="module")
def happy(
    store: ObjectStore,
    upload_env: dict[str, str],
    run_snapshot_job: JobRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> HappyRun:
    world = make_world(store, upload_env)
    before = datetime.now(UTC).replace(microsecond=0)
    p, run = run_snapshot_job(world)
    assert run.ok, run.describe()
    all_keys = store.keys(world.bucket)
    (key,) = all_keys
    s3 = store.client("s3")
    head = s3.head_object(Bucket=world.bucket, Key=key)
    local = tmp_path_factory.mktemp("download") / "snapshot.db"
    s3.download_file(world.bucket, key, str(local))
    return HappyRun(world, p, run, before, key, all_keys, head.get("ServerSideEncryption"), local)


def test_the_snapshot_is_a_valid_etcd_snapshot(happy: HappyRun, bins: dict[str, Path]) -> None:
    out = subprocess.run(
        [str(bins["etcdutl"]), "snapshot", "status", str(happy.snapshot), "-w", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    status = json.loads(out.stdout)
    assert status["totalKey"] >= len(SEED)
    assert status["hash"] != 0


def test_it_lands_at_the_documented_key_encrypted(happy: HappyRun) -> None:
    # docs/persistence.md: etcd-snapshots/<cluster>/<UTC time>-<node>.db, --sse AES256 on AWS.
    folder, _, name = happy.key.rpartition("/")
    assert folder == f"etcd-snapshots/{CLUSTER}", happy.key
    match = STAMPED.fullmatch(name)
    assert match and match["node"] == "cp-1", name
    stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert happy.before <= stamp <= datetime.now(UTC)
    assert happy.encryption == "AES256"


def test_every_key_the_platform_writes_keeps_veleros_layout(
    happy: HappyRun, velero_location: dict[str, Any]
) -> None:
    assert velero_location["bucket"] == happy.world.bucket
    prefix = velero_location.get("prefix", "")
    assert happy.all_keys, "nothing written: the check walks nothing"
    assert outside_velero_layout(happy.all_keys, prefix) == []
    # The check itself: the old layout (<prefix>/etcd/<cluster>/) is what it rejects.
    old = f"{prefix}/etcd/{CLUSTER}/20260101T000000Z-cp-1.db"
    assert outside_velero_layout([old], prefix) == [old]


def test_no_credential_in_the_output(happy: HappyRun) -> None:
    assert happy.run.output.strip(), "the job printed nothing: the check sees nothing"
    for secret in (happy.world.keys.secret_access_key, happy.world.keys.access_key_id):
        assert secret not in happy.run.output


def test_a_restore_brings_the_keys_back(
    happy: HappyRun, bins: dict[str, Path], node: pod.Node, tmp_path: Path
) -> None:
    client, peer = etcd.free_port(), etcd.free_port()
    data = tmp_path / "restored"
    subprocess.run(
        [
            str(bins["etcdutl"]),
            "snapshot",
            "restore",
            str(happy.snapshot),
            f"--data-dir={data}",
            "--name=restored",
            f"--initial-cluster=restored=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    server = etcd.start(
        bins["etcd"],
        bins["etcdctl"],
        data,
        node.path(PKI_DIR),
        name="restored",
        client_port=client,
        peer_port=peer,
        log=tmp_path / "etcd.log",
    )
    try:
        got = server.ctl("get", "/registry/", "--prefix", "-w", "json")
        kvs = json.loads(got.stdout)["kvs"]
        restored = {
            base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
            for kv in kvs
        }
        assert restored == SEED
    finally:
        etcd.stop(server)


def test_the_etcd_containers_see_only_the_files_they_need(happy: HappyRun) -> None:
    init = happy.job_pod.spec["initContainers"]
    assert [c["name"] for c in init] == ["etcd-health", "snapshot"]
    for container in init:
        visible = {p for p in happy.job_pod.visible_files(container) if p.startswith("/etc/")}
        assert visible == NEEDED_PKI, container["name"]
