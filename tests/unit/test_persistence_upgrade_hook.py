"""Backup before a Kubernetes upgrade: the before_update hook on the KubeadmControlPlane.

Hooks do not run under mocks, so the hook function is driven directly with a fake
Velero API.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pytest
import yaml

from components.persistence.upgrade_hook import (
    PreUpgradeBackup,
    PreUpgradeBackupError,
    backup_name,
)
from kernel.contracts import WorkloadAccess
from kernel.kubeapi import KubeApiError
from tools.offline import FAKE_WORKLOAD_KUBECONFIG

NOW = dt.datetime(2026, 11, 22, 3, 4, 5, tzinfo=dt.UTC)


class FakeVelero:
    def __init__(self, phases: list[str | None]) -> None:
        self.phases = phases
        self.created: list[Mapping[str, Any]] = []

    def create_backup(self, namespace: str, body: Mapping[str, Any]) -> None:
        assert namespace == body["metadata"]["namespace"]
        self.created.append(body)

    def backup_phase(self, namespace: str, name: str) -> str | None:
        return self.phases.pop(0) if len(self.phases) > 1 else self.phases[0]


def drive(coro: Any) -> Any:
    """Run a coroutine on a private loop: asyncio.run would unset the loop that the
    Pulumi mocks of later tests rely on."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def kcp(version: str | None) -> dict[str, Any]:
    return {"spec": {"version": version, "replicas": 3}} if version else {}


def run(hook: PreUpgradeBackup, old: str | None, new: str | None) -> str | None:
    args = pulumi.ResourceHookArgs(
        urn="urn:pulumi:prod::k8s-platform::kcp",
        id="prod",
        name="prod-control-plane",
        type="kubernetes:controlplane.cluster.x-k8s.io/v1beta2:KubeadmControlPlane",
        new_inputs=kcp(new),
        old_inputs=kcp(old),
    )
    return drive(hook(args))


async def no_sleep(_: float) -> None:
    return None


def hook_for(fake: FakeVelero, **kw: Any) -> PreUpgradeBackup:
    return PreUpgradeBackup(lambda: fake, now=lambda: NOW, sleep=no_sleep, **kw)


def test_a_version_change_takes_a_backup_and_waits_for_it() -> None:
    fake = FakeVelero(["New", "InProgress", "Completed"])
    name = run(hook_for(fake), "v1.34.2", "v1.35.0")
    assert name == "pre-upgrade-v1.35.0-20261122030405"
    (backup,) = fake.created
    assert backup["apiVersion"] == "velero.io/v1" and backup["kind"] == "Backup"
    assert backup["metadata"] == {
        "name": name,
        "namespace": "velero",
        "labels": backup["metadata"]["labels"],
        "annotations": {"k8s-platform/upgrade": "v1.34.2 -> v1.35.0"},
    }
    assert backup["spec"]["includedNamespaces"] == ["*"]
    assert backup["spec"]["storageLocation"] == "default"
    assert fake.phases == ["Completed"]  # it polled until Completed


def test_no_version_change_creates_nothing() -> None:
    fake = FakeVelero(["Completed"])
    assert run(hook_for(fake), "v1.35.0", "v1.35.0") is None
    assert fake.created == []


def test_a_create_or_first_deploy_creates_nothing() -> None:
    fake = FakeVelero(["Completed"])
    assert run(hook_for(fake), None, "v1.35.0") is None
    assert fake.created == []


def test_a_failed_backup_stops_the_upgrade_with_a_clear_message() -> None:
    fake = FakeVelero(["InProgress", "PartiallyFailed"])
    with pytest.raises(PreUpgradeBackupError, match=r"ended PartiallyFailed.*stays at v1\.34\.2"):
        run(hook_for(fake), "v1.34.2", "v1.35.0")


