"""etcd snapshots (capi mode): a CronJob on control-plane nodes uploading to the object store."""

from __future__ import annotations

import kubernetes_validate
import pytest

from components.control_plane import HAControlPlane
from components.namespaces import BY_NAME, ETCD_BACKUP, PRIVILEGED
from components.persistence import EtcdSnapshotSettings, etcd_snapshot_cronjob
from tools.offline import Evaluation, evaluate, manifest

CRONJOB = "kubernetes:batch/v1:CronJob"


@pytest.fixture(scope="module")
def capi_dev() -> Evaluation:
    """dev with a cluster that reports etcd on nodes we run (as capi mode will)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(HAControlPlane, "etcd_snapshots", True, raising=False)
        return evaluate("dev")


def test_the_etcd_backup_namespace_is_privileged_with_a_reason() -> None:
    namespace = BY_NAME[ETCD_BACKUP]
    assert namespace.pod_security == PRIVILEGED
    assert "hostNetwork" in namespace.reason and "hostPath" in namespace.reason


def test_snapshots_run_on_control_plane_nodes_with_etcdctl(capi_dev: Evaluation) -> None:
    cron = capi_dev.one(CRONJOB, "etcd-snapshot")
    assert cron.namespace == ETCD_BACKUP
    spec = cron.inputs["spec"]
    assert spec["schedule"] == "0 */6 * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert pod["tolerations"][0]["key"] == "node-role.kubernetes.io/control-plane"
    (snapshot,) = pod["initContainers"]
    assert snapshot["command"][:3] == ["etcdctl", "snapshot", "save"]
    mounts = {m["mountPath"]: m for m in snapshot["volumeMounts"]}
    assert mounts["/etc/kubernetes/pki/etcd"]["readOnly"] is True


def test_snapshots_go_to_the_object_store_with_retention(capi_dev: Evaluation) -> None:
    cron = capi_dev.one(CRONJOB, "etcd-snapshot")
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (upload,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in upload["env"]}
    assert env["BUCKET"] == "velero"
    assert env["PREFIX"] == "dev/etcd/dev"
    assert env["KEEP"] == "28"
    assert env["ENDPOINT"] == "http://seaweedfs.velero.svc.cluster.local:8333"
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/credentials/cloud"
    secret = capi_dev.one("kubernetes:core/v1:Secret", "etcd-backup-credentials")
    assert secret.namespace == ETCD_BACKUP and "stringData" in secret.secret_paths
    assert 'head -n "-$KEEP"' in upload["command"][2]


def test_prod_snapshots_are_encrypted_in_s3_and_use_the_instance_profile() -> None:
    cron = etcd_snapshot_cronjob(
        EtcdSnapshotSettings(cluster_name="prod"),
        bucket="b",
        prefix="prod/etcd/prod",
        region="eu-west-1",
        endpoint=None,
        credentials_secret=None,
    )
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (upload,) = pod["containers"]
    assert "--sse AES256" in upload["command"][2]
    assert "ENDPOINT" not in {e["name"] for e in upload["env"]}
    assert "credentials" not in {v["name"] for v in pod["volumes"]}


def test_the_cronjob_is_a_valid_kubernetes_object(capi_dev: Evaluation) -> None:
    kubernetes_validate.validate(manifest(capi_dev.one(CRONJOB)), "1.35", strict=True)
