"""Backup before a Kubernetes upgrade: a before_update hook on the KubeadmControlPlane."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import pulumi

from components.persistence.names import BSL_NAME
from components.persistence.settings import PersistenceSettings
from kernel import kube
from kernel import namespaces as ns
from kernel.contracts import HookFactory, WorkloadAccess
from kernel.kubeapi import KubeApi, KubeApiError

T = TypeVar("T")


class BackupApi(Protocol):
    """The two calls the hook makes; tests pass a fake."""

    def create_backup(self, namespace: str, body: Mapping[str, Any]) -> None: ...

    def backup_phase(self, namespace: str, name: str) -> str | None: ...


class KubeBackupApi:
    """BackupApi over the Kubernetes API (velero.io/v1 Backups)."""

    def __init__(self, kubeconfig: str) -> None:
        self._api = KubeApi(kubeconfig)

    def create_backup(self, namespace: str, body: Mapping[str, Any]) -> None:
        self._api.request("POST", f"/apis/velero.io/v1/namespaces/{namespace}/backups", body)

    def backup_phase(self, namespace: str, name: str) -> str | None:
        obj = self._api.request("GET", f"/apis/velero.io/v1/namespaces/{namespace}/backups/{name}")
        return ((obj or {}).get("status") or {}).get("phase")


class PreUpgradeBackupError(pulumi.RunError):
    pass


FAILED_PHASES = ("FailedValidation", "PartiallyFailed", "Failed")


def management_kubeconfig(access: WorkloadAccess) -> str:
    """The management kubeconfig text, read when the hook runs (as kubectl finds it)."""
    path = access.management_kubeconfig or (
        os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        or os.path.expanduser("~/.kube/config")
    )
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_workload_kubeconfig(access: WorkloadAccess) -> str:
    """Cluster API's `<cluster>-kubeconfig` Secret on the management cluster (key `value`)."""
    api = KubeApi(management_kubeconfig(access), context=access.management_context)
    path = f"/api/v1/namespaces/{access.namespace}/secrets/{access.kubeconfig_secret}"
    secret = api.request("GET", path) or {}
    value = (secret.get("data") or {}).get("value")
    if not value:
        raise KubeApiError(f"secret {access.namespace}/{access.kubeconfig_secret} has no `value`")
    return base64.b64decode(value).decode()


def workload_backup_api(access: WorkloadAccess) -> BackupApi:
    return KubeBackupApi(read_workload_kubeconfig(access))


def _version(inputs: Mapping[str, Any] | None) -> str | None:
    spec = (inputs or {}).get("spec") or {}
    version = spec.get("version")
    return str(version) if version else None


def backup_name(version: str, now: dt.datetime) -> str:
    stamp = now.strftime("%Y%m%d%H%M%S")
    return f"pre-upgrade-{version.lower().replace('+', '-')}-{stamp}"


