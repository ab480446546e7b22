"""Smoke suite: the deployed platform as a whole, against a live kube context.

Skipped unless a context is given (conftest.py). Every decision is a function of
checks.py, unit-tested offline on recorded API responses (tests/unit/test_smoke_checks.py).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from kernel import namespaces as platform_ns
from tests.e2e import checks, pods
from tests.e2e.checks import Probe
from tests.e2e.kube import Kubectl, poll

# Names the platform gives its objects (components/*.py); the smoke suite only reads them.
GRAFANA_SERVICE, PROMETHEUS_SERVICE = ("kps-grafana", 80), ("kps-prometheus", 9090)
ALERTMANAGER_SERVICE = ("kps-alertmanager", 9093)
LOKI_GATEWAY_SERVICE = ("loki-gateway", 80)
PLATFORM_CA_SECRET = (platform_ns.CERT_MANAGER, "platform-ca")
BACKUP_LOCATION = "default"
WORKLOAD_NAMESPACES = tuple(n.name for n in platform_ns.PLATFORM_NAMESPACES) + tuple(
    platform_ns.SYSTEM_NAMESPACES
)


def _http_json(port: int, path: str, query: dict[str, str] | None = None) -> Any:
    url = f"http://127.0.0.1:{port}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    with urllib.request.urlopen(url, timeout=15) as resp:
        return json.load(resp)


def test_every_platform_workload_is_ready(kubectl: Kubectl) -> None:
    items = kubectl.items("deployments,statefulsets,daemonsets", "--all-namespaces")
    problems = checks.unready_workloads(items, WORKLOAD_NAMESPACES)
    assert not problems, "unready platform workloads:\n" + "\n".join(problems)


def _ca_bundle(kubectl: Kubectl) -> str:
    path = os.environ.get("E2E_CA_BUNDLE")
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read()
    namespace, name = PLATFORM_CA_SECRET
    data = kubectl.json("get", "secret", "-n", namespace, name).get("data") or {}
    assert data.get("ca.crt"), f"secret {namespace}/{name} has no ca.crt"
    return base64.b64decode(data["ca.crt"]).decode()


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to `address` with SNI and Host of the URL (curl --connect-to): a laptop or
    runner may not resolve the public hostname, the Gateway still routes by it."""

    def __init__(self, host: str, port: int, address: tuple[str, int], ctx: ssl.SSLContext):
        super().__init__(host, port, context=ctx, timeout=15)
        self._address, self._ctx = address, ctx

    def connect(self) -> None:
        sock = socket.create_connection(self._address, timeout=15)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def test_grafana_answers_through_the_gateway_over_tls(kubectl: Kubectl) -> None:
    url = os.environ.get("E2E_GRAFANA_URL")
    assert url, "set E2E_GRAFANA_URL (pulumi stack output grafanaPublicUrl)"
    parsed = urllib.parse.urlsplit(url)
    assert parsed.scheme == "https" and parsed.hostname, f"not an https URL: {url}"
    port = parsed.port or 443
    ctx = ssl.create_default_context(cadata=_ca_bundle(kubectl))  # verifies chain and name
    connect = os.environ.get("E2E_GATEWAY_ADDRESS")  # host:port, e.g. 127.0.0.1:8443
    address = (connect.rsplit(":", 1)[0], int(connect.rsplit(":", 1)[1])) if connect else None
    conn = _PinnedHTTPS(parsed.hostname, port, address or (parsed.hostname, port), ctx)
    conn.request("GET", "/api/health", headers={"Accept": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    payload = json.loads(body) if resp.headers.get_content_type() == "application/json" else {}
    problems = checks.grafana_health_problems(resp.status, payload)
    assert not problems, f"{url}/api/health: " + "; ".join(problems)


def _cluster_ip(kubectl: Kubectl, namespace: str, service: str) -> str:
    return str(kubectl.json("get", "service", "-n", namespace, service)["spec"]["clusterIP"])


def _nc(address: str, port: int) -> list[str]:
    return ["nc", "-z", "-w", "3", address, str(port)]


def test_a_tenant_pod_reaches_dns_but_not_monitoring_or_another_tenant(
    kubectl: Kubectl, tenants: list[str], tenant_pod: tuple[str, str], run_id: str
) -> None:
    assert len(tenants) >= 2, (
        f"tenant isolation needs two tenant namespaces, found {tenants}: "
        "add a second entry to security.tenants"
    )
    source, pod = tenant_pod
    other, target = tenants[1], f"{run_id}-listen"
    kubectl.create(pods.listener(target, other, run_id))
    try:
        kubectl.wait_ready(other, target)
        target_ip = kubectl.json("get", "pod", "-n", other, target)["status"]["podIP"]
        dns = _cluster_ip(kubectl, "kube-system", "kube-dns")
        # (description, pod to run in, command, allowed by policy)
        attempts = [
            (
                "DNS lookup",
                (source, pod),
                ["nslookup", "kubernetes.default.svc.cluster.local"],
                True,
            ),
            ("DNS over TCP kube-dns:53", (source, pod), _nc(dns, 53), True),
            # The target serves: it answers on its own loopback.
            (
                f"{other}/{target} on loopback",
                (other, target),
                _nc("127.0.0.1", pods.LISTEN_PORT),
                True,
            ),
            (
                f"tenant {other} pod {target_ip}:{pods.LISTEN_PORT}",
                (source, pod),
                _nc(target_ip, pods.LISTEN_PORT),
                False,
            ),
        ]
        for service, port in (
            GRAFANA_SERVICE,
            PROMETHEUS_SERVICE,
            ALERTMANAGER_SERVICE,
        ):
            ip = _cluster_ip(kubectl, platform_ns.MONITORING, service)
            attempts.append((f"monitoring/{service}:{port}", (source, pod), _nc(ip, port), False))
        probes = [
            Probe(name, allowed, kubectl.exec(ns, name_, command))
            for name, (ns, name_), command, allowed in attempts
        ]
        problems = checks.reachability_problems(probes)
        assert not problems, f"from {source}/{pod}:\n" + "\n".join(problems)
    finally:
        kubectl.delete("-n", other, "pod", target)


def _velero(kind: str, name: str, spec: dict[str, Any], run_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "velero.io/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": platform_ns.VELERO,
            "labels": {pods.RUN_LABEL: run_id},
        },
        "spec": spec,
    }


def test_a_velero_backup_and_restore_of_a_tenant_namespace_round_trips(
    kubectl: Kubectl, tenants: list[str], run_id: str
) -> None:
    tenant, velero, name = tenants[0], platform_ns.VELERO, run_id
    data = {"token": run_id}
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": tenant,
            "labels": {pods.RUN_LABEL: run_id},
        },
        "data": data,
    }
    kubectl.create(configmap)
    try:
        kubectl.create(
            _velero(
                "Backup",
                name,
                {
                    "includedNamespaces": [tenant],
                    "storageLocation": BACKUP_LOCATION,
                    "ttl": "1h0m0s",
                },
                run_id,
            )
        )
        poll(
            lambda: kubectl.json("get", "backups.velero.io", "-n", velero, name),
            checks.backup_phase_outcome,
            timeout=600,
        )
        kubectl.run("delete", "-n", tenant, "configmap", name, "--wait=true")
        kubectl.create(
            _velero(
                "Restore",
                name,
                {
                    "backupName": name,
                    "includedNamespaces": [tenant],
                    "includedResources": ["configmaps"],
                    "labelSelector": {"matchLabels": {pods.RUN_LABEL: run_id}},
                },
                run_id,
            )
        )
        poll(
            lambda: kubectl.json("get", "restores.velero.io", "-n", velero, name),
            checks.backup_phase_outcome,
            timeout=600,
        )
        restored = kubectl.json("get", "configmap", "-n", tenant, name)
        problems = checks.restored_configmap_problems(restored, data, name)
        assert not problems, "\n".join(problems)
    finally:
        kubectl.delete("-n", tenant, "configmap", name)
        kubectl.delete("-n", velero, "restores.velero.io", name)
        # `velero backup delete`: a DeleteBackupRequest also removes the object-store copy
        # (deleting the Backup object alone lets the BSL sync bring it back).
        kubectl.run(
            "create",
            "-f",
            "-",
            check=False,
            stdin=json.dumps(
                _velero("DeleteBackupRequest", f"{name}-delete", {"backupName": name}, run_id)
            ),
        )


