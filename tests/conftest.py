"""Shared fixtures: each stack is evaluated once per test session under mocks."""

from __future__ import annotations

import pytest

from tests.aws_stub import SatisfiedAccount
from tools.fullrender import FullRender, full_render
from tools.offline import FIXTURE_KUBECONFIG, Evaluation, evaluate


@pytest.fixture(scope="session")
def dev() -> Evaluation:
    return evaluate("dev")


@pytest.fixture(scope="session")
def prod(aws_account: SatisfiedAccount) -> Evaluation:
    before = aws_account.calls
    evaluation = evaluate("prod")
    assert aws_account.calls > before, "the prod stack's AWS preflight did not run"
    return evaluation


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, dev: Evaluation, prod: Evaluation) -> Evaluation:
    return dev if request.param == "dev" else prod


@pytest.fixture(scope="session")
def staging_eval() -> Evaluation:
    return evaluate("staging")


@pytest.fixture(scope="session")
def exposed() -> Evaluation:
    """prod with Prometheus and Alertmanager published through the Gateway (basic auth)."""
    return evaluate("prod", {"edge.exposePrometheus": True, "edge.exposeAlertmanager": True})


@pytest.fixture(scope="session")
def full_dev(dev: Evaluation) -> FullRender:
    """dev as `pulumi up` applies it: our objects plus every chart's, rendered by Helm."""
    return full_render(dev)


@pytest.fixture(scope="session")
def full_prod(prod: Evaluation) -> FullRender:
    return full_render(prod)


@pytest.fixture(scope="session")
def full_staging(staging_eval: Evaluation) -> FullRender:
    return full_render(staging_eval)


@pytest.fixture(scope="session", params=["dev", "prod"])
def full(request: pytest.FixtureRequest, full_dev: FullRender, full_prod: FullRender) -> FullRender:
    return full_dev if request.param == "dev" else full_prod


@pytest.fixture
def fixture_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    """KUBECONFIG is the fixture kubeconfig (its kind, prod and management contexts)."""
    monkeypatch.setenv("KUBECONFIG", str(FIXTURE_KUBECONFIG))
