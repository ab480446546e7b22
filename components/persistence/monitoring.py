"""What the observability stack needs to scrape Velero and alert on its schedules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.persistence.formats import cron_interval_hours
from components.persistence.settings import ScheduleSettings

VELERO_METRICS = (
    "velero_backup_last_status",
    "velero_backup_last_successful_timestamp",
    "velero_backup_failure_total",
    "velero_backup_partial_failure_total",
)


def velero_alert_rules(schedules: Sequence[ScheduleSettings]) -> dict[str, Any]:
    """Alert when a scheduled backup fails or has not succeeded within ~1 interval.

    Each schedule gets its own staleness threshold: interval + 1h grace.
    """
    rules: list[dict[str, Any]] = [
        {
            "alert": "VeleroBackupFailed",
            "expr": 'velero_backup_last_status{schedule!=""} != 1',
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "Velero backup {{ $labels.schedule }} failed"},
        },
        {
            "alert": "VeleroBackupPartiallyFailed",
            "expr": 'increase(velero_backup_partial_failure_total{schedule!=""}[1h]) > 0',
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Velero backup {{ $labels.schedule }} partially failed in the last hour"
            },
        },
    ]
    for s in schedules:
        limit = int((cron_interval_hours(s.schedule) + 1) * 3600)
        rules.append(
            {
                "alert": "VeleroBackupTooOld",
                "expr": (
                    f'time() - velero_backup_last_successful_timestamp{{schedule="{s.name}"}} '
                    f"> {limit}"
                ),
                "for": "15m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": f"No successful Velero backup for schedule {s.name} "
                    f"in {limit // 3600}h"
                },
            }
        )
    return {"groups": [{"name": "velero", "rules": rules}]}
