"""A stack deploys only where it says, and a silent mistake is a clear error instead:
the target is pinned, dev refuses a non-local cluster, a misspelled config namespace,
keys the chosen mode ignores, and a local state backend for prod are all refused."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml

from components.control_plane.settings import is_local_server
from kernel import backend
from settings import SettingsError, load
from tests.helpers import problems
from tools.offline import FIXTURE_KUBECONFIG, apply_overrides, evaluate, stack_config

# The fixture kubeconfig (tests/conftest.py): settings read it at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")


@pytest.fixture
def prod_selected(tmp_path: Path) -> Path:
    """The fixture kubeconfig with a production context selected, as on an SRE's laptop."""
    doc = yaml.safe_load(FIXTURE_KUBECONFIG.read_text())
    doc["current-context"] = "prod-admin"
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_dev_deploys_to_the_kind_context_not_to_the_current_one(
    prod_selected: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(prod_selected))
    cfg = load(stack_config("dev"), "dev")
    assert cfg.cluster.existing is not None
    assert cfg.cluster.existing.context == "kind-k8s-platform-dev"
    assert cfg.cluster.existing.server == "https://127.0.0.1:6443"


def test_dev_refuses_a_cluster_that_is_not_local() -> None:
    found = problems("dev", {"cluster.context": "prod-admin"})
    assert "cluster.context" in found
    message = found["cluster.context"]
    assert "got 'prod-admin'" in message
    assert "https://prod-api.example.com:6443" in message
    assert "add 'cluster.context' to acceptRisks" in message


def test_dev_may_target_a_remote_cluster_when_accept_risks_names_it() -> None:
    raw = apply_overrides(
        stack_config("dev"), {"cluster.context": "prod-admin", "acceptRisks": ["cluster.context"]}
    )
    cfg = load(raw, "dev")
    assert cfg.cluster.existing is not None
    assert cfg.cluster.existing.server == "https://prod-api.example.com:6443"


def test_existing_mode_with_the_prod_profile_needs_a_context() -> None:
    found = problems("prod", {"cluster.mode": "existing", "cluster.capi": None})
    assert "this key is required" in found["cluster.context"]


def test_a_misspelled_project_namespace_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(SettingsError) as err:
        evaluate("dev", extra_config={"k8s-platfrom:profile": "prod"})
    (problem,) = err.value.problems
    assert problem.key == "k8s-platfrom:profile"
    assert "did you mean 'k8s-platform:profile'?" in str(problem)


def test_provider_namespaces_are_allowed() -> None:
    ev = evaluate("dev", extra_config={"kubernetes:enableServerSideApply": "true"})
    assert ev.outputs["profile"] == "dev"


def test_capi_settings_in_existing_mode_are_an_error_not_ignored() -> None:
    found = problems("dev", {"cluster.capi": {"controlPlane": {"replicas": 3}}})
    assert "capi mode only" in found["cluster.capi"]


def test_the_other_infrastructures_settings_are_an_error_in_capi_mode() -> None:
    found = problems("prod", {"cluster.capi.docker": {"failureDomains": ["a", "b", "c"]}})
    assert "docker only; cluster.capi.infrastructure is aws" in found["cluster.capi.docker"]


def test_prod_refuses_a_local_file_state_backend() -> None:
    found = problems("prod", {}, backend="file:///home/me/.pulumi-state")
    assert "add 'stateBackend' to acceptRisks" in found["stateBackend"]
    load(
        apply_overrides(stack_config("prod"), {"acceptRisks": ["stateBackend"]}),
        "prod",
        backend="file://~",
    )
    load(stack_config("prod"), "prod", backend="https://api.pulumi.com")
    load(stack_config("dev"), "dev", backend="file:///home/me/.pulumi-state")


def test_the_program_reads_the_backend_the_cli_uses() -> None:
    with pytest.raises(SettingsError, match="stateBackend"):
        evaluate("prod", env={"PULUMI_BACKEND_URL": "file:///tmp/state"})


def test_the_backend_is_the_env_variable_else_the_login_in_credentials_json(
    tmp_path: Path,
) -> None:
    assert backend.current_url({"PULUMI_BACKEND_URL": "s3://state"}, tmp_path) == "s3://state"
    assert backend.current_url({}, tmp_path) is None
    (tmp_path / ".pulumi").mkdir()
    (tmp_path / ".pulumi" / "credentials.json").write_text(
        json.dumps({"current": "file://~", "accounts": {}})
    )
    assert backend.current_url({}, tmp_path) == "file://~"
    assert backend.is_local("file://~") and not backend.is_local("https://api.pulumi.com")


def test_preview_and_up_log_the_target_server(monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda msg, *a, **k: logged.append(msg))
    evaluate("dev")
    assert any(
        "kube context kind-k8s-platform-dev (server https://127.0.0.1:6443)" in m for m in logged
    ), logged


def test_dev_refuses_a_kind_named_context_whose_server_is_a_cloud_api(tmp_path: Path) -> None:
    """The name says nothing; the server's address does (kind serves on loopback)."""
    doc = yaml.safe_load(FIXTURE_KUBECONFIG.read_text())
    eks = "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com"
    doc["clusters"].append({"name": "eks", "cluster": {"server": eks}})
    doc["contexts"].append(
        {"name": "kind-eks", "context": {"cluster": "eks", "user": "prod-admin"}}
    )
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    found = problems("dev", {"cluster.context": "kind-eks", "cluster.kubeconfig": str(path)})
    assert f"(server {eks} is neither)" in found["cluster.context"]


@pytest.mark.parametrize(
    ("server", "local"),
    [
        ("https://127.0.0.1:41873", True),
        ("https://127.0.1.1:6443", True),
        ("https://[::1]:6443", True),
        ("https://localhost:6443", True),
        ("https://k8s-platform-dev-control-plane:6443", True),  # kind get kubeconfig --internal
        ("https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com", False),
        ("https://10.0.0.5:6443", False),
        ("", False),
    ],
)
def test_a_cluster_is_local_by_its_server_address(server: str, local: bool) -> None:
    assert is_local_server(server) is local
