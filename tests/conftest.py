"""Shared fixtures: each stack is evaluated once per test session under mocks."""

from __future__ import annotations

import pytest

from tests.aws_stub import SatisfiedAccount
from tools.offline import Evaluation, evaluate


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
def exposed() -> Evaluation:
    """prod with Prometheus and Alertmanager published through the Gateway (basic auth)."""
    return evaluate("prod", {"edge.exposePrometheus": True, "edge.exposeAlertmanager": True})
