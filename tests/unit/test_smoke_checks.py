"""The smoke suite's decisions (tests/e2e/checks.py) on recorded API responses.

Fixtures in tests/fixtures/e2e/ have the upstream shapes (see its README.md): apps/v1
workload status, velero.io/v1 Backup/Restore, Loki query_range, Alertmanager API v2
gettableAlerts, Grafana /api/health. Every check must fail when given nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e import checks, pods
from tests.e2e.checks import Outcome, Probe
from tests.helpers import FIXTURES

E2E = FIXTURES / "e2e"
PLATFORM = (
    "cert-manager",
    "kyverno",
    "velero",
    "monitoring",
    "logging",
    "node-exporter",
    "kube-system",
)
RUN = "smoke-0a1b2c3d"


def load(name: str) -> Any:
    return json.loads((E2E / name).read_text())


# -- workloads ------------------------------------------------------------------------------


def test_ready_platform_workloads_pass_and_tenant_workloads_are_not_judged() -> None:
    assert checks.unready_workloads(load("workloads-ready.json")["items"], PLATFORM) == []


def test_each_kind_of_unreadiness_is_named() -> None:
    problems = checks.unready_workloads(load("workloads-unready.json")["items"], PLATFORM)
    assert problems == [
        "Deployment kyverno/kyverno-admission-controller: updatedReplicas 0/1",
        "Deployment velero/velero: spec generation 3 not observed yet",
        "StatefulSet monitoring/prometheus-kps-prometheus: "
        "rolling out revision prometheus-kps-prometheus-9a1",
        "DaemonSet logging/alloy: numberReady 3/4",
        "DaemonSet node-exporter/kps-prometheus-node-exporter: scheduled on no node",
    ]


def test_no_workloads_at_all_is_a_failure() -> None:
    assert checks.unready_workloads([], PLATFORM) == [
        f"no Deployments, StatefulSets or DaemonSets in {sorted(PLATFORM)}"
    ]


def test_workloads_outside_the_platform_namespaces_do_not_count_as_walked() -> None:
    tenant_only = [
        i for i in load("workloads-ready.json")["items"] if i["metadata"]["namespace"] == "demo"
    ]
    assert checks.unready_workloads(tenant_only, PLATFORM)


# -- Velero ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [
        ("velero-backup-completed.json", Outcome.SUCCEEDED),
        ("velero-restore-completed.json", Outcome.SUCCEEDED),
        ("velero-backup-inprogress.json", Outcome.PENDING),
        ("velero-backup-partiallyfailed.json", Outcome.FAILED),
        ("velero-backup-failedvalidation.json", Outcome.FAILED),
        ("velero-restore-failed.json", Outcome.FAILED),
    ],
)
def test_only_a_completed_backup_or_restore_succeeds(fixture: str, outcome: Outcome) -> None:
    assert checks.backup_phase_outcome(load(fixture))[0] is outcome


def test_a_failure_says_why() -> None:
    _, detail = checks.backup_phase_outcome(load("velero-backup-failedvalidation.json"))
    assert "FailedValidation" in detail and "'missing' was not found" in detail
    _, detail = checks.backup_phase_outcome(load("velero-restore-failed.json"))
    assert "not found in object storage" in detail


def test_a_new_backup_without_status_is_pending_and_nothing_is_a_failure() -> None:
    fresh = {**load("velero-backup-completed.json"), "status": {}}
    assert checks.backup_phase_outcome(fresh)[0] is Outcome.PENDING
    assert checks.backup_phase_outcome({})[0] is Outcome.FAILED


def test_the_restored_configmap_has_its_data_and_came_from_the_restore() -> None:
    restored = load("configmap-restored.json")
    assert checks.restored_configmap_problems(restored, {"token": RUN}, RUN) == []
    assert checks.restored_configmap_problems(restored, {"token": "other"}, RUN)
    unlabelled = {**restored, "metadata": {**restored["metadata"], "labels": {}}}
    assert checks.restored_configmap_problems(unlabelled, {"token": RUN}, RUN)
    assert checks.restored_configmap_problems({}, {"token": RUN}, RUN)


# -- Loki -----------------------------------------------------------------------------------


def test_loki_answer_with_the_token_passes() -> None:
    assert checks.loki_token_problems(load("loki-query-range-token.json"), RUN) == []


@pytest.mark.parametrize(
    ("fixture", "problem"),
    [
        ("loki-query-range-empty.json", "no log lines"),
        ("loki-query-range-other-lines.json", "carries smoke-0a1b2c3d"),
        ("loki-query-range-matrix.json", "expected resultType streams"),
    ],
)
def test_loki_answers_without_the_token_fail(fixture: str, problem: str) -> None:
    (found,) = checks.loki_token_problems(load(fixture), RUN)
    assert problem in found


def test_an_empty_loki_response_fails() -> None:
    assert checks.loki_token_problems({}, RUN)


# -- Alertmanager ---------------------------------------------------------------------------


def test_only_the_watchdog_firing_passes() -> None:
    assert checks.unexpected_alerts(load("alertmanager-alerts-watchdog.json")) == []


def test_another_firing_alert_is_reported_and_a_silenced_one_is_not() -> None:
    assert checks.unexpected_alerts(load("alertmanager-alerts-firing.json")) == [
        "KubePodCrashLooping (warning, logging): active"
    ]


def test_no_alerts_at_all_means_the_pipeline_is_broken() -> None:
    assert checks.unexpected_alerts([]) == ["Watchdog is not firing"]
    assert checks.unexpected_alerts(load("alertmanager-alerts-silenced-only.json")) == [
        "Watchdog is not firing"
    ]


# -- Grafana --------------------------------------------------------------------------------


def test_grafana_health() -> None:
    assert checks.grafana_health_problems(200, load("grafana-health-ok.json")) == []
    assert checks.grafana_health_problems(200, load("grafana-health-db-failing.json")) == [
        "database 'failing'"
    ]
    assert checks.grafana_health_problems(503, load("grafana-health-ok.json")) == ["HTTP 503"]
    assert checks.grafana_health_problems(200, {}) == ["database None"]


# -- network isolation ----------------------------------------------------------------------

ALLOWED_DNS = Probe("DNS over TCP", expect_open=True, exit_code=0)
DENIED_TENANT = Probe("tenant team-b", expect_open=False, exit_code=1)


def test_denied_paths_blocked_next_to_an_allowed_one_pass() -> None:
    assert checks.reachability_problems([ALLOWED_DNS, DENIED_TENANT]) == []


def test_a_reachable_denied_path_fails() -> None:
    leak = Probe("monitoring/kps-grafana:80", expect_open=False, exit_code=0)
    assert checks.reachability_problems([ALLOWED_DNS, leak]) == [
        "monitoring/kps-grafana:80: reachable (exit 0)"
    ]


def test_without_a_working_positive_control_a_denial_proves_nothing() -> None:
    broken_dns = Probe("DNS over TCP", expect_open=True, exit_code=1)
    assert checks.reachability_problems([broken_dns, DENIED_TENANT]) == [
        "DNS over TCP: blocked (exit 1)"
    ]
    assert checks.reachability_problems([DENIED_TENANT]) == [
        "no positive control: nothing the pod is allowed to reach was probed"
    ]
    assert len(checks.reachability_problems([])) == 2


def test_tenant_namespaces_are_found_by_label() -> None:
    assert checks.tenant_namespaces(load("namespaces.json")["items"]) == [
        "demo",
        "team-b",
    ]
    assert checks.tenant_namespaces([]) == []


def test_the_port_forward_line_gives_the_local_port() -> None:
    assert checks.forwarded_port("Forwarding from 127.0.0.1:43517 -> 9093\n") == 43517
    assert checks.forwarded_port("Handling connection for 43517") is None


# -- the suite's own pods are admissible in a tenant namespace ------------------------------


@pytest.mark.parametrize(
    "manifest", [pods.logger("p", "demo", RUN, RUN), pods.listener("l", "demo", RUN)]
)
def test_smoke_pods_meet_restricted_pod_security_and_the_tenant_policies(
    manifest: dict[str, Any],
) -> None:
    spec = manifest["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in spec["containers"]:
        assert "@sha256:" in c["image"] and not c["image"].split("@")[0].endswith(":latest")
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        for part in ("requests", "limits"):
            assert set(c["resources"][part]) == {"cpu", "memory"}
        assert c["readinessProbe"]["periodSeconds"] > 0 and c["livenessProbe"]["periodSeconds"] > 0
