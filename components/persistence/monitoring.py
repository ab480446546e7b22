"""What the observability stack needs to scrape Velero and alert on backups.

The rules are data files (data/rules/); thresholds follow each schedule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from components.persistence.formats import cron_longest_gap_hours
from components.persistence.settings import EtcdSnapshotSettings, ScheduleSettings
from kernel import data
from kernel import namespaces as ns
from kernel.contracts import ETCD_SNAPSHOT_CRONJOB

VELERO_RELEASE = "velero"
"""Helm release name of the velero chart; its Schedules are named <release>-<key>."""
GRACE_HOURS = 1
# The etcd snapshot Job's activeDeadlineSeconds (objects.py) + 5m.
ETCD_JOB_FAILED_AFTER = 3600 + 300


def _fill(rules: Sequence[Mapping[str, Any]], tokens: Mapping[str, str]) -> list[dict[str, Any]]:
    text = yaml.safe_dump(list(rules), sort_keys=False, width=1000)
    for token, value in tokens.items():
        text = text.replace(token, value)
    filled: list[dict[str, Any]] = yaml.safe_load(text)
    return filled


def _limit(schedule: str) -> tuple[int, int]:
    # The longest gap between runs, not the average: a weekday-only schedule must not
    # page over the weekend.
    hours = int(cron_longest_gap_hours(schedule) + GRACE_HOURS)
    return hours * 3600, hours


def schedule_name(key: str) -> str:
    """The Schedule object the velero chart renders for `schedules.<key>`."""
    return f"{VELERO_RELEASE}-{key}"


def velero_alert_rules(
    schedules: Sequence[ScheduleSettings], etcd: EtcdSnapshotSettings | None = None
) -> dict[str, Any]:
    """Velero alerts per schedule, plus the etcd snapshot CronJob's when it runs."""
    doc = yaml.safe_load(data.text(__file__, "rules/velero-backups.yaml"))
    rules: list[dict[str, Any]] = list(doc["rules"])
    for s in schedules:
        seconds, hours = _limit(s.schedule)
        rules += _fill(
            doc["per_schedule"],
            {
                "SCHEDULE": schedule_name(s.name),
                "LIMIT_SECONDS": str(seconds),
                "LIMIT_HOURS": str(hours),
                "NEVER_FOR": f"{hours}h",
            },
        )
    groups = [{"name": "velero", "rules": rules}]
    if etcd is not None:
        groups.append({"name": "etcd-snapshots", "rules": etcd_alert_rules(etcd)})
    return {"groups": groups}


def etcd_alert_rules(etcd: EtcdSnapshotSettings) -> list[dict[str, Any]]:
    seconds, hours = _limit(etcd.schedule)
    doc = yaml.safe_load(data.text(__file__, "rules/etcd-snapshots.yaml"))
    return _fill(
        doc["rules"],
        {
            "NAMESPACE": ns.ETCD_BACKUP,
            "CRONJOB": ETCD_SNAPSHOT_CRONJOB,
            "LIMIT_SECONDS": str(seconds),
            "LIMIT_HOURS": str(hours),
            "SCHEDULE": etcd.schedule,
            "FAILED_AFTER": str(ETCD_JOB_FAILED_AFTER),
        },
    )
