"""etcd snapshots (capi mode): a CronJob on control-plane nodes uploading to the object store."""

from __future__ import annotations

import kubernetes_validate
import pytest

from components.persistence.objects import etcd_snapshot_cronjob
from components.persistence.settings import EtcdSnapshotSettings
from kernel.namespaces import BY_NAME, ETCD_BACKUP, PRIVILEGED
from tools.offline import Evaluation, manifest

CRONJOB = "kubernetes:batch/v1:CronJob"


@pytest.fixture(scope="module")
def capi_dev(prod: Evaluation) -> Evaluation:
    """prod runs in capi mode: etcd sits on control-plane nodes the platform manages."""
    return prod


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
    health, snapshot = pod["initContainers"]
    assert health["command"] == ["etcdctl", "endpoint", "health"]
    assert snapshot["command"][:3] == ["etcdctl", "snapshot", "save"]
    for container in (health, snapshot):
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["ETCDCTL_COMMAND_TIMEOUT"], "every etcd call is bounded"
        pki = [m for m in container["volumeMounts"] if m["mountPath"].startswith("/etc/")]
        assert all(m["readOnly"] for m in pki) and len(pki) == 3


def test_prod_snapshots_go_to_the_backup_bucket_with_retention(capi_dev: Evaluation) -> None:
    cron = capi_dev.one(CRONJOB, "etcd-snapshot")
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (upload,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in upload["env"]}
    assert env["BUCKET"] == capi_dev.raw_config["persistence"]["backups"]["objectStore"]["bucket"]
    assert env["PREFIX"] == "etcd-snapshots/prod"  # beside Velero's prefix, not under it
    assert env["KEEP"] == "28"


def test_embedded_store_snapshots_use_its_endpoint_and_credentials_file() -> None:
    cron = etcd_snapshot_cronjob(
        EtcdSnapshotSettings(cluster_name="dev"),
        bucket="velero",
        prefix="etcd-snapshots/dev",
        region="us-east-1",
        endpoint="http://seaweedfs.velero.svc.cluster.local:8333",
        credentials_secret="etcd-backup-credentials",
    )
    (upload,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in upload["env"]}
    assert env["ENDPOINT"] == "http://seaweedfs.velero.svc.cluster.local:8333"
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/credentials/cloud"


def test_prod_snapshots_are_encrypted_in_s3_and_use_the_instance_profile() -> None:
    cron = etcd_snapshot_cronjob(
        EtcdSnapshotSettings(cluster_name="prod"),
        bucket="b",
        prefix="etcd-snapshots/prod",
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
