"""Shared fixtures: each stack is evaluated once per test session under mocks."""

from __future__ import annotations

import pytest

from tests.aws_stub import satisfied_aws
from tools.offline import Evaluation, evaluate


@pytest.fixture(scope="session")
def dev() -> Evaluation:
    return evaluate("dev")


@pytest.fixture(scope="session")
def prod() -> Evaluation:
    # prod runs the CAPA preflight, here against an account where everything exists.
    with satisfied_aws() as account:
        evaluation = evaluate("prod")
    assert account.calls, "the prod stack's AWS preflight did not run"
    return evaluation


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, dev: Evaluation, prod: Evaluation) -> Evaluation:
    return dev if request.param == "dev" else prod
