"""`pulumi destroy` of a prod-profile stack is blocked by nothing the teardown runbook
does not release: every protected resource is named there in a `pulumi state unprotect`
command, and every retained one is listed under "What survives"."""

from __future__ import annotations

import pytest

from tools.offline import ROOT, Evaluation, evaluate

RUNBOOK = ROOT / "docs" / "runbooks" / "teardown.md"


@pytest.fixture(scope="module")
def staging() -> Evaluation:
    return evaluate("staging")


def _unprotect_commands(stack: str) -> list[str]:
    return [
        line.strip()
        for line in RUNBOOK.read_text().splitlines()
        if line.strip().startswith(f"pulumi state unprotect --stack {stack} ")
    ]


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_every_protected_resource_is_released_by_the_runbook(
    name: str, prod: Evaluation, staging: Evaluation
) -> None:
    ev = prod if name == "prod" else staging
    protected = [r.urn for r in ev.resources if r.protect]
    assert protected, f"{name}: no protected resource found; the walk saw nothing"
    commands = _unprotect_commands(name)
    for urn in protected:
        assert any(c.endswith(f"'{urn}'") for c in commands), f"runbook misses: {urn}"


def test_every_retained_resource_is_listed_as_surviving(prod: Evaluation) -> None:
    survives = RUNBOOK.read_text().split("## What survives", 1)[1]
    retained = [r for r in prod.resources if r.retain_on_delete]
    assert retained
    for r in retained:
        assert f"`{r.k8s_name or r.name}`" in survives, r.urn


def test_dev_has_nothing_protected(dev: Evaluation) -> None:
    assert [r.urn for r in dev.resources if r.protect] == []
