"""`pulumi destroy` of a prod-profile stack is blocked by nothing the teardown runbook
does not release: every protected resource is named there in a `pulumi state unprotect`
command, and every retained one is listed under "What survives"."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

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


EXPORT: dict[str, Any] = {
    "version": 3,
    "deployment": {
        "resources": [
            {"urn": "urn:pulumi:prod::k8s-platform::pulumi:pulumi:Stack::k8s-platform-prod"},
            {
                "urn": "urn:pulumi:prod::k8s-platform::k8splatform:persistence:PersistenceLayer"
                "$kubernetes:storage.k8s.io/v1:StorageClass::gp3-encrypted-storageclass",
                "protect": True,
                "retainOnDelete": True,
            },
            {
                "urn": "urn:pulumi:prod::k8s-platform::random:index/randomPassword:"
                "RandomPassword::edge-basic-auth",
                "protect": False,
            },
        ]
    },
}


def run_stack_state(*args: str, export: Any) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "tools" / "stack_state.py"), *args]
    text = json.dumps(export)
    return subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)


def test_the_protect_check_lists_what_the_exported_state_still_protects() -> None:
    """`pulumi stack --show-urns` never shows `protect`; the exported deployment does."""
    export = copy.deepcopy(EXPORT)
    found = run_stack_state("protected", export=export)
    assert found.returncode == 1
    assert found.stdout.split() == [export["deployment"]["resources"][1]["urn"]]
    for r in export["deployment"]["resources"]:
        r.pop("protect", None)
    released = run_stack_state("protected", export=export)
    assert (released.returncode, released.stdout.strip()) == (0, "nothing is protected")


def test_the_protect_check_refuses_input_that_is_not_an_export() -> None:
    assert run_stack_state("protected", export={"urns": []}).returncode == 2


def test_a_resource_name_resolves_to_its_urn_for_replace() -> None:
    found = run_stack_state("urn", "edge-basic-auth", export=EXPORT)
    assert found.stdout.strip().endswith("RandomPassword::edge-basic-auth")
    assert run_stack_state("urn", "nothing", export=EXPORT).returncode == 1
