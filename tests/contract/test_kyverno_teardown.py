"""Kyverno's run-time webhook configurations are deleted by Kyverno itself when `pulumi
destroy` deletes its controllers: the chart's pre-delete Job is a Helm hook that Chart v4
never runs, so each webhook-owning controller runs with `--autoDeleteWebhooks` and holds the
permissions that mode uses (kyverno pkg/controllers/webhook/cleanup.go: WebhookCleanupSetup
at start, WebhookCleanupHandler after the webhooks are gone). Names are read from each
Deployment's env, as Kyverno's pkg/config reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from tools.fullrender import FullRender, Rendered
from tools.offline import ROOT

RBAC = "rbac.authorization.k8s.io"
CONTROLLERS = ("kyverno-admission-controller", "kyverno-cleanup-controller")
RUNBOOK = ROOT / "docs" / "runbooks" / "teardown.md"


def _grants(
    rules: Iterable[dict[str, Any]], verb: str, group: str, resource: str, name: str
) -> bool:
    return any(
        verb in r.get("verbs", [])
        and group in r.get("apiGroups", [])
        and resource in r.get("resources", [])
        and (not r.get("resourceNames") or name in r["resourceNames"])
        for r in rules
    )


def _cluster_role_rules(full: FullRender, name: str) -> list[dict[str, Any]]:
    """The rules of a ClusterRole, aggregated ones resolved as the controller manager does."""
    roles = {r.name: r.doc for r in full.of_kind("ClusterRole")}
    role = roles.get(name)
    if role is None:  # a built-in role (view, edit): not the controller's own
        return []
    rules = list(role.get("rules") or [])
    for sel in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        want = sel.get("matchLabels") or {}
        for other in roles.values():
            labels = (other.get("metadata") or {}).get("labels") or {}
            if other is not role and all(labels.get(k) == v for k, v in want.items()):
                rules += other.get("rules") or []
    return rules


def _subject_rules(full: FullRender, namespace: str, sa: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    roles = {(r.namespace, r.name): r.doc.get("rules") or [] for r in full.of_kind("Role")}
    for b in full.of_kind("RoleBinding", "ClusterRoleBinding"):
        if not any(
            s.get("kind") == "ServiceAccount"
            and s.get("name") == sa
            and (s.get("namespace") or b.namespace) == namespace
            for s in b.doc.get("subjects") or []
        ):
            continue
        ref = b.doc["roleRef"]
        if ref["kind"] == "ClusterRole":
            rules += _cluster_role_rules(full, ref["name"])
        else:
            rules += roles.get((b.namespace, ref["name"]), [])
    return rules


def _controller(full: FullRender, name: str) -> tuple[Rendered, dict[str, Any], dict[str, str]]:
    dep = next(
        (d for d in full.from_chart("kyverno") if d.kind == "Deployment" and d.name == name), None
    )
    assert dep is not None, f"{full.stack}: the kyverno chart renders no Deployment {name}"
    spec = dep.doc["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
    return dep, container, env


@pytest.mark.parametrize("name", CONTROLLERS)
def test_kyverno_deletes_its_own_webhooks_on_destroy(full: FullRender, name: str) -> None:
    dep, container, env = _controller(full, name)
    assert "--autoDeleteWebhooks=true" in container.get("args", []), (
        f"{full.stack}: {dep.ref} leaves its webhook configurations behind after destroy"
    )
    assert not [
        h.ref
        for h in full.hooks
        if h.source == "kyverno"
        and "delete" in str(h.doc["metadata"].get("annotations", {}).get("helm.sh/hook", ""))
    ], "a pre-delete hook is rendered; Chart v4 would never run it"

    # Foreground deletion would stop the pods before they could clean up.
    policy = (dep.doc["metadata"].get("annotations") or {}).get(
        "pulumi.com/deletionPropagationPolicy"
    )
    assert policy == "background", f"{full.stack}: {dep.ref} is deleted in the foreground"
    ns, sa, role = str(dep.namespace), env["KYVERNO_SERVICEACCOUNT_NAME"], env["KYVERNO_ROLE_NAME"]
    assert env.get("KYVERNO_DEPLOYMENT") == dep.name
    held = _subject_rules(full, ns, sa)
    setup = [
        ("create", RBAC, "clusterrolebindings", f"{role}:core"),
        ("create", RBAC, "roles", f"{role}:temporary"),
        ("create", RBAC, "rolebindings", f"{role}:temporary"),
        ("get", "", "serviceaccounts", sa),
        # The temporary Role it creates: the escalation check wants every rule held.
        ("delete", "", "serviceaccounts", sa),
    ]
    missing = [g for g in setup if not _grants(held, *g)]
    assert not missing, f"{full.stack}: {sa} cannot set up webhook clean-up: {missing}"

    # During destroy the chart's own bindings go in parallel; what is left is the temporary
    # binding to `:core` and the temporary Role, so the finalizer updates must come from
    # `:core` (the Role grants the same names on its own).
    core = _cluster_role_rules(full, f"{role}:core")
    finalizers = [
        ("update", RBAC, "clusterroles", f"{role}:core"),
        ("update", RBAC, "roles", role),
        ("update", RBAC, "rolebindings", role),
        ("update", "apps", "deployments", dep.name),
        ("update", "", "serviceaccounts", sa),
    ]
    missing = [g for g in finalizers if not _grants(core, *g)]
    assert not missing, f"{full.stack}: {role}:core cannot release its finalizers: {missing}"


def test_teardown_runbook_says_how_the_webhooks_are_checked() -> None:
    text = RUNBOOK.read_text()
    assert "autoDeleteWebhooks" in text
    assert "webhook.kyverno.io/managed-by=kyverno" in text
