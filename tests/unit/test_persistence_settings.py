"""persistence.* settings: profile defaults, schedule rules, prod safety floors, secrets."""

from __future__ import annotations

import pytest

from components.persistence.formats import cron_longest_gap_hours, go_duration_hours
from settings import load
from tests.helpers import problems
from tools.offline import DELETE, apply_overrides, stack_config

# The fixture kubeconfig (tests/conftest.py): settings read it at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")

OS = "persistence.backups.objectStore"
INI = "[default]\naws_access_key_id=AKIAEXAMPLE\naws_secret_access_key=very-secret-value\n"


def test_dev_defaults_need_no_cloud() -> None:
    p = load(stack_config("dev"), "dev").persistence
    assert p.storage.existing_class == "standard"
    assert p.snapshots.enabled is False
    assert p.backups.object_store.mode == "embedded"
    assert p.backups.object_store.preflight is False
    assert p.protect_stateful is False


def test_prod_defaults_protect_data_and_check_the_bucket() -> None:
    p = load(stack_config("prod"), "prod").persistence
    assert p.storage.existing_class is None
    assert p.snapshots.enabled and p.snapshots.controller_replicas == 2
    assert p.backups.object_store.mode == "external"
    assert p.backups.object_store.preflight is True
    assert p.protect_stateful is True


def test_the_old_existing_storage_class_key_is_gone() -> None:
    found = problems("dev", {"persistence.existingStorageClass": "standard"})
    assert "persistence.existingStorageClass" in found


def test_a_ttl_shorter_than_the_schedule_interval_is_rejected() -> None:
    schedules = [{"name": "daily", "schedule": "0 2 * * *", "ttl": "12h"}]
    found = problems("dev", {"persistence.backups.schedules": schedules})
    assert "longest gap between runs (24h" in found["persistence.backups.schedules[0].ttl"]


def test_a_ttl_shorter_than_an_uneven_schedules_longest_gap_is_rejected() -> None:
    """`0 1,2 * * *` runs twice an hour apart, then not for 23 h: a 13 h TTL leaves about
    10 h a day with no backup, though it exceeds the average interval (12 h)."""
    schedules = [{"name": "twice", "schedule": "0 1,2 * * *", "ttl": "13h"}]
    found = problems("dev", {"persistence.backups.schedules": schedules})
    assert "(23h for '0 1,2 * * *')" in found["persistence.backups.schedules[0].ttl"]


def test_a_cron_expression_that_never_runs_is_rejected() -> None:
    schedules = [{"name": "never", "schedule": "0 2 30 2 *", "ttl": "720h"}]
    found = problems("dev", {"persistence.backups.schedules": schedules})
    assert "never runs" in found["persistence.backups.schedules[0].schedule"]


def test_bad_cron_ttl_and_duplicate_names_are_all_reported() -> None:
    schedules = [
        {"name": "a", "schedule": "every day", "ttl": "30d"},
        {"name": "b", "schedule": "@daily", "ttl": "720h"},
        {"name": "b", "schedule": "@weekly", "ttl": "2000h"},
    ]
    found = problems("dev", {"persistence.backups.schedules": schedules})
    assert "cron" in found["persistence.backups.schedules[0].schedule"]
    assert "no 'd' unit" in found["persistence.backups.schedules[0].ttl"]
    assert "unique" in found["persistence.backups.schedules[2].name"]


def test_prod_needs_a_bucket() -> None:
    found = problems("prod", {f"{OS}.bucket": DELETE})
    assert "required" in found[f"{OS}.bucket"]


def test_prod_may_not_keep_backups_inside_the_cluster_without_accepting_it() -> None:
    embedded = {
        f"{OS}.mode": "embedded",
        f"{OS}.credentialsSecret": DELETE,
        "secrets.velero-s3": DELETE,
    }
    found = problems("prod", embedded)
    assert "acceptRisks" in found[f"{OS}.mode"]
    ok = load(
        apply_overrides(stack_config("prod"), {**embedded, "acceptRisks": [f"{OS}.mode"]}),
        "prod",
    )
    assert ok.persistence.backups.object_store.mode == "embedded"


