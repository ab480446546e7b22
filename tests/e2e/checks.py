"""Decision logic of the smoke suite: pure functions over API responses.

Each check returns the problems it found ([] = pass) and reports a problem when it was
given nothing to walk, so an empty namespace, an empty Loki answer or a silent
Alertmanager can never look healthy. The shapes are the upstream API types:
- Deployments, StatefulSets, DaemonSets: k8s.io/api/apps/v1 types.go (*Status); ready as
  `kubectl rollout status` decides (kubectl pkg/polymorphichelpers/rollout_status.go).
- Velero Backup/Restore: velero.io/v1 backup_types.go / restore_types.go (status.phase enum).
- Loki: HTTP API `GET /loki/api/v1/query_range`, resultType "streams".
- Alertmanager: API v2 openapi `GET /api/v2/alerts` (gettableAlerts).
- Grafana: `GET /api/health` ({"database": "ok", "version": ...}).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
TENANT_LABEL = "k8s-platform/tenant"


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _ref(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '?')} {meta.get('namespace', '?')}/{meta.get('name', '?')}"


def _generation_lag(obj: Obj) -> str | None:
    generation = (obj.get("metadata") or {}).get("generation", 0)
    observed = _status(obj).get("observedGeneration", 0)
    return None if observed >= generation else f"spec generation {generation} not observed yet"


def _deployment(obj: Obj) -> str | None:
    want = (obj.get("spec") or {}).get("replicas", 1)  # apps/v1 defaults replicas to 1
    st = _status(obj)
    for field in ("updatedReplicas", "readyReplicas", "availableReplicas"):
        if st.get(field, 0) < want:
            return f"{field} {st.get(field, 0)}/{want}"
    return None


def _statefulset(obj: Obj) -> str | None:
    want = (obj.get("spec") or {}).get("replicas", 1)
    st = _status(obj)
    if st.get("readyReplicas", 0) < want:
        return f"readyReplicas {st.get('readyReplicas', 0)}/{want}"
    if st.get("updateRevision") and st.get("currentRevision") != st.get("updateRevision"):
        return f"rolling out revision {st['updateRevision']}"
    return None


def _daemonset(obj: Obj) -> str | None:
    st = _status(obj)
    desired = st.get("desiredNumberScheduled", 0)
    if desired == 0:
        return "scheduled on no node"
    for field in ("updatedNumberScheduled", "numberReady", "numberAvailable"):
        if st.get(field, 0) < desired:
            return f"{field} {st.get(field, 0)}/{desired}"
    return None


_READINESS = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
}


def unready_workloads(items: Iterable[Obj], namespaces: Iterable[str]) -> list[str]:
    """Every Deployment/StatefulSet/DaemonSet in `namespaces` that is not fully Ready."""
    wanted = set(namespaces)
    problems: list[str] = []
    seen = 0
    for obj in items:
        kind = obj.get("kind")
        if kind not in _READINESS or (obj.get("metadata") or {}).get("namespace") not in wanted:
            continue
        seen += 1
        reason = _generation_lag(obj) or _READINESS[kind](obj)
        if reason:
            problems.append(f"{_ref(obj)}: {reason}")
    if not seen:
        problems.append(f"no Deployments, StatefulSets or DaemonSets in {sorted(wanted)}")
    return problems


class Outcome(enum.Enum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# Terminal phases of velero.io/v1 Backup and Restore (the CRDs' status.phase enum).
_VELERO_FAILED = frozenset({"FailedValidation", "PartiallyFailed", "Failed"})
_VELERO_KINDS = frozenset({"Backup", "Restore"})


def backup_phase_outcome(obj: Obj) -> tuple[Outcome, str]:
    """Where a Velero Backup or Restore stands; only `Completed` succeeds."""
    if obj.get("kind") not in _VELERO_KINDS:
        return Outcome.FAILED, f"not a Velero Backup or Restore: {obj.get('kind')!r}"
    st = _status(obj)
    phase = st.get("phase") or "New"
    if phase == "Completed":
        return Outcome.SUCCEEDED, _ref(obj)
    if phase in _VELERO_FAILED:
        detail = st.get("failureReason") or "; ".join(st.get("validationErrors") or [])
        return (
            Outcome.FAILED,
            f"{_ref(obj)} {phase}: errors={st.get('errors', 0)} {detail}",
        )
    return Outcome.PENDING, f"{_ref(obj)} {phase}"


def restored_configmap_problems(obj: Obj, data: Mapping[str, str], restore: str) -> list[str]:
    """The ConfigMap came back with its data, from this restore."""
    if obj.get("kind") != "ConfigMap":
        return [f"expected the restored ConfigMap, got {obj.get('kind')!r}"]
    problems = []
    if obj.get("data") != dict(data):
        problems.append(f"data {obj.get('data')!r} != {dict(data)!r}")
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get("velero.io/restore-name") != restore:  # Velero labels what it restores
        problems.append(f"{_ref(obj)} was not restored by {restore}")
    return problems


def loki_token_problems(resp: Obj, token: str) -> list[str]:
    """A query_range answer holds at least one log line carrying `token`."""
    if resp.get("status") != "success":
        return [f"Loki answered status {resp.get('status')!r}"]
    data = resp.get("data") or {}
    if data.get("resultType") != "streams":
        return [f"expected resultType streams, got {data.get('resultType')!r}"]
    lines = [v[1] for s in data.get("result") or [] for v in s.get("values") or []]
    if not lines:
        return ["Loki returned no log lines"]
    if not any(token in line for line in lines):
        return [f"none of {len(lines)} log lines carries {token}"]
    return []


def unexpected_alerts(alerts: Sequence[Obj], allowed: Iterable[str] = ("Watchdog",)) -> list[str]:
    """Firing alerts other than the allowed ones, and the Watchdog if it is missing.

    The Watchdog always fires: its absence means the alerting pipeline is broken, so an
    empty answer fails. Silenced alerts are an operator's decision and do not count."""
    allowed = frozenset(allowed)
    problems: list[str] = []
    names: set[str] = set()
    for alert in alerts:
        name = (alert.get("labels") or {}).get("alertname", "?")
        names.add(name)
        status = alert.get("status") or {}
        if name in allowed or status.get("silencedBy"):
            continue
        labels = alert.get("labels") or {}
        where = labels.get("namespace") or labels.get("job") or "cluster"
        problems.append(f"{name} ({labels.get('severity', '?')}, {where}): {status.get('state')}")
    problems.extend(f"{name} is not firing" for name in sorted(allowed - names))
    return problems


