"""The Kyverno ClusterPolicy evaluator (tools/admission) against upstream expectations, not
its own code: kyverno.io/docs "Validate Rules: Patterns" (anchors, wildcards, operators) and
"Auto-Gen Rules for Pod Controllers" (a selector in match/exclude disables autogen). Pod
Security and ValidatingAdmissionPolicies are judged by the real API server instead
(tests/apiserver)."""

from __future__ import annotations

from typing import Any

from tools.admission.core import evaluate

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
