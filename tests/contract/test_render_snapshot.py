"""What the program registers changes only on purpose: both stacks' full render is
recorded in tests/snapshots/render.json (`make snapshot` records it again)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import render, urn_history
from tools.offline import ROOT

SNAPSHOT = ROOT / "tests" / "snapshots" / "render.json"


@pytest.fixture(scope="module")
def current() -> str:
    return render.snapshot()


def test_the_render_of_both_stacks_matches_the_recorded_snapshot(current: str) -> None:
    diff = render.snapshot_diff(SNAPSHOT, current)
    assert not diff, f"render changed; if intended, run `make snapshot`:\n{diff[:20000]}"


def test_the_snapshot_holds_every_resource_with_its_options_and_the_outputs(current: str) -> None:
    doc = json.loads(current)
    assert set(doc) == {"dev", "prod"}
    for stack in doc.values():
        assert len(stack["resources"]) > 100
        assert {
            "type",
            "name",
            "parent",
            "provider",
            "protect",
            "retainOnDelete",
            "deletedWith",
            "deleteTimeout",
            "ignoreChanges",
            "dependencies",
            "inputs",
        } <= set(stack["resources"][0])
        assert "clusterName" in stack["outputs"]
    assert any(r["protect"] for r in doc["prod"]["resources"])
    assert str(ROOT) not in current, "the snapshot must not name the checkout's path"


def test_a_changed_render_fails_the_check_with_a_readable_diff(
    current: str, tmp_path: Path
) -> None:
    tampered = tmp_path / "render.json"
    tampered.write_text(current.replace('"protect": true', '"protect": false', 1))
    diff = render.snapshot_diff(tampered, current)
    lines = diff.splitlines()
    assert lines[0] == f"--- {tampered} (recorded)"
    assert any(line.startswith("-") and '"protect": false' in line for line in lines)
    assert any(line.startswith("+") and '"protect": true' in line for line in lines)


def test_no_urn_a_stack_ever_had_vanishes_without_an_alias_or_a_retirement(current: str) -> None:
    gone = urn_history.vanished(json.loads(current))
    assert not gone, (
        f"{len(gone)} URNs of existing stacks vanished: `pulumi up` would delete what they "
        "name. Add `aliases` where a resource moved, or retire a stateless one in "
        f"tests/snapshots/retired-urns.yaml with the reason: {gone[:5]}"
    )


def test_every_current_urn_is_in_the_history(current: str) -> None:
    history = urn_history.history()
    for stack, urns in urn_history.urns_of(json.loads(current)).items():
        missing = urns - set(history.get(stack, []))
        assert not missing, f"{stack}: run `make snapshot` to record {sorted(missing)[:3]}"


def test_nothing_stateful_is_ever_retired() -> None:
    assert urn_history.retired(), "the retirement record is empty"
    assert not urn_history.stateful_retirements()


def test_a_reparented_resource_without_an_alias_is_caught(current: str) -> None:
    doc = json.loads(current)
    for r in doc["dev"]["resources"]:
        if r["name"] == "prometheus-operator-crds":
            r["aliases"] = []
    assert any("prometheus-operator-crds" in u for u in urn_history.vanished(doc))