def test_a_backup_that_never_completes_times_out() -> None:
    ticks = iter(range(0, 10_000, 600))
    fake = FakeVelero(["InProgress"])
    hook = hook_for(fake, timeout_seconds=1800, clock=lambda: float(next(ticks)))
    with pytest.raises(PreUpgradeBackupError, match="not Completed after 1800s"):
        run(hook, "v1.34.2", "v1.35.0")


def test_disabled_pre_upgrade_backup_does_nothing() -> None:
    fake = FakeVelero(["Completed"])
    assert run(hook_for(fake, enabled=False), "v1.34.2", "v1.35.0") is None
    assert fake.created == []


def test_backup_names_are_valid_object_names() -> None:
    assert backup_name("v1.35.0+build.1", NOW) == "pre-upgrade-v1.35.0-build.1-20261122030405"


class Flaky(FakeVelero):
    """The API server restarts: the first reads fail with a transient error."""

    def __init__(self, phases: list[str | None], errors: list[KubeApiError]) -> None:
        super().__init__(phases)
        self.errors = errors

    def backup_phase(self, namespace: str, name: str) -> str | None:
        if self.errors:
            raise self.errors.pop(0)
        return super().backup_phase(namespace, name)


def test_transient_api_errors_are_retried_within_the_deadline() -> None:
    fake = Flaky(["Completed"], [KubeApiError("GET: HTTP 503", transient=True)] * 2)
    assert run(hook_for(fake), "v1.34.2", "v1.35.0") is not None
    assert fake.errors == [] and len(fake.created) == 1


def test_a_permanent_api_error_stops_the_upgrade_at_once() -> None:
    fake = Flaky(["Completed"], [KubeApiError("GET: HTTP 403: forbidden")])
    with pytest.raises(PreUpgradeBackupError, match=r"HTTP 403.*not changed"):
        run(hook_for(fake), "v1.34.2", "v1.35.0")


WORKLOAD = "https://api.workload.example:6443"


class FakeClusters:
    """KubeApi stand-in: the management API serves CAPI's kubeconfig Secret, the workload
    API serves Velero Backups (Completed as soon as asked)."""

    calls: ClassVar[list[tuple[str, str, str]]] = []

    def __init__(self, kubeconfig: str, context: str | None = None) -> None:
        self.server = str(yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]["server"])
        self.context = context

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        self.calls.append((self.server, method, path))
        if self.server != WORKLOAD:
            encoded = base64.b64encode(FAKE_WORKLOAD_KUBECONFIG.encode()).decode()
            return {"data": {"value": encoded}}
        return {"status": {"phase": "Completed"}} if method == "GET" else body