def test_loki_holds_the_logs_of_a_tenant_pod(
    kubectl: Kubectl, tenant_pod: tuple[str, str], run_id: str
) -> None:
    namespace, pod = tenant_pod
    service, port = LOKI_GATEWAY_SERVICE
    query = f'{{namespace="{namespace}", pod="{pod}"}} |= "{run_id}"'
    problems = ["not queried"]
    with kubectl.port_forward(platform_ns.LOGGING, service, port) as local:
        deadline = time.monotonic() + 180  # Alloy tails the API, Loki flushes in seconds
        while problems and time.monotonic() < deadline:
            now = time.time_ns()
            resp = _http_json(
                local,
                "/loki/api/v1/query_range",
                {
                    "query": query,
                    "start": str(now - 15 * 60 * 10**9),
                    "end": str(now),
                    "limit": "100",
                    "direction": "backward",
                },
            )
            problems = checks.loki_token_problems(resp, run_id)
            if problems:
                time.sleep(10)
    assert not problems, f"Loki {query}: " + "; ".join(problems)


def test_only_the_watchdog_alert_fires(kubectl: Kubectl) -> None:
    service, port = ALERTMANAGER_SERVICE
    problems = ["not queried"]
    with kubectl.port_forward(platform_ns.MONITORING, service, port) as local:
        # A fresh cluster settles: rules need their `for:` and the first evaluation.
        deadline = time.monotonic() + float(os.environ.get("E2E_ALERTS_SETTLE_SECONDS", "300"))
        while problems and time.monotonic() < deadline:
            problems = checks.unexpected_alerts(_http_json(local, "/api/v2/alerts"))
            if problems:
                time.sleep(15)
    assert not problems, "Alertmanager:\n" + "\n".join(problems)


@pytest.fixture(scope="session", autouse=True)
def _no_leftovers(kubectl: Kubectl, run_id: str) -> Any:
    """Whatever a failed test left behind carries the run label: remove it at the end."""
    yield
    for scope in ("pods,configmaps", "restores.velero.io"):
        kubectl.delete(scope, "--all-namespaces", "-l", f"{pods.RUN_LABEL}={run_id}")