def test_prod_floors_on_controller_replicas() -> None:
    found = problems(
        "prod",
        {
            "persistence.snapshots.controllerReplicas": 1,
            "persistence.storage.ebsControllerReplicas": 1,
            "persistence.protectStatefulResources": False,
        },
    )
    assert {
        "persistence.snapshots.controllerReplicas",
        "persistence.storage.ebsControllerReplicas",
        "persistence.protectStatefulResources",
    } <= set(found)


def test_credentials_must_be_an_ini_profile_and_are_never_echoed() -> None:
    found = problems(
        "prod",
        {
            "secrets": {"velero-s3": "not-an-ini-very-secret"},
            f"{OS}.credentialsSecret": "velero-s3",
        },
    )
    message = found[f"{OS}.credentialsSecret"]
    assert "AWS INI profile" in message
    assert "very-secret" not in " ".join(found.values())


def test_credentials_secret_loads_as_a_secret() -> None:
    s = load(
        apply_overrides(
            stack_config("prod"),
            {"secrets.velero-s3": INI, f"{OS}.credentialsSecret": "velero-s3"},
        ),
        "prod",
    )
    creds = s.persistence.backups.object_store.credentials
    assert creds is not None and "very-secret" not in repr(creds)


def test_prod_velero_needs_keys_or_a_role_unless_the_instance_profile_is_accepted() -> None:
    """No keys and no role: the instance profile through IMDS (the old prod default)."""
    no_keys = {f"{OS}.credentialsSecret": DELETE, "secrets.velero-s3": DELETE}
    assert "acceptRisks" in problems("prod", no_keys)[f"{OS}.credentialsSecret"]
    accepted = {**no_keys, "acceptRisks": [f"{OS}.credentialsSecret"]}
    assert load(apply_overrides(stack_config("prod"), accepted), "prod")


def test_external_only_keys_are_rejected_in_embedded_mode() -> None:
    found = problems("dev", {f"{OS}.endpoint": "https://s3.example.com"})
    assert "only for mode: external" in found[f"{OS}.endpoint"]


@pytest.mark.parametrize(
    ("expr", "hours"),
    [
        ("0 * * * *", 1),
        ("*/15 * * * *", 0.25),
        ("0 */6 * * *", 6),
        ("0 2 * * *", 24),
        ("0 2,14 * * *", 12),
        ("0 2 * * 0", 168),
        ("0 2 1 * *", 744),
        ("@daily", 24),
        ("0 2 * * 1-5", 72),  # Friday 02:00 to Monday 02:00
        ("0 2 * * MON,TUE,WED,THU,FRI", 72),
        ("0 1,2 * * *", 23),
        ("0 2 1,15 * *", 17 * 24),  # the 15th to the 1st of a 31-day month
        ("0 2 1 * 1", 7 * 24),  # day of month OR day of week: at least every Monday
        ("0 2 29 2 *", (4 * 365 + 1) * 24),  # leap days only
    ],
)
def test_cron_longest_gaps(expr: str, hours: float) -> None:
    assert cron_longest_gap_hours(expr) == hours


def test_go_durations() -> None:
    assert go_duration_hours("720h") == 720
    assert go_duration_hours("1h30m") == 1.5
    assert go_duration_hours("30d") is None
    assert go_duration_hours("") is None


def test_veleros_prefix_may_not_hold_the_etcd_snapshots_folder() -> None:
    # etcd snapshots go to etcd-snapshots/<cluster>/; a Velero prefix there would hold
    # them, and Velero's IsValid rejects a prefix with foreign folders.
    found = problems("prod", {f"{OS}.prefix": "etcd-snapshots/velero"})
    assert "outside etcd-snapshots/" in found[f"{OS}.prefix"]


def test_prod_loki_needs_keys_or_a_role_unless_the_instance_profile_is_accepted() -> None:
    """Like Velero: no keys and no role would be the node's instance profile through IMDS."""
    lo = "observability.loki.objectStore"
    no_keys = {
        f"{lo}.accessKeyIdSecret": DELETE,
        f"{lo}.secretAccessKeySecret": DELETE,
        "secrets.loki-s3-key-id": DELETE,
        "secrets.loki-s3-secret-key": DELETE,
    }
    assert "acceptRisks" in problems("prod", no_keys)[f"{lo}.accessKeyIdSecret"]
    accepted = {**no_keys, "acceptRisks": [f"{lo}.accessKeyIdSecret"]}
    assert load(apply_overrides(stack_config("prod"), accepted), "prod")
