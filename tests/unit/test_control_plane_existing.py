"""HAControlPlane in `existing` mode: the provider targets the configured context."""

from __future__ import annotations

import pytest

from settings import SettingsError
from tools.offline import FIXTURE_KUBECONFIG, Evaluation, evaluate


def test_dev_uses_the_kind_context_of_the_default_kubeconfig(dev: Evaluation) -> None:
    provider = dev.one("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "kind-k8s-platform-dev"
    # The provider gets the file path kubectl would use, never the credentials themselves.
    assert provider.inputs.get("kubeconfig", str(FIXTURE_KUBECONFIG)) == str(FIXTURE_KUBECONFIG)
    assert dev.outputs["apiEndpoint"] == "https://127.0.0.1:6443"


def test_a_named_context_is_used_and_its_endpoint_exported() -> None:
    # dev refuses a non-local server unless acceptRisks names the key (test_safe_targets.py).
    named = evaluate("dev", {"cluster.context": "prod-admin", "acceptRisks": ["cluster.context"]})
    provider = named.one("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "prod-admin"
    assert named.outputs["apiEndpoint"] == "https://prod-api.example.com:6443"


def test_the_provider_identifier_is_the_cluster_name_not_the_kubeconfig(dev: Evaluation) -> None:
    again = evaluate("dev", {"cluster.kubeconfig": str(FIXTURE_KUBECONFIG)})
    first = dev.one("pulumi:providers:kubernetes").inputs["clusterIdentifier"]
    second = again.one("pulumi:providers:kubernetes").inputs["clusterIdentifier"]
    assert first == second == "dev"


def test_a_missing_kubeconfig_file_is_a_settings_error() -> None:
    with pytest.raises(
        SettingsError, match=r"cluster\.kubeconfig: got '/nope/config'; no kubeconfig"
    ):
        evaluate("dev", {"cluster.kubeconfig": "/nope/config"})


def test_an_unknown_context_is_a_settings_error_listing_the_known_ones() -> None:
    with pytest.raises(SettingsError, match=r"cluster\.context: got 'typo'.*prod-admin"):
        evaluate("dev", {"cluster.context": "typo"})
