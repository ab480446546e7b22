"""The policy pack against the resources both stacks register (no CLI, no server).

Each rule gets a test that weakens prod in one way and expects a MANDATORY violation.
Where this branch renders no object of the rule's kind (workloads, Services, RBAC...),
the test adds a well-formed one, shows it passes, then weakens it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policy import rules
from policy.adapter import Violation, analyze, mandatory, pack_config, resource_args
from tools.offline import Evaluation, Resource

# Rules prod on THIS branch cannot satisfy yet, and which branch satisfies them.
AWAITING_MERGE: dict[str, str] = {}

Mutate = Callable[[dict[str, Any]], None]


def hardened_deployment(namespace: str = "monitoring", name: str = "web") -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True},
                    "containers": [
                        {
                            "name": name,
                            "image": "registry.k8s.io/pause:3.10",
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "16Mi"},
                                "limits": {"cpu": "10m", "memory": "16Mi"},
                            },
                        }
                    ],
                },
            },
        },
    }


def pdb(namespace: str = "monitoring", name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}},
    }


def synthetic(ev: Evaluation, type_: str, inputs: dict[str, Any], name: str) -> Resource:
    """A resource shaped like the ones the components register (parented, providered)."""
    template = ev.of_type("kubernetes:core/v1:Namespace")[0]
    return replace(
        template,
        type=type_,
        name=name,
        urn=template.urn.rsplit("::", 2)[0] + f"::{type_}::{name}",
        inputs=copy.deepcopy(inputs),
        dependencies=[],
    )


EXTRA: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "deployment": ("kubernetes:apps/v1:Deployment", hardened_deployment),
    "pdb": ("kubernetes:policy/v1:PodDisruptionBudget", pdb),
    "kcp": (
        "kubernetes:controlplane.cluster.x-k8s.io/v1beta2:KubeadmControlPlane",
        lambda: {"metadata": {"name": "prod", "namespace": "default"}, "spec": {"replicas": 3}},
    ),
    "service": (
        "kubernetes:core/v1:Service",
        lambda: {
            "metadata": {
                "name": "edge",
                "namespace": "gateway",
                "annotations": {rules.ALLOW_LB_ANNOTATION: "public ingress for the edge gateway"},
            },
            "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]},
        },
    ),
    "role": (
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        lambda: {
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
    ),
    "binding": (
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        lambda: {
            "metadata": {"name": "admins"},
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "Group", "name": "system:masters"}],
        },
    ),
    "storageclass": (
        "kubernetes:storage.k8s.io/v1:StorageClass",
        lambda: {
            "metadata": {"name": "gp3"},
            "provisioner": "ebs.csi.aws.com",
            "allowVolumeExpansion": True,
            "parameters": {"type": "gp3", "encrypted": "true"},
        },
    ),
    "schedule": (
        "kubernetes:velero.io/v1:Schedule",
        lambda: {"metadata": {"name": "daily", "namespace": "velero"}, "spec": {}},
    ),
}


def prod_with_extras(prod: Evaluation) -> list[Resource]:
    return prod.resources + [
        synthetic(prod, type_, build(), name) for name, (type_, build) in EXTRA.items()
    ]


def failing(violations: list[Violation]) -> set[str]:
    return {v.policy for v in mandatory(violations)}


def test_prod_has_no_mandatory_violation_beyond_pending_merges(prod: Evaluation) -> None:
    assert failing(analyze(prod)) <= set(AWAITING_MERGE)


def test_prod_with_well_formed_objects_of_every_kind_passes_every_rule(prod: Evaluation) -> None:
    assert mandatory(analyze(prod, resources=prod_with_extras(prod))) == []


def test_dev_violations_are_only_advisory(dev: Evaluation) -> None:
    assert mandatory(analyze(dev)) == []
    assert pack_config("dev") == {"all": "advisory"}


def test_prod_pack_config_keeps_every_rule_mandatory() -> None:
    config = pack_config("prod")
    assert config["all"] == "mandatory"
    assert all(not isinstance(v, str) or v == "mandatory" for v in config.values())


def _set(path: str, value: Any) -> Mutate:
    """Set (or with value=None delete) a dotted path; [n] indexes lists."""

    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        leaf = parts[-1]
        if leaf.startswith("["):
            node[int(leaf[1:-1])] = value
        elif value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value

    return mutate


POD = "spec.template.spec"
C0 = f"{POD}.containers[0]"

# (policy, resource to weaken: a synthetic EXTRA key or a registered resource name, mutation)
WEAKENINGS = [
    ("control-plane-replicas-odd-ha", "kcp", _set("spec.replicas", 2)),
    ("control-plane-replicas-odd-ha", "kcp", _set("spec.replicas", 1)),
    ("no-privileged-pods", "deployment", _set(f"{C0}.securityContext.privileged", True)),
    ("no-privileged-pods", "deployment", _set(f"{POD}.hostNetwork", True)),
    (
        "no-privileged-pods",
        "deployment",
        _set(f"{POD}.volumes", [{"name": "root", "hostPath": {"path": "/"}}]),
    ),
    ("containers-hardened", "deployment", _set(f"{C0}.securityContext", {})),
    ("containers-hardened", "deployment", _set(f"{POD}.securityContext", None)),
    ("images-pinned", "deployment", _set(f"{C0}.image", "nginx:latest")),
    ("images-pinned", "deployment", _set(f"{C0}.image", "nginx")),
    ("resources-set", "deployment", _set(f"{C0}.resources.limits", None)),
    ("resources-set", "deployment", _set(f"{C0}.resources", None)),
    ("no-unapproved-load-balancers", "service", _set("metadata.annotations", {})),
    ("helm-charts-pinned", "metrics-server", _set("version", "^3.13")),
    ("helm-charts-pinned", "metrics-server", _set("version", None)),
    ("no-wildcard-rbac", "role", _set("rules[0]", {"apiGroups": ["*"], "verbs": ["*"]})),
    (
        "no-cluster-admin-bindings",
        "binding",
        _set("subjects", [{"kind": "User", "name": "alice@example.com"}]),
    ),
    ("storage-classes-safe", "storageclass", _set("allowVolumeExpansion", False)),
    ("storage-classes-safe", "storageclass", _set("parameters.encrypted", "false")),
    ("namespaces-isolated", "payments", _set("metadata.labels", {})),
    ("namespaces-isolated", "payments-default-deny", _set("spec.policyTypes", ["Ingress"])),
    ("platform-workloads-ha", "deployment", _set("spec.replicas", 1)),
    ("platform-workloads-ha", "pdb", _set("spec.selector.matchLabels", {"app": "other"})),
    ("backups-scheduled", "schedule", _set("metadata.name", "daily")),  # see the test body
]


@pytest.mark.parametrize(
    ("policy", "target", "mutate"),
    WEAKENINGS,
    ids=[f"{p}-{t}-{i}" for i, (p, t, _) in enumerate(WEAKENINGS)],
)
def test_weakening_prod_is_a_mandatory_violation(
    prod: Evaluation, policy: str, target: str, mutate: Mutate
) -> None:
    resources = prod_with_extras(prod)
    if policy == "backups-scheduled":
        # Weakening = every schedule is gone: the Schedule objects and the chart's own.
        resources = [
            replace(r, inputs={**r.inputs, "values": {**r.inputs["values"], "schedules": {}}})
            if r.type == "kubernetes:helm.sh/v4:Chart" and "schedules" in r.inputs.get("values", {})
            else r
            for r in resources
            if r.name != target
        ]
    else:
        victim = next(r for r in resources if r.name == target)
        weakened = replace(victim, inputs=copy.deepcopy(victim.inputs))
        mutate(weakened.inputs)
        resources = [weakened if r is victim else r for r in resources]
    assert failing(analyze(prod, resources=resources)) == {policy}


def test_every_policy_has_a_weakening_test() -> None:
    assert {p.name for p in rules.ALL_POLICIES} == {p for p, _, _ in WEAKENINGS}


@pytest.mark.parametrize(
    ("config", "ok"),
    [
        ({}, False),
        ({"allowLoadBalancers": ["gateway/edge"]}, True),
    ],
)
def test_load_balancers_can_be_allow_listed_in_pack_config(
    prod: Evaluation, config: dict[str, Any], ok: bool
) -> None:
    svc = synthetic(prod, *_lb_without_annotation(), name="edge")
    found = analyze(
        prod, {"no-unapproved-load-balancers": config}, resources=[svc], policies=_only("no-unap")
    )
    assert (found == []) is ok


def _lb_without_annotation() -> tuple[str, dict[str, Any]]:
    type_, build = EXTRA["service"]
    inputs = build()
    inputs["metadata"]["annotations"] = {}
    return type_, inputs


def _only(prefix: str) -> list[Any]:
    return [p for p in rules.ALL_POLICIES if p.name.startswith(prefix)]


def test_exempt_namespaces_come_from_the_namespace_catalogue() -> None:
    from kernel.namespaces import PLATFORM_NAMESPACES

    catalogue = {ns.name for ns in PLATFORM_NAMESPACES if ns.policy_exempt}
    assert catalogue | {"kube-system"} == set(rules.EXEMPT_NAMESPACES)


def test_a_privileged_pod_in_an_exempt_namespace_is_allowed(prod: Evaluation) -> None:
    doc = hardened_deployment("node-exporter")
    _set(f"{POD}.hostPID", True)(doc)
    _set(f"{POD}.volumes", [{"name": "proc", "hostPath": {"path": "/proc"}}])(doc)
    dep = synthetic(prod, "kubernetes:apps/v1:DaemonSet", doc, "ne")
    assert analyze(prod, resources=[dep], policies=_only("no-privileged")) == []


def test_a_tenant_single_replica_deployment_is_not_a_platform_ha_violation(
    prod: Evaluation,
) -> None:
    doc = hardened_deployment("payments")
    doc["spec"]["replicas"] = 1
    dep = synthetic(prod, "kubernetes:apps/v1:Deployment", doc, "api")
    assert analyze(prod, resources=[dep], policies=_only("platform-workloads")) == []


def test_cronjob_pod_specs_are_checked_too() -> None:
    spec = hardened_deployment()["spec"]["template"]["spec"]
    spec["containers"][0]["image"] = "busybox"
    props = {"metadata": {"name": "j", "namespace": "velero"}, "spec": {}}
    props["spec"]["jobTemplate"] = {"spec": {"template": {"spec": spec}}}
    assert rules.pod_spec("CronJob", props) == spec
    assert rules.image_problem("busybox") and not rules.image_problem("busybox@sha256:ab")


def test_unknown_values_during_preview_surface_as_unknown_errors(prod: Evaluation) -> None:
    type_, build = EXTRA["service"]
    inputs = build()
    inputs["spec"]["type"] = UNKNOWN_STRING_VALUE
    args = resource_args(synthetic(prod, type_, inputs, "edge"))
    policy = next(p for p in rules.RESOURCE_POLICIES if p.name == "no-unapproved-load-balancers")
    assert isinstance(policy, ResourceValidationPolicy)
    with pytest.raises(UnknownValueError):
        rules.check_no_load_balancer(args, lambda message, urn=None: None)


def test_the_pack_default_level_is_mandatory() -> None:
    main = (rules.__file__ or "").replace("rules.py", "__main__.py")
    with open(main) as f:
        assert "enforcement_level=EnforcementLevel.MANDATORY" in f.read()
    assert EnforcementLevel.MANDATORY.value == "mandatory"