class PreUpgradeBackup:
    """before_update hook on the KubeadmControlPlane: on a version change, take a
    Velero backup of everything and wait until it is Completed; otherwise fail the
    update so the control plane is not upgraded without a fresh backup."""

    def __init__(
        self,
        api: Callable[[], BackupApi | Awaitable[BackupApi]],
        *,
        namespace: str = ns.VELERO,
        timeout_seconds: int = 1800,
        ttl: str = "720h",
        enabled: bool = True,
        poll_seconds: float = 10,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.timeout_seconds = timeout_seconds
        self.ttl = ttl
        self.enabled = enabled
        self.poll_seconds = poll_seconds
        self.now = now
        self.sleep = sleep
        self.clock = clock

    def manifest(self, name: str, old: str, new: str) -> dict[str, Any]:
        return {
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {**kube.MANAGED_BY, "k8s-platform/backup": "pre-upgrade"},
                "annotations": {"k8s-platform/upgrade": f"{old} -> {new}"},
            },
            "spec": {
                "includedNamespaces": ["*"],
                "storageLocation": BSL_NAME,
                "ttl": self.ttl,
            },
        }

    def _create(self, api: BackupApi, body: Mapping[str, Any]) -> None:
        try:
            api.create_backup(self.namespace, body)
        except KubeApiError as exc:
            # A retried POST whose first attempt got through: the backup exists.
            if "HTTP 409" not in str(exc):
                raise

    async def _retrying(
        self, call: Callable[[], Awaitable[T]], deadline: float, what: str = "call"
    ) -> T:
        """`call`, retried on transient API errors until the hook's deadline."""
        while True:
            try:
                return await call()
            except KubeApiError as exc:
                if not exc.transient or self.clock() >= deadline:
                    raise PreUpgradeBackupError(
                        f"pre-upgrade backup: {exc}; the control plane was not changed"
                    ) from exc
                pulumi.log.warn(f"pre-upgrade backup: {exc} (retrying)")
            await self.sleep(self.poll_seconds)

    async def __call__(self, args: pulumi.ResourceHookArgs) -> str | None:
        """Returns the backup name it took, None when there was nothing to do."""
        old, new = _version(args.old_inputs), _version(args.new_inputs)
        if old is None or new is None or old == new or not self.enabled:
            return None
        deadline = self.clock() + self.timeout_seconds

        async def connect() -> BackupApi:
            made = self.api()
            return await made if inspect.isawaitable(made) else made

        api = await self._retrying(connect, deadline)
        name = backup_name(new, self.now())
        pulumi.log.info(f"pre-upgrade backup {self.namespace}/{name} ({old} -> {new})")
        body = self.manifest(name, old, new)
        await self._retrying(
            lambda: asyncio.to_thread(self._create, api, body), deadline, what="create"
        )
        phase: str | None = None
        while True:
            phase = await self._retrying(
                lambda: asyncio.to_thread(api.backup_phase, self.namespace, name), deadline
            )
            if phase == "Completed":
                return name
            if phase in FAILED_PHASES:
                raise PreUpgradeBackupError(
                    f"pre-upgrade backup {self.namespace}/{name} ended {phase}; the control "
                    f"plane stays at {old}. Inspect it with `velero backup describe {name} "
                    "--details`, fix the cause and run `pulumi up` again (or set "
                    "persistence.backups.preUpgradeBackup: false to upgrade without one)"
                )
            if self.clock() >= deadline:
                raise PreUpgradeBackupError(
                    f"pre-upgrade backup {self.namespace}/{name} not Completed after "
                    f"{self.timeout_seconds}s (phase {phase}); the control plane stays at {old}"
                )
            await self.sleep(self.poll_seconds)


def pre_upgrade_backup_hook(
    settings: PersistenceSettings,
    access: WorkloadAccess,
    *,
    api: Callable[[], BackupApi | Awaitable[BackupApi]] | None = None,
) -> pulumi.ResourceHook:
    """The `before_update` hook HAControlPlane binds on the KubeadmControlPlane.

    It depends on nothing the guarded update produces: when it runs it reads the
    workload kubeconfig from the management cluster's `<cluster>-kubeconfig` Secret.
    """
    b = settings.backups
    runner = PreUpgradeBackup(
        api or (lambda: asyncio.to_thread(workload_backup_api, access)),
        timeout_seconds=b.pre_upgrade_timeout_seconds,
        ttl=b.default_ttl,
        enabled=b.enabled and b.pre_upgrade_backup,
    )

    async def before_update(args: pulumi.ResourceHookArgs) -> None:
        await runner(args)

    return pulumi.ResourceHook("pre-upgrade-backup", before_update)


def pre_upgrade_backups(settings: PersistenceSettings) -> tuple[HookFactory, ...]:
    """What the composition root hands HAControlPlane: the pre-upgrade backup hook,
    made for the cluster the control plane describes."""
    return (lambda access: pre_upgrade_backup_hook(settings, access),)
