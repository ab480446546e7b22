"""Session-wide test setup shared by tests/ and policy/tests/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
