"""Resource identity is an interface: a URN that disappears from an existing stack makes
`pulumi up` delete what it named (and create its successor). Every URN a stack has ever
registered is kept in tests/snapshots/urn-history.json; each one must still be a resource,
be answered by an `aliases` entry of one, or be retired on purpose in
tests/snapshots/retired-urns.yaml with the reason and the change that retired it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "tests" / "snapshots" / "urn-history.json"
RETIRED = ROOT / "tests" / "snapshots" / "retired-urns.yaml"
# What a delete would lose for good: never retired, only moved with an alias.
STATEFUL = re.compile(
    r"(:Namespace|:PersistentVolumeClaim|:StatefulSet|:CustomResourceDefinition|"
    r"helm\.sh/v4:Chart|:KubeadmControlPlane|:Cluster|:Secret)::"
)


def urns_of(snapshot: dict[str, Any]) -> dict[str, set[str]]:
    return {stack: {r["urn"] for r in doc["resources"]} for stack, doc in snapshot.items()}


def aliases_of(snapshot: dict[str, Any]) -> dict[str, set[str]]:
    return {
        stack: {a for r in doc["resources"] for a in r.get("aliases", [])}
        for stack, doc in snapshot.items()
    }


def retired() -> list[dict[str, str]]:
    return list(yaml.safe_load(RETIRED.read_text()) or [])


def history() -> dict[str, list[str]]:
    return dict(json.loads(HISTORY.read_text())) if HISTORY.exists() else {}


def record(snapshot: dict[str, Any]) -> None:
    """Adds the snapshot's URNs to the history; nothing is ever removed."""
    past = history()
    for stack, urns in urns_of(snapshot).items():
        past[stack] = sorted(set(past.get(stack, [])) | urns)
    HISTORY.write_text(json.dumps(past, indent=1, sort_keys=True) + "\n")


def vanished(snapshot: dict[str, Any]) -> list[str]:
    """History URNs that no resource, alias or retirement accounts for."""
    now, aliases = urns_of(snapshot), aliases_of(snapshot)
    gone = {u for r in retired() for u in r["urns"]}
    return [
        urn
        for stack, urns in history().items()
        for urn in urns
        if urn not in now.get(stack, set()) | aliases.get(stack, set()) | gone
    ]


def stateful_retirements() -> list[str]:
    """Retired URNs that name something stateful: those must move with an alias instead."""
    return [u for r in retired() for u in r["urns"] if STATEFUL.search(u)]
