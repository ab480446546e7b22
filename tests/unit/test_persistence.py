"""PersistenceLayer per stack: storage classes, snapshots, Velero and its object store."""

from __future__ import annotations

import json

import pytest

from kernel.catalogue import CHARTS
from tests.helpers import chart_values
from tools.chart_sources import chart_dir
from tools.fullrender import FullRender, builtin_api_versions
from tools.helm_render import render_chart
from tools.offline import Evaluation, Resource, evaluate, manifest

PERSISTENCE = "k8splatform:persistence:PersistenceLayer"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
VSC = "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass"
SECRET = "kubernetes:core/v1:Secret"
INI = "[default]\naws_access_key_id=AKIAEXAMPLEKEY000001\naws_secret_access_key=s3cr3t/Value+XYZ\n"


def owned(ev: Evaluation) -> list[Resource]:
    """Every resource under the PersistenceLayer component."""
    return [r for r in ev.resources if (c := ev.component_of(r)) and c.type == PERSISTENCE]


@pytest.fixture(scope="module")
def prod_with_keys() -> Evaluation:
    """prod with static credentials instead of the node instance profile."""
    return evaluate(
        "prod",
        {
            "secrets": {"velero-s3": INI},
            "persistence.backups.objectStore.credentialsSecret": "velero-s3",
            "persistence.backups.objectStore.lokiBucket": "acme-prod-loki",
        },
    )


# ---- prod ---------------------------------------------------------------------------------


