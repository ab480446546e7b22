"""The whole program, per stack: shape, wiring and stack outputs."""

from __future__ import annotations

from tools.offline import Evaluation

COMPONENTS = {
    "k8splatform:cluster:HAControlPlane",
    "k8splatform:security:SecurityBaseline",
    "k8splatform:persistence:PersistenceLayer",
    "k8splatform:observability:ObservabilityStack",
}


def test_both_stacks_build_the_four_components(stack: Evaluation) -> None:
    types = {r.type for r in stack.resources if r.type.startswith("k8splatform:")}
    assert types >= COMPONENTS


def test_every_resource_sits_under_a_component_or_is_a_provider(stack: Evaluation) -> None:
    stray = [
        f"{r.type}::{r.name}"
        for r in stack.resources
        if not r.type.startswith("k8splatform:")
        and not r.type.startswith("pulumi:providers:")
        and stack.component_of(r) is None
    ]
    assert stray == []


def test_components_are_children_of_the_stack_only(stack: Evaluation) -> None:
    for r in stack.resources:
        if r.type.startswith("k8splatform:"):
            assert r.parent.endswith(f"pulumi:pulumi:Stack::k8s-platform-{stack.stack}"), r.urn


def test_every_kubernetes_object_uses_the_cluster_provider_not_the_default(
    stack: Evaluation,
) -> None:
    providers = {p.urn for p in stack.resources if p.type == "pulumi:providers:kubernetes"}
    for r in stack.resources:
        if r.type.startswith("kubernetes:"):
            assert r.provider_urn in providers, f"{r.type}::{r.name} uses {r.provider!r}"
            assert "default_" not in r.provider


def test_the_kubernetes_provider_has_a_stable_cluster_identifier(stack: Evaluation) -> None:
    for p in stack.of_type("pulumi:providers:kubernetes"):
        assert p.inputs.get("clusterIdentifier"), p.name


def test_outputs_for_other_projects_are_exported(stack: Evaluation) -> None:
    expected = {
        "profile",
        "clusterName",
        "apiEndpoint",
        "kubeconfig",
        "breakGlassKubeconfig",
        "kubernetesVersion",
        "platformNamespaces",
        "tenantNamespaces",
        "defaultStorageClass",
    }
    assert expected <= set(stack.outputs)
    assert stack.outputs["profile"] == stack.stack
    assert stack.outputs["kubernetesVersion"].startswith("v1.")


def test_break_glass_kubeconfig_is_a_secret_and_holds_one_context(dev: Evaluation) -> None:
    assert "breakGlassKubeconfig" in dev.secret_outputs
    assert "current-context: kind-k8s-platform-dev" in dev.outputs["breakGlassKubeconfig"]
    assert "prod-admin" not in dev.outputs["breakGlassKubeconfig"]


def test_no_output_other_than_the_break_glass_kubeconfig_is_secret(stack: Evaluation) -> None:
    # Other projects read these without the passphrase; nothing sensitive may hide there.
    assert stack.secret_outputs <= {"breakGlassKubeconfig"}


def test_platform_namespaces_are_exported_by_name(dev: Evaluation) -> None:
    assert {"monitoring", "logging", "cert-manager"} <= set(dev.outputs["platformNamespaces"])
    assert dev.outputs["tenantNamespaces"] == {"demo": "demo", "peer": "peer"}
