"""The admission engine (tools/admission) against upstream expectations, not its own code.

Pod Security: the Kubernetes "Pod Security Standards" doc (restricted and baseline
tables): each bad pod breaks one listed control, the good pod sets exactly what the
restricted profile asks for. ValidatingAdmissionPolicy: the Kubernetes "Validating
Admission Policy" reference (validationActions, matchConditions, failurePolicy). Kyverno:
kyverno.io/docs "Validate Rules: Patterns" (anchors, wildcards, operators) and "Auto-Gen
Rules for Pod Controllers" (a selector in match/exclude disables autogen)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tools.admission import pss
from tools.admission.celenv import CelCompileError, Expression, rewrite_optional_select
from tools.admission.core import evaluate

RESTRICTED_NS = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "apps", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
}
BASELINE_NS = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "legacy", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}},
}
NAMESPACES = {"apps": RESTRICTED_NS, "legacy": BASELINE_NS}

# Restricted: runAsNonRoot=true, seccomp RuntimeDefault, allowPrivilegeEscalation=false,
# capabilities drop ALL, only restricted volume types.
GOOD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "good", "namespace": "apps"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "registry.example/app:1.4.2",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg"}}],
    },
}


def _pod(namespace: str = "apps", **changes: Any) -> dict[str, Any]:
    pod = copy.deepcopy(GOOD)
    pod["metadata"]["namespace"] = namespace
    for path, value in changes.items():
        node = pod
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return pod


def _container(**sc: Any) -> list[dict[str, Any]]:
    base = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return [
        {"name": "app", "image": "registry.example/app:1.4.2", "securityContext": {**base, **sc}}
    ]


def test_restricted_pod_is_admitted() -> None:
    assert evaluate([GOOD], NAMESPACES) == []


BAD_RESTRICTED = {
    "privileged": _pod(spec__containers=_container(privileged=True)),
    "hostPath volume": _pod(spec__volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
    "no runAsNonRoot": _pod(spec__securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
    "runAsUser 0": _pod(spec__containers=_container(runAsUser=0)),
    "privilege escalation allowed": _pod(
        spec__containers=_container(allowPrivilegeEscalation=True)
    ),
    "capabilities not dropped": _pod(
        spec__containers=[
            {"name": "app", "image": "a:1", "securityContext": {"allowPrivilegeEscalation": False}}
        ]
    ),
    "adds NET_ADMIN": _pod(
        spec__containers=_container(capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]})
    ),
    "seccomp unset": _pod(spec__securityContext={"runAsNonRoot": True}),
    "seccomp Unconfined": _pod(spec__containers=_container(seccompProfile={"type": "Unconfined"})),
    "hostNetwork": _pod(spec__hostNetwork=True),
    "hostPID": _pod(spec__hostPID=True),
    "hostPort": _pod(
        spec__containers=[{**_container()[0], "ports": [{"containerPort": 80, "hostPort": 80}]}]
    ),
    "nfs volume": _pod(spec__volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]),
    "unsafe sysctl": _pod(
        spec__securityContext={
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            "sysctls": [{"name": "kernel.msgmax", "value": "1"}],
        }
    ),
    "procMount Unmasked": _pod(spec__containers=_container(procMount="Unmasked")),
    "SELinux type spc_t": _pod(spec__containers=_container(seLinuxOptions={"type": "spc_t"})),
}


@pytest.mark.parametrize("case", sorted(BAD_RESTRICTED))
def test_restricted_namespace_denies(case: str) -> None:
    denials = evaluate([BAD_RESTRICTED[case]], NAMESPACES)
    assert [d.source for d in denials] == ["PodSecurity enforce=restricted"], denials


def test_baseline_allows_what_only_restricted_forbids() -> None:
    # No runAsNonRoot, no seccomp, no dropped capabilities: fine under baseline.
    pod = _pod(
        "legacy", spec__securityContext=None, spec__containers=[{"name": "app", "image": "a:1"}]
    )
    assert evaluate([pod], NAMESPACES) == []
    assert pss.check_pod(pod, "restricted")  # but not restricted


@pytest.mark.parametrize(
    "case", ["privileged", "hostPath volume", "hostNetwork", "hostPort", "adds NET_ADMIN"]
)
def test_baseline_namespace_denies_host_access(case: str) -> None:
    pod = copy.deepcopy(BAD_RESTRICTED[case])
    pod["metadata"]["namespace"] = "legacy"
    assert [d.source for d in evaluate([pod], NAMESPACES)] == ["PodSecurity enforce=baseline"]


def test_controller_is_checked_through_the_pod_it_creates() -> None:
    bad = BAD_RESTRICTED["privileged"]
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": bad["spec"]}},
    }
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "job", "namespace": "apps"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": bad["spec"]}}}},
    }
    denials = evaluate([deploy, cron], NAMESPACES)
    assert {(d.ref, d.via) for d in denials} == {
        ("Deployment/apps/web", "pod"),
        ("CronJob/apps/job", "pod"),
    }


def test_unlabelled_namespace_is_privileged() -> None:
    assert evaluate([_pod("other", spec__hostNetwork=True)], {}) == []


# ValidatingAdmissionPolicy, Kyverno ValidatingPolicy and ClusterPolicy

NS = {
    "t": {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "t", "labels": {"tenant": "yes"}},
    }
}


def _tenant_pod(image: str = "app:1.0", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "t"},
        "spec": {"containers": [{"name": "c", "image": image}], **spec},
    }


def _vap(expr: str, actions: list[str], **spec: Any) -> list[dict[str, Any]]:
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "validations": [{"expression": expr, "message": "nope"}],
            **spec,
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "p"},
        "spec": {"policyName": "p", "validationActions": actions},
    }
    return [policy, binding]


def test_vap_denies_with_deny_action_only() -> None:
    expr = "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
    assert [d.message for d in evaluate([*_vap(expr, ["Deny"]), _tenant_pod("a:latest")], NS)] == [
        "nope"
    ]
    assert evaluate([*_vap(expr, ["Warn", "Audit"]), _tenant_pod("a:latest")], NS) == []
    assert evaluate([*_vap(expr, ["Deny"]), _tenant_pod("a:1")], NS) == []


def test_vap_match_conditions_and_namespace_object() -> None:
    cond = {"name": "t", "expression": "namespaceObject.metadata.labels.tenant == 'no'"}
    objs = _vap("false", ["Deny"], matchConditions=[cond])
    assert evaluate([*objs, _tenant_pod()], NS) == []


def test_vap_runtime_error_applies_failure_policy() -> None:
    assert len(evaluate([*_vap("object.spec.missing == 1", ["Deny"]), _tenant_pod()], NS)) == 1
    assert (
        evaluate(
            [*_vap("object.spec.missing == 1", ["Deny"], failurePolicy="Ignore"), _tenant_pod()], NS
        )
        == []
    )


def test_optional_select_is_rewritten_for_the_engine() -> None:
    src = "object.spec.?securityContext.?runAsNonRoot.orValue(false)"
    assert (
        rewrite_optional_select(src)
        == "_optsel(_optsel(object.spec, 'securityContext'), 'runAsNonRoot').orValue(false)"
    )
    e = Expression(src)
    assert e.evaluate({"object": {"spec": {}}}) is False
    assert e.evaluate({"object": {"spec": {"securityContext": {"runAsNonRoot": True}}}}) is True
    assert Expression("'a.?b' == 'a.?b'").evaluate({}) is True  # strings are left alone


@pytest.mark.parametrize(
    "src", ["quantity('1Gi') > quantity('1Mi')", "x[?'k']", "x.?a.b == 1", "x +"]
)
def test_unsupported_or_broken_expressions_fail_loudly(src: str) -> None:
    with pytest.raises(CelCompileError):
        Expression(src)


def _cluster_policy(
    pattern: dict[str, Any], action: str = "Enforce", **match: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "cp"},
        "spec": {
            "rules": [
                {
                    "name": "r",
                    "match": {"any": [{"resources": {"kinds": ["Pod"], **match}}]},
                    "validate": {"failureAction": action, "message": "m", "pattern": pattern},
                }
            ]
        },
    }


LATEST = {
    "spec": {"containers": [{"image": "!*:latest"}], "=(initContainers)": [{"image": "!*:latest"}]}
}


def test_kyverno_pattern_negation_and_conditional_anchor() -> None:
    assert len(evaluate([_cluster_policy(LATEST), _tenant_pod("nginx:latest")], NS)) == 1
    assert evaluate([_cluster_policy(LATEST), _tenant_pod("nginx:1.27")], NS) == []
    init = _tenant_pod("nginx:1.27", initContainers=[{"name": "i", "image": "busybox:latest"}])
    assert len(evaluate([_cluster_policy(LATEST), init], NS)) == 1
    assert evaluate([_cluster_policy(LATEST, "Audit"), _tenant_pod("nginx:latest")], NS) == []


def test_kyverno_negation_anchor_and_numbers() -> None:
    no_host_path = {"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}}
    pod = _tenant_pod(volumes=[{"name": "h", "hostPath": {"path": "/"}}])
    assert len(evaluate([_cluster_policy(no_host_path), pod], NS)) == 1
    probes = {"spec": {"containers": [{"readinessProbe": {"periodSeconds": ">0"}}]}}
    ok = _tenant_pod()
    ok["spec"]["containers"][0]["readinessProbe"] = {"periodSeconds": 10}
    assert evaluate([_cluster_policy(probes), ok], NS) == []
    assert len(evaluate([_cluster_policy(probes), _tenant_pod()], NS)) == 1


def test_kyverno_autogen_covers_controllers_unless_a_selector_is_used() -> None:
    deploy: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "t"},
        "spec": {"template": {"spec": _tenant_pod("nginx:latest")["spec"]}},
    }
    denials = evaluate([_cluster_policy(LATEST), deploy], NS)
    assert [(d.ref, d.via) for d in denials] == [("Deployment/t/d", "")]
    # a selector disables autogen: the Deployment is admitted, its Pod is not
    with_selector = _cluster_policy(LATEST, selector={"matchLabels": {"x": "y"}})
    deploy["spec"]["template"]["metadata"] = {"labels": {"x": "y"}}
    deploy["metadata"]["labels"] = {"x": "y"}
    assert [(d.ref, d.via) for d in evaluate([with_selector, deploy], NS)] == [
        ("Deployment/t/d", "pod")
    ]


def test_kyverno_skips_its_own_and_system_namespaces() -> None:
    pod = _tenant_pod("nginx:latest")
    pod["metadata"]["namespace"] = "kyverno"
    assert evaluate([_cluster_policy(LATEST), pod], NS) == []


def _validating_policy(expr: str, **match: Any) -> dict[str, Any]:
    rule = {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["pods"],
    }
    return {
        "apiVersion": "policies.kyverno.io/v1beta1",
        "kind": "ValidatingPolicy",
        "metadata": {"name": "vp"},
        "spec": {
            "validationActions": ["Deny"],
            "matchConstraints": {"resourceRules": [rule], **match},
            "validations": [{"expression": expr, "message": "no root"}],
        },
    }


NON_ROOT = "object.spec.?securityContext.?runAsNonRoot.orValue(false) == true"


def test_kyverno_validating_policy_autogen_judges_the_controller() -> None:
    """kyverno.io/docs/policy-types/validating-policy/#auto-gen: a pods-only policy without
    selectors also applies to Deployments, on spec.template."""
    deploy: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "t"},
        "spec": {"template": {"spec": _tenant_pod()["spec"]}},
    }
    assert [d.ref for d in evaluate([_validating_policy(NON_ROOT), deploy], NS)] == [
        "Deployment/t/d"
    ]
    deploy["spec"]["template"]["spec"]["securityContext"] = {"runAsNonRoot": True}
    assert evaluate([_validating_policy(NON_ROOT), deploy], NS) == []
    selective = _validating_policy(NON_ROOT, objectSelector={"matchLabels": {"a": "b"}})
    deploy["spec"]["template"]["spec"].pop("securityContext")
    assert evaluate([selective, deploy], NS) == []  # no autogen; its Pod has no label a=b
