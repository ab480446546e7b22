"""Settings: profile defaults, overrides, and one clear error for every bad key."""

from __future__ import annotations

from typing import Any

import pytest

from settings import Settings, SettingsError, load
from tests.helpers import problem_keys
from tools.offline import PlatformMocks, apply_overrides, evaluate, stack_config

# The fixture kubeconfig (tests/conftest.py): settings read it at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")


def settings(stack: str = "dev", **overrides: Any) -> Settings:
    raw = apply_overrides(
        stack_config(stack), {k.replace("__", "."): v for k, v in overrides.items()}
    )
    return load(raw, stack)


def test_dev_profile_defaults_fit_a_laptop() -> None:
    s = settings("dev")
    assert s.profile == "dev"
    assert s.cluster.mode == "existing"
    assert s.cluster.name == "dev"
    assert s.observability.metrics_server_replicas == 1
    assert s.persistence.storage.existing_class == "standard"


def test_prod_profile_defaults_are_ha() -> None:
    s = settings("prod")
    assert s.profile == "prod"
    assert s.observability.metrics_server_replicas == 2


def test_a_stack_file_override_wins_over_the_profile_default() -> None:
    s = settings("dev", observability__metricsServer__replicas=3)
    assert s.observability.metrics_server_replicas == 3


def test_the_cluster_name_defaults_to_the_stack_name() -> None:
    assert settings("dev").cluster.name == "dev"
    assert settings("dev", cluster__name="laptop").cluster.name == "laptop"


def test_the_kubernetes_minor_pins_pod_security_labels() -> None:
    assert settings("dev", cluster__kubernetesVersion="v1.33.4").cluster.kubernetes_minor == "v1.33"


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        ({"profile": "staging"}, "profile", "allowed: dev, prod"),
        ({"cluster.mode": "eks"}, "cluster.mode", "allowed: existing, capi"),
        ({"cluster.name": "Prod_1"}, "cluster.name", "DNS-1123"),
        ({"cluster.kubernetesVersion": "1.34"}, "cluster.kubernetesVersion", "such as v1.34.2"),
        ({"cluster.kubernetesVersion": "v1.20.1"}, "cluster.kubernetesVersion", "supported minors"),
        ({"cluster.kubernetesVersion": 134}, "cluster.kubernetesVersion", "expected a string"),
        ({"cluster.clusterName": "x"}, "cluster.clusterName", "unknown key"),
        ({"security.tenants": {"name": "x"}}, "security.tenants", "list of objects"),
        ({"security.tenants": [{"name": "kube-system"}]}, "security.tenants[0].name", "system"),
        ({"security.tenants": [{"name": "monitoring"}]}, "security.tenants[0].name", "platform"),
        (
            {"security.tenants": [{"name": "a"}, {"name": "a"}]},
            "security.tenants[1].name",
            "unique",
        ),
        ({"security.tenants": [{}]}, "security.tenants[0].name", "required"),
        (
            {"observability.metricsServer.replicas": "2"},
            "observability.metricsServer.replicas",
            "integer",
        ),
        (
            {"observability.metricsServer.replicas": True},
            "observability.metricsServer.replicas",
            "integer",
        ),
        (
            {"observability.metricsServer.replicas": 0},
            "observability.metricsServer.replicas",
            "range",
        ),
        ({"observability": "on"}, "observability", "mapping"),
        ({"obsrvability": {}}, "obsrvability", "did you mean 'observability'"),
        ({"acceptRisks": "all"}, "acceptRisks", "list of strings"),
        (
            {"acceptRisks": ["cluster.name"]},
            "acceptRisks[0]",
            "not a key with a prod safety minimum",
        ),
        ({"secrets": {"unused": "x"}}, "secrets.unused", "no setting refers"),
    ],
)
def test_a_bad_value_names_its_key_the_value_and_what_is_allowed(
    overrides: dict[str, Any], key: str, says: str
) -> None:
    with pytest.raises(SettingsError) as err:
        load(apply_overrides(stack_config("dev"), overrides), "dev")
    messages = [str(p) for p in err.value.problems if p.key == key]
    assert messages, f"no problem for {key}: {err.value}"
    assert says in messages[0]
    assert "Traceback" not in str(err.value)


def test_every_problem_is_reported_at_once() -> None:
    keys = problem_keys(
        "dev",
        {
            "cluster.mode": "eks",
            "cluster.nmae": "x",
            "observability.metricsServer.replicas": -1,
        },
    )
    assert keys == ["cluster.mode", "cluster.nmae", "observability.metricsServer.replicas"]


def test_prod_cannot_be_weakened_without_an_explicit_accept_risks_entry() -> None:
    assert problem_keys("prod", {"observability.metricsServer.replicas": 1}) == [
        "observability.metricsServer.replicas"
    ]
    accepted = settings(
        "prod",
        observability__metricsServer__replicas=1,
        acceptRisks=["observability.metricsServer.replicas"],
    )
    assert accepted.observability.metrics_server_replicas == 1


def test_dev_may_run_single_replicas() -> None:
    assert settings("dev", observability__metricsServer__replicas=1)


def test_an_invalid_stack_registers_no_resource_at_all() -> None:
    class Counting(PlatformMocks):
        calls = 0

        def new_resource(self, args):  # type: ignore[no-untyped-def]
            Counting.calls += 1
            return super().new_resource(args)

    with pytest.raises(SettingsError):
        evaluate("dev", {"cluster.mode": "eks"}, mocks=Counting())
    assert Counting.calls == 0


def test_the_error_is_a_pulumi_run_error_so_the_cli_prints_no_traceback() -> None:
    import pulumi

    assert issubclass(SettingsError, pulumi.RunError)
