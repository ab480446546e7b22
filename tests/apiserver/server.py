"""A stack's render sent to a real kube-apiserver: what later objects need is created for
real (namespaces with their Pod Security labels, CRDs, RBAC, the admission policies), every
other object goes through server-side apply with `--dry-run=server`, so the API server's
whole chain judges it (schema and strict field validation, CRD openAPI schemas, Pod
Security admission, ValidatingAdmissionPolicies) and nothing is stored."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.apiserver.render import Obj, StackRender, crds_needed, kyverno_policies_as_vaps, ref
from tests.live.cluster import Cluster
from tests.live.kube import get, kubectl

BATCH = 150
# Created for real, in this order: what later objects are judged against or refer to.
NAMESPACES = ("Namespace",)
POLICIES = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
# The ServiceAccount admission plugin refuses a Pod whose account does not exist, the
# Priority plugin one whose class does not; RBAC lets the tenant tests impersonate.
SUPPORT = (
    "PriorityClass",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "LimitRange",
)
# Custom resources the tests send (tenant monitors, a refused AlertmanagerConfig).
EXTRA = {
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("monitoring.coreos.com", "AlertmanagerConfig"),
}
REAL = (*NAMESPACES, *POLICIES, *SUPPORT, "CustomResourceDefinition")


_JUDGED_CRDS: set[str] = set()  # across the session's stacks


@dataclass(frozen=True)
class Refusal:
    ref: str
    message: str

    def __str__(self) -> str:
        return f"{self.ref}: {' '.join(self.message.split())}"


@dataclass
class Judged:
    """What the API server said about one stack's render."""

    stack: str
    cluster: Cluster
    render: StackRender
    refused: list[Refusal] = field(default_factory=list)
    applied: int = 0  # objects sent (created for real or dry-run)
    crds: set[str] = field(default_factory=set)  # CRDs created for real
    seconds: float = 0.0

    def dry_run(self, *objs: Obj, user: tuple[str, ...] = (), verb: str = "apply") -> list[str]:
        """Each object's refusal message ("" when admitted), one kubectl call per object."""
        return [_one(self.cluster.kubeconfig, o, user, verb) for o in objs]


def _args(verb: str, dry_run: bool) -> list[str]:
    if verb == "create":
        base = ["create", "--validate=strict"]
    elif verb == "delete":
        base = ["delete"]
    else:
        base = [
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=pulumi-kubernetes",
            "--validate=strict",
        ]
    return [*base, *(["--dry-run=server"] if dry_run else []), "-f", "-"]


def _one(kubeconfig: Path, obj: Obj, user: tuple[str, ...], verb: str, dry: bool = True) -> str:
    done = kubectl(kubeconfig, *user, *_args(verb, dry), stdin=json.dumps(obj), check=False)
    return "" if done.returncode == 0 else (done.stderr or done.stdout).strip()


def send(judged: Judged, objs: list[Obj], *, dry_run: bool, verb: str = "apply") -> list[Refusal]:
    """Objects in batches; a batch the server refuses is sent again one object at a time,
    so every refusal names its object and carries the server's own message."""
    kc = judged.cluster.kubeconfig
    out: list[Refusal] = []
    for i in range(0, len(objs), BATCH):
        batch = objs[i : i + BATCH]
        judged.applied += len(batch)
        done = kubectl(kc, *_args(verb, dry_run), stdin=yaml.safe_dump_all(batch), check=False)
        if done.returncode == 0:
            continue
        found = [(o, _one(kc, o, (), verb, dry_run)) for o in batch]
        refused = [Refusal(ref(o), msg) for o, msg in found if msg]
        out += refused or [Refusal(f"batch of {len(batch)}", done.stderr)]
    return out


def wait_refused(judged: Judged, probe: Obj, needle: str, timeout: float = 30) -> None:
    """Until the server refuses `probe` naming `needle`: admission policies take effect once
    the API server's informers have seen them, a moment after they are created."""
    deadline = time.monotonic() + timeout
    msg = ""
    while time.monotonic() < deadline:
        (msg,) = judged.dry_run(probe, verb="create")
        if needle in msg:
            return
        time.sleep(0.3)
    raise AssertionError(f"{needle} not in force after {timeout}s: {ref(probe)} -> {msg!r}")


def _default_accounts(render: StackRender) -> list[Obj]:
    """The `default` ServiceAccount of every namespace (the controller-manager makes them)."""
    names = {"default", "kube-system"} | render.names("Namespace")
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": n},
        }
        for n in sorted(names)
    ]


def established(judged: Judged) -> None:
    """Every CRD created so far serves its kinds; `judged.crds` names them."""
    kc = judged.cluster.kubeconfig
    kubectl(kc, "wait", "--for=condition=Established", "crd", "--all", "--timeout=120s")
    judged.crds = {c["metadata"]["name"] for c in get(kc, "crd")["items"]}


def _unneeded_crds(render: StackRender, needed: list[Obj]) -> list[Obj]:
    """The CRDs no custom resource needs, each judged once per session: the same CRD under
    the same guards gets the same verdict in every stack."""
    guards = json.dumps(render.of_kind(*POLICIES), sort_keys=True)
    out = []
    for crd in render.of_kind("CustomResourceDefinition"):
        key = json.dumps(crd, sort_keys=True) + guards
        if crd not in needed and key not in _JUDGED_CRDS:
            _JUDGED_CRDS.add(key)
            out.append(crd)
    return out


def judge(cluster: Cluster, render: StackRender, crds_dir: Path, probes: dict[str, Any]) -> Judged:
    """The whole render through the API server, in the order a first `pulumi up` needs."""
    started = time.monotonic()
    judged = Judged(render.stack, cluster, render)

    def real(objs: list[Obj]) -> None:
        judged.refused.extend(send(judged, objs, dry_run=False))

    real(render.of_kind(*NAMESPACES) + _default_accounts(render))
    # CRDs the render does not bring are installed before the guards, as another tool would.
    real(crds_needed(render, crds_dir))
    real(render.of_kind(*POLICIES) + kyverno_policies_as_vaps(render))
    for needle, probe in probes.items():
        wait_refused(judged, probe, needle)
    # A CRD costs the API server most of a second to judge (its CEL rules compiled): only
    # those the custom resources need are created.
    used = {(str(o["apiVersion"]).rpartition("/")[0], o["kind"]) for o in render.objects} | EXTRA
    needed = [
        c
        for c in render.of_kind("CustomResourceDefinition")
        if (c["spec"]["group"], c["spec"]["names"]["kind"]) in used
    ]
    real(needed)
    established(judged)
    real(render.of_kind(*SUPPORT))
    rest = [o for o in render.objects if o["kind"] not in REAL] + _unneeded_crds(render, needed)
    judged.refused += send(judged, rest, dry_run=True)
    judged.seconds = time.monotonic() - started
    return judged
