"""Where alerts go (Alertmanager's config) and the platform's own alert rules
(data/rules/*.yaml)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from components.observability.names import RECEIVERS_MOUNT
from components.observability.settings import AlertingSettings, Receiver
from kernel import data
from kernel.contracts import ETCD_SNAPSHOT_CRONJOB

DEAD_MANS_SWITCH_PERIOD_S = 60
"""How often the Watchdog reaches the dead man's switch (docs/observability.md)."""


def watchdog_intervals(period_s: int = DEAD_MANS_SWITCH_PERIOD_S) -> tuple[int, int]:
    """(group_interval, repeat_interval) in seconds that resend every `period_s`.

    Alertmanager flushes a group every group_interval and resends unchanged alerts only
    when the last notification is strictly older than repeat_interval (notify.go
    DedupStage.needsUpdate: `entry.Timestamp.Before(now - repeat)`); the entry's time is
    logged after the send, so with group_interval == repeat_interval every second flush
    sends (2 x the interval: alertmanager#676, and 120 s measured with 1m/1m). With
    repeat = 2/3 of the period and group_interval = 1/3 the third flush sends, if the
    webhook answers within group_interval.
    """
    group = period_s // 3
    return group, period_s - group


def alertmanager_config(alerting: AlertingSettings) -> dict[str, Any]:
    """Routes by severity, one receiver per setting; credentials only as `*_file` paths
    into the mounted Secret (Alertmanager v0.34 docs/configuration.md)."""
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    routes: list[dict[str, Any]] = []
    if alerting.dead_mans_switch is not None:
        group, repeat = watchdog_intervals()
        receivers.append(
            {
                "name": "deadmansswitch",
                "webhook_configs": [
                    {"url_file": f"{RECEIVERS_MOUNT}/deadmansswitch", "send_resolved": False}
                ],
            }
        )
        routes.append(
            {
                "receiver": "deadmansswitch",
                "matchers": ['alertname = "Watchdog"'],
                "group_wait": "0s",
                "group_interval": f"{group}s",
                "repeat_interval": f"{repeat}s",
            }
        )
    else:
        routes.append({"receiver": "null", "matchers": ['alertname = "Watchdog"']})
    routes.append({"receiver": "null", "matchers": ['alertname = "InfoInhibitor"']})
    for r in alerting.receivers:
        receivers.append(_receiver(r))
        routes.append(
            {
                "receiver": r.name,
                "matchers": [f'severity =~ "{"|".join(r.severities)}"'],
                "continue": True,
            }
        )
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "receiver": "null",
            "routes": routes,
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity =~ "warning|info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['severity = "warning"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['alertname = "InfoInhibitor"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": receivers,
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def _receiver(r: Receiver) -> dict[str, Any]:
    """One receiver; its credential only as a `*_file` path into the mounted Secret."""
    path = f"{RECEIVERS_MOUNT}/{r.name}"
    entry: dict[str, Any] = {"name": r.name}
    if r.type == "slack":
        slack: dict[str, Any] = {"api_url_file": path, "send_resolved": True}
        if r.slack_channel:
            slack["channel"] = r.slack_channel
        entry["slack_configs"] = [slack]
    elif r.type == "pagerduty":
        entry["pagerduty_configs"] = [{"routing_key_file": path, "send_resolved": True}]
    elif r.type == "webhook":
        entry["webhook_configs"] = [{"url_file": path, "send_resolved": True}]
    else:
        entry["email_configs"] = [
            {
                "to": r.email_to,
                "from": r.email_from,
                "smarthost": r.smarthost,
                "auth_username": r.username,
                "auth_password_file": path,
                "require_tls": True,
                "send_resolved": True,
            }
        ]
    return entry


def _rules(name: str) -> list[dict[str, Any]]:
    text = data.text(__file__, f"rules/{name}.yaml")
    rules: list[dict[str, Any]] = yaml.safe_load(
        text.replace("ETCD_SNAPSHOT_CRONJOB", ETCD_SNAPSHOT_CRONJOB)
    )
    return rules


def platform_rules() -> dict[str, Any]:
    """The PrometheusRule spec of the platform's own guarantees (certificates, storage,
    images, logs). Backup alerts (Velero schedules, the etcd snapshot CronJob) come from
    PersistenceLayer with thresholds from their schedules: Args backup_monitoring."""
    return {"groups": [{"name": "platform.health", "rules": _rules("platform-health")}]}


def dashboards() -> dict[str, str]:
    """Platform dashboards (data/dashboards/*.json) as the Grafana sidecar reads them."""
    out: dict[str, str] = {}
    for name in DASHBOARDS:
        text = data.text(__file__, f"dashboards/{name}.json")
        doc = json.loads(text.replace("ETCD_SNAPSHOT_CRONJOB", ETCD_SNAPSHOT_CRONJOB))
        out[name] = json.dumps(doc, indent=1, sort_keys=True)
    return out


DASHBOARDS = ("platform-logs", "platform-backups", "platform-health")