def grafana_health_problems(status: int, body: Obj) -> list[str]:
    """Grafana's /api/health: HTTP 200 and its database reachable."""
    problems = []
    if status != 200:
        problems.append(f"HTTP {status}")
    if body.get("database") != "ok":
        problems.append(f"database {body.get('database')!r}")
    return problems


@dataclass(frozen=True)
class Probe:
    """One TCP/DNS attempt from a tenant pod and whether policy should let it through."""

    name: str
    expect_open: bool
    exit_code: int


def reachability_problems(probes: Sequence[Probe]) -> list[str]:
    """Denied paths fail and allowed ones succeed. A denial proves something only next to
    a success from the same pod (positive control), so both kinds must be present."""
    problems = [
        f"{p.name}: {'blocked' if p.expect_open else 'reachable'} (exit {p.exit_code})"
        for p in probes
        if (p.exit_code == 0) != p.expect_open
    ]
    if not any(p.expect_open for p in probes):
        problems.append("no positive control: nothing the pod is allowed to reach was probed")
    if not any(not p.expect_open for p in probes):
        problems.append("no denied path was probed")
    return problems


def tenant_namespaces(namespaces: Iterable[Obj]) -> list[str]:
    """Names of the tenant namespaces (labelled by SecurityBaseline), sorted."""
    return sorted(
        (ns.get("metadata") or {}).get("name", "")
        for ns in namespaces
        if TENANT_LABEL in ((ns.get("metadata") or {}).get("labels") or {})
    )


_FORWARD = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


def forwarded_port(line: str) -> int | None:
    """The local port from `kubectl port-forward ... :<remote>` output, if this is that line."""
    match = _FORWARD.search(line)
    return int(match.group(1)) if match else None