@pytest.mark.usefixtures("fixture_kubeconfig")
def test_the_hook_as_wired_needs_no_control_plane_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The composition root's hook, for the prod cluster, run with nothing of the
    control plane resolved: it reads <cluster>-kubeconfig from the management API itself."""
    from components.persistence import upgrade_hook
    from settings import load
    from tools.offline import stack_config

    made: dict[str, Any] = {}

    class Captured:
        def __init__(self, name: str, func: Any) -> None:
            made.update(name=name, func=func)

    monkeypatch.setattr(pulumi, "ResourceHook", Captured)
    monkeypatch.setattr(upgrade_hook, "KubeApi", FakeClusters)
    monkeypatch.setattr(FakeClusters, "calls", [])
    cfg = load(stack_config("prod"), "prod")
    access = cfg.cluster.workload_access()
    # Only plain values cross into the hook: nothing a Pulumi update resolves later.
    assert all(isinstance(v, str | None) for v in vars(access).values()), access
    (factory,) = upgrade_hook.pre_upgrade_backups(cfg.persistence)
    factory(access)
    args = pulumi.ResourceHookArgs(
        urn="u", id="i", name="n", type="t", old_inputs=kcp("v1.34.2"), new_inputs=kcp("v1.35.0")
    )
    # A private loop with a deadline: an Output of the program would never resolve here.
    drive(asyncio.wait_for(made["func"](args), timeout=5))
    management, *workload = FakeClusters.calls
    assert management[1:] == (
        "GET",
        f"/api/v1/namespaces/{access.namespace}/secrets/prod-kubeconfig",
    )
    assert management[0] != WORKLOAD
    assert [c[:2] for c in workload] == [(WORKLOAD, "POST"), (WORKLOAD, "GET")]


@pytest.mark.usefixtures("fixture_kubeconfig")
def test_the_hook_factory_binds_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pre_upgrade_backup_hook wraps the runner in a pulumi.ResourceHook named for the KCP."""
    from components.persistence import upgrade_hook
    from settings import load
    from tools.offline import stack_config

    made: dict[str, Any] = {}

    class FakeHook:
        def __init__(self, name: str, func: Any) -> None:
            made.update(name=name, func=func)

    monkeypatch.setattr(pulumi, "ResourceHook", FakeHook)
    fake = FakeVelero(["Completed"])
    settings = load(stack_config("prod"), "prod").persistence
    access = WorkloadAccess(None, "capi-mgmt", "default", "prod")
    upgrade_hook.pre_upgrade_backup_hook(settings, access, api=lambda: fake)
    assert made["name"] == "pre-upgrade-backup"
    args = pulumi.ResourceHookArgs(
        urn="u", id="i", name="n", type="t", old_inputs=kcp("v1.34.2"), new_inputs=kcp("v1.35.0")
    )
    drive(made["func"](args))
    assert len(fake.created) == 1
    assert fake.created[0]["spec"]["ttl"] == settings.backups.default_ttl


EXEC_KUBECONFIG = """apiVersion: v1
kind: Config
current-context: eks
clusters: [{name: eks, cluster: {server: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com'}}]
contexts: [{name: eks, context: {cluster: eks, user: eks}}]
users:
  - name: eks
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: PLUGIN
        args: [eks, get-token, --cluster-name, mgmt]
        env: [{name: AWS_PROFILE, value: mgmt}]
        interactiveMode: Never
"""


def test_an_exec_plugin_management_kubeconfig_authenticates_with_its_token(
    tmp_path: Path,
) -> None:
    """EKS and GKE management kubeconfigs use exec credential plugins: the hook runs the
    plugin as kubectl does (non-interactive) and sends its token."""
    from kernel.kubeapi import KubeApi

    seen = tmp_path / "seen.json"
    plugin = tmp_path / "aws"
    plugin.write_text(
        "#!/bin/sh\n"
        f'printf \'{{"args": "%s", "profile": "%s", "info": %s}}\' "$*" "$AWS_PROFILE" '
        f'"$KUBERNETES_EXEC_INFO" > {seen}\n'
        'echo \'{"kind": "ExecCredential", "status": {"token": "k8s-aws-v1.abc"}}\'\n'
    )
    plugin.chmod(0o755)
    api = KubeApi(EXEC_KUBECONFIG.replace("PLUGIN", str(plugin)))
    assert api.headers["Authorization"] == "Bearer k8s-aws-v1.abc"
    called = json.loads(seen.read_text())
    assert called["args"] == "eks get-token --cluster-name mgmt"
    assert called["profile"] == "mgmt"
    assert called["info"]["spec"]["interactive"] is False
    assert called["info"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"


def test_a_failing_exec_plugin_stops_the_upgrade_at_once_with_its_message(
    tmp_path: Path,
) -> None:
    from kernel.kubeapi import KubeApi

    plugin = tmp_path / "aws"
    plugin.write_text("#!/bin/sh\necho 'Unable to locate credentials' >&2\nexit 255\n")
    plugin.chmod(0o755)
    with pytest.raises(KubeApiError) as err:
        KubeApi(EXEC_KUBECONFIG.replace("PLUGIN", str(plugin)))
    assert "exited 255: Unable to locate credentials" in str(err.value)
    assert not err.value.transient  # not retried for the hook's 30 minutes
