"""The embedded store's bucket Job (dev): its own script against an S3 API on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.realjobs import binaries, pod
from tests.realjobs.fixtures import HANG_CAP, rendered
from tests.realjobs.objectstore import Keys, ObjectStore
from tools.offline import Evaluation

pytestmark = pytest.mark.realjobs  # real binaries: `make realjobs`


@pytest.fixture(scope="module")
def bucket_job(dev: Evaluation) -> dict[str, Any]:
    return rendered(dev, "kubernetes:batch/v1:Job", "object-store-buckets")


def _ini(keys: Keys) -> str:
    """The Secret's `cloud` key: the AWS INI profile Velero and aws-cli read."""
    return (
        "[default]\n"
        f"aws_access_key_id={keys.access_key_id}\n"
        f"aws_secret_access_key={keys.secret_access_key}\n"
    )


def _run(
    job: dict[str, Any], store: ObjectStore, keys: Keys, bins: dict[str, Path], work: Path
) -> pod.PodRun:
    spec = pod.pod_spec(job)
    (container,) = spec["containers"]
    endpoint = next(e["value"] for e in container["env"] if e["name"] == "ENDPOINT")
    return pod.Pod(
        spec=spec,
        node=pod.Node("kind-worker", work / "node"),
        workdir=work,
        path=binaries.bin_dirs(bins),
        secrets={"object-store-credentials": {"cloud": _ini(keys)}},
        rewrites={endpoint: store.url},  # the in-cluster Service -> loopback
        extra_env={"AWS_EC2_METADATA_DISABLED": "true"},
        cap=HANG_CAP,
    ).run()


def test_creates_the_buckets_then_finds_them(
    bucket_job: dict[str, Any], store: ObjectStore, bins: dict[str, Path], tmp_path: Path
) -> None:
    store.reset()
    keys = store.user("seaweedfs-admin", ["s3:*"], ["*"])
    store.enforce()
    first = _run(bucket_job, store, keys, bins, tmp_path / "1")
    assert first.ok, first.describe()
    assert {b["Name"] for b in store.client("s3").list_buckets()["Buckets"]} == {"velero"}
    again = _run(bucket_job, store, keys, bins, tmp_path / "2")
    assert again.ok and "bucket velero exists" in again.output, again.describe()
    assert keys.secret_access_key not in first.output + again.output


def test_fails_without_the_right_to_create(
    bucket_job: dict[str, Any], store: ObjectStore, bins: dict[str, Path], tmp_path: Path
) -> None:
    store.reset()
    keys = store.user("read-only", ["s3:ListBucket"], ["*"])
    store.enforce()
    run = _run(bucket_job, store, keys, bins, tmp_path)
    assert not run.hung and not run.ok, run.describe()
