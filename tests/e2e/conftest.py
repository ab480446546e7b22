"""The smoke suite runs only when given a kube context: `--kube-context` or E2E_KUBE_CONTEXT."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.e2e import pods
from tests.e2e.checks import tenant_namespaces
from tests.e2e.kube import Kubectl

SKIP_REASON = (
    "smoke suite needs a live cluster: pass --kube-context=<ctx> or set E2E_KUBE_CONTEXT "
    "(make e2e E2E_KUBE_CONTEXT=kind-k8s-platform-dev)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--kube-context", default=None, help="kube context of the smoke suite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--kube-context", None) or os.environ.get("E2E_KUBE_CONTEXT"):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "tests/e2e/" in item.nodeid:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kubectl(pytestconfig: pytest.Config) -> Kubectl:
    context = pytestconfig.getoption("--kube-context", None) or os.environ["E2E_KUBE_CONTEXT"]
    return Kubectl(context)


@pytest.fixture(scope="session")
def run_id() -> str:
    """Names every object this run creates, so that cleanup and log queries are exact."""
    return f"smoke-{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def tenants(kubectl: Kubectl) -> list[str]:
    names = tenant_namespaces(kubectl.items("namespaces", "-l", pods.TENANT_SELECTOR))
    assert names, "no tenant namespace (label k8s-platform/tenant): configure security.tenants"
    return names


@pytest.fixture(scope="session")
def tenant_pod(kubectl: Kubectl, tenants: list[str], run_id: str) -> Iterator[tuple[str, str]]:
    """A restricted pod in the first tenant that logs the run id: (namespace, name)."""
    namespace, name = tenants[0], f"{run_id}-probe"
    kubectl.create(pods.logger(name, namespace, run_id, run_id))
    try:
        kubectl.wait_ready(namespace, name)
        yield namespace, name
    finally:
        kubectl.delete("-n", namespace, "pod", name)
