"""Session-wide test setup shared by tests/ and policy/tests/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.control_plane import server_version
from kernel import compat
from tests.aws_stub import SatisfiedAccount, satisfied_aws

# Fixtures of the real-binary Job tests (etcd, S3 on loopback, the rendered pods).
pytest_plugins = ["tests.realjobs.fixtures"]


@pytest.fixture(scope="session", autouse=True)
def aws_account() -> Iterator[SatisfiedAccount]:
    """prod runs the CAPA preflight: every evaluation in the session meets an in-memory
    account where all prerequisites exist, so no test can reach AWS. The preflight's
    real boto3 calls are tested against moto in test_preflight_capa.py."""
    with satisfied_aws() as account:
        yield account


@pytest.fixture(scope="session", autouse=True)
def as_of_review() -> Iterator[None]:
    """End-of-life checks judge "today" as the matrix's review date, so the suite gives the
    same answer on every day; the program itself uses the real date."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compat, "today", lambda: compat.load().reviewed)
        yield


@pytest.fixture(scope="session", autouse=True)
def live_api_server() -> Iterator[None]:
    """existing mode reads the API server's version at preview: every evaluation meets a
    server running the default version (tests of the check stub other answers)."""
    default = compat.load().default_version
    answer = {"major": "1", "minor": str(compat.minor_of(default)), "gitVersion": default}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(server_version, "reader", lambda _e: answer)
        yield