def test_prod_default_class_is_encrypted_gp3_that_keeps_its_volumes(prod: Evaluation) -> None:
    default = prod.one(STORAGE_CLASS, "gp3-encrypted-storageclass")
    i = default.inputs
    assert i["reclaimPolicy"] == "Retain"
    assert i["volumeBindingMode"] == "WaitForFirstConsumer"
    assert i["allowVolumeExpansion"] is True
    assert i["parameters"]["type"] == "gp3" and i["parameters"]["encrypted"] == "true"
    assert default.metadata["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert default.protect and default.retain_on_delete
    assert prod.outputs["defaultStorageClass"] == "gp3-encrypted"


def test_prod_scratch_class_deletes_and_is_not_default(prod: Evaluation) -> None:
    scratch = prod.one(STORAGE_CLASS, "gp3-scratch-storageclass")
    assert scratch.inputs["reclaimPolicy"] == "Delete"
    assert scratch.metadata["annotations"]["storageclass.kubernetes.io/is-default-class"] == "false"
    assert prod.outputs["scratchStorageClass"] == "gp3-scratch"


def test_prod_installs_an_ha_ebs_csi_driver_without_chart_made_classes(prod: Evaluation) -> None:
    chart = prod.chart("aws-ebs-csi-driver")
    assert chart.inputs["version"] == "2.64.0"
    v = chart.inputs["values"]
    assert v["controller"]["replicaCount"] >= 2
    assert v["controller"]["podDisruptionBudget"]["enabled"] is True
    assert v["storageClasses"] == [] and v["defaultStorageClass"]["enabled"] is False


def test_a_kms_key_reaches_the_storage_classes() -> None:
    arn = "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234"
    ev = evaluate("prod", {"persistence.storage.kmsKeyId": arn})
    for r in ev.of_type(STORAGE_CLASS):
        assert r.inputs["parameters"]["kmsKeyId"] == arn


def test_prod_snapshot_class_is_the_one_velero_uses(prod: Evaluation) -> None:
    vsc = prod.one(VSC)
    assert vsc.inputs["driver"] == "ebs.csi.aws.com"
    assert vsc.inputs["deletionPolicy"] in ("Delete", "Retain")
    assert vsc.metadata["labels"]["velero.io/csi-volumesnapshot-class"] == "true"
    assert prod.outputs["snapshotClass"] == "ebs-vsc"
    controller = prod.chart("snapshot-controller")
    assert controller.inputs["namespace"] == "storage"
    assert controller.inputs["values"]["controller"]["replicaCount"] == 2
    # The class needs the CRDs the controller chart brings.
    assert controller.urn in vsc.dependencies


def test_prod_velero_uses_csi_snapshots_and_the_aws_plugin(prod: Evaluation) -> None:
    chart = prod.chart("velero")
    assert chart.inputs["version"] == "12.1.0"
    assert chart.inputs["namespace"] == "velero"
    v = chart.inputs["values"]
    assert v["configuration"]["features"] == "EnableCSI"
    assert [c["image"] for c in v["initContainers"]] == ["velero/velero-plugin-for-aws:v1.14.3"]
    # Chart v4 drops Helm hooks: the CRD-upgrade Job must be off.
    assert v["upgradeCRDs"] is False
    assert "labels" not in v.get("namespace", {})


def test_prod_backup_location_points_at_the_configured_bucket(prod: Evaluation) -> None:
    (bsl,) = chart_values(prod, "velero")["configuration"]["backupStorageLocation"]
    assert bsl["bucket"] == "acme-prod-velero-backups"
    assert bsl["provider"] == "aws" and bsl["default"] is True
    assert bsl["config"]["region"] == "eu-west-1"
    assert bsl["prefix"] == "prod"
    assert prod.outputs["backupLocation"]["bucket"] == "acme-prod-velero-backups"


def test_prod_never_creates_or_owns_the_bucket(prod: Evaluation) -> None:
    """`pulumi destroy` cannot delete backups: no bucket resource exists in the program."""
    assert not [r for r in prod.resources if r.type.startswith("aws:")]


def test_prod_schedules_have_ttls_longer_than_their_interval(prod: Evaluation) -> None:
    schedules = chart_values(prod, "velero")["schedules"]
    assert set(schedules) == {"hourly-tenants", "daily"}
    hourly, daily = schedules["hourly-tenants"], schedules["daily"]
    assert hourly["schedule"] == "0 * * * *" and hourly["template"]["ttl"] == "72h"
    assert hourly["template"]["includedNamespaces"] == ["payments", "storefront"]
    assert daily["template"]["ttl"] == "720h" and daily["template"]["includedNamespaces"] == ["*"]
    for s in schedules.values():
        assert s["useOwnerReferencesInBackup"] is False
        assert s["template"]["snapshotVolumes"] is True
    assert [s["name"] for s in prod.outputs["backupSchedules"]] == ["hourly-tenants", "daily"]


def test_prod_reaches_its_bucket_with_static_keys_not_the_instance_profile(
    prod: Evaluation,
) -> None:
    v = chart_values(prod, "velero")
    assert v["credentials"] == {"useSecret": True, "existingSecret": "velero-cloud-credentials"}


def test_prod_credentials_reach_velero_only_as_a_secret(prod_with_keys: Evaluation) -> None:
    v = chart_values(prod_with_keys, "velero")
    assert v["credentials"] == {"useSecret": True, "existingSecret": "velero-cloud-credentials"}
    secret = prod_with_keys.one(SECRET, "velero-cloud-credentials")
    assert secret.namespace == "velero"
    # pulumi-kubernetes marks the whole stringData secret.
    assert "stringData" in secret.secret_paths
    everything = json.dumps([c.inputs for c in prod_with_keys.charts()])
    for needle in ("AKIAEXAMPLEKEY000001", "s3cr3t/Value+XYZ"):
        assert needle not in everything
        assert needle not in json.dumps(prod_with_keys.outputs)


@pytest.mark.usefixtures("fixture_kubeconfig")
def test_prod_backup_alerts_are_handed_to_observability(prod: Evaluation) -> None:
    from components.persistence.monitoring import velero_alert_rules
    from settings import load
    from tools.offline import stack_config

    s = load(stack_config("prod"), "prod").persistence.backups
    rules = velero_alert_rules(s.schedules)["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"VeleroBackupFailed", "VeleroBackupTooOld"} <= names
    too_old = {r["expr"] for r in rules if r["alert"] == "VeleroBackupTooOld"}
    # The velero chart names Schedules `{{ include "velero.fullname" $ }}-<key>`
    # (templates/schedule.yaml); fullname is the release name when it holds "velero".
    release = prod.chart("velero").name
    keys = set(chart_values(prod, "velero")["schedules"])
    assert keys == {"daily", "hourly-tenants"} and "velero" in release
    assert any(f'schedule="{release}-hourly-tenants"' in e and "> 7200" in e for e in too_old)
    never = {r["labels"]["schedule"] for r in rules if r["alert"] == "VeleroBackupNeverSucceeded"}
    assert never == {f"{release}-{k}" for k in keys}
    # ServiceMonitor stays off: its CRD arrives with the observability stack.
    assert chart_values(prod, "velero")["metrics"]["serviceMonitor"]["enabled"] is False


# ---- dev ----------------------------------------------------------------------------------


def test_dev_uses_kinds_standard_class_and_installs_no_storage(dev: Evaluation) -> None:
    assert dev.outputs["defaultStorageClass"] == "standard"
    assert not dev.of_type(STORAGE_CLASS)
    names = {c.name for c in dev.charts()}
    assert not names & {"aws-ebs-csi-driver", "snapshot-controller"}
    assert dev.outputs["snapshotClass"] is None


def test_dev_runs_an_embedded_object_store_and_velero_needs_no_cloud(dev: Evaluation) -> None:
    deployment = dev.one("kubernetes:apps/v1:Deployment", "seaweedfs")
    assert deployment.namespace == "velero"
    assert deployment.inputs["spec"]["replicas"] == 1
    v = chart_values(dev, "velero")
    (bsl,) = v["configuration"]["backupStorageLocation"]
    assert bsl["config"]["s3Url"] == "http://seaweedfs.velero.svc.cluster.local:8333"
    assert bsl["config"]["s3ForcePathStyle"] == "true"
    assert bsl["bucket"] == "velero"
    assert v["credentials"] == {"useSecret": True, "existingSecret": "object-store-credentials"}
    assert "features" not in v["configuration"]  # no CSI snapshots on local-path
    assert "serviceAccount" not in v


def test_dev_object_store_credentials_are_generated_secrets(dev: Evaluation) -> None:
    secret = dev.one(SECRET, "object-store-credentials")
    assert "stringData" in secret.secret_paths
    keys = set(secret.inputs["stringData"]["value"])
    assert keys == {"cloud", "s3.json", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    randoms = [r for r in owned(dev) if r.type.startswith("random:")]
    assert len(randoms) == 2


def test_dev_buckets_are_created_by_a_job_not_a_helm_hook(dev: Evaluation) -> None:
    job = dev.one("kubernetes:batch/v1:Job", "object-store-buckets")
    env = {
        e["name"]: e.get("value")
        for e in job.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["BUCKETS"] == "velero"  # dev Loki keeps its chunks on its own volume
    velero = dev.chart("velero")
    assert job.urn in velero.dependencies


def test_objects_rendered_here_run_restricted(stack: Evaluation) -> None:
    for r in owned(stack):
        spec = r.inputs.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec")
        if not pod:
            continue
        assert pod["securityContext"]["runAsNonRoot"] is True, r.name
        assert pod["automountServiceAccountToken"] is False, r.name
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["resources"]["limits"] and c["resources"]["requests"]


def test_objects_rendered_here_validate_against_kubernetes(stack: Evaluation) -> None:
    import kubernetes_validate

    for r in owned(stack):
        if not r.custom or r.type.startswith(("kubernetes:helm", "random:")) or r.type == VSC:
            continue
        if r.type.startswith("kubernetes:cilium.io/"):
            continue  # a custom resource: judged against its CRD by the API server tier
        kubernetes_validate.validate(manifest(r), "1.35", strict=True)


def test_no_etcd_snapshots_on_clusters_we_do_not_run(dev: Evaluation) -> None:
    assert not dev.of_type("kubernetes:batch/v1:CronJob")


@pytest.mark.parametrize("weekdays", ["1-5", "1,2,3,4,5", "MON-FRI"])
def test_a_weekday_only_backup_does_not_page_over_the_weekend(weekdays: str) -> None:
    """Friday 02:00 to Monday 02:00 is 72 h without a run: the staleness alert waits that
    long plus the grace hour, not the average interval (~34 h)."""
    from components.persistence.monitoring import velero_alert_rules
    from components.persistence.settings import ScheduleSettings

    schedule = ScheduleSettings("weekdays", f"0 2 * * {weekdays}", "720h")
    rules = velero_alert_rules([schedule])["groups"][0]["rules"]
    (too_old,) = [r for r in rules if r["alert"] == "VeleroBackupTooOld"]
    assert too_old["expr"].endswith(f"> {73 * 3600}")
    (never,) = [r for r in rules if r["alert"] == "VeleroBackupNeverSucceeded"]
    assert never["for"] == "73h"


def test_the_ebs_controller_runs_the_snapshotter_before_the_snapshot_crds_exist(
    prod: Evaluation, full_prod: FullRender
) -> None:
    """The first `pulumi up` renders the EBS chart before snapshot-controller's CRDs exist;
    the chart must not wait for them, or the second `pulumi up` rewrites the controller."""
    values = prod.chart("aws-ebs-csi-driver").inputs["values"]
    first = render_chart(
        chart_dir(CHARTS["aws-ebs-csi-driver"]),
        "aws-ebs-csi-driver",
        "kube-system",
        values,
        kube_version=full_prod.kube_version,
        api_versions=builtin_api_versions(full_prod.kube_version),
        include_crds=True,
    )
    (controller,) = [o for o in first.objects if o["kind"] == "Deployment"]
    names = [c["name"] for c in controller["spec"]["template"]["spec"]["containers"]]
    assert "csi-snapshotter" in names
