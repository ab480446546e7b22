"""A stack as the program left it before its resources moved: the state of the current
program, with every moved resource (and everything under it) back at the URN it had.

A move is a URN in tests/snapshots/urn-history.json that no current resource has and no
retirement accounts for, while a current resource has the same type and name under other
parents. The real engine then decides what `pulumi up` does to such a stack: with a correct
`aliases` entry it keeps the resource; without one it creates a new one and deletes the old."""

from __future__ import annotations

import json
from typing import Any

from tools import urn_history


def _parts(urn: str) -> tuple[str, str, str, str]:
    head, project, qtype, name = urn.split("::", 3)
    return head, project, qtype, name


def moves(stack: str, now: set[str]) -> dict[str, str]:
    """Current URN -> the URN it had before it moved."""
    gone = {u for r in urn_history.retired() for u in r["urns"]}
    by_leaf: dict[tuple[str, str], list[str]] = {}
    for urn in now:
        _, _, qtype, name = _parts(urn)
        by_leaf.setdefault((qtype.split("$")[-1], name), []).append(urn)
    out = {}
    for old in set(urn_history.history().get(stack, [])) - now - gone:
        _, _, qtype, name = _parts(old)
        found = by_leaf.get((qtype.split("$")[-1], name), [])
        if len(found) == 1:
            out[found[0]] = old
    return out


def _descendants(resources: list[dict[str, Any]], root: str) -> list[str]:
    children: dict[str, list[str]] = {}
    for r in resources:
        if r.get("parent"):
            children.setdefault(r["parent"], []).append(r["urn"])
    out, todo = [], [root]
    while todo:
        urn = todo.pop()
        out.append(urn)
        todo += children.get(urn, [])
    return out


def before_moves(export: dict[str, Any], stack: str) -> tuple[dict[str, Any], dict[str, str]]:
    """`pulumi stack export` of the current program -> the same state before the moves, and
    the moves found (current URN -> old URN)."""
    resources = export["deployment"]["resources"]
    found = moves(stack, {r["urn"] for r in resources})
    renamed: dict[str, str] = {}
    parents: dict[str, str] = {}
    for new, old in found.items():
        new_q, old_q = _parts(new)[2], _parts(old)[2]
        for urn in _descendants(resources, new):
            head, project, qtype, name = _parts(urn)
            renamed[urn] = f"{head}::{project}::{old_q}{qtype[len(new_q) :]}::{name}"
        # The old parent: the one resource whose qualified type is the old chain's head.
        old_parent_q = old_q.rsplit("$", 1)[0]
        (parent,) = [r["urn"] for r in resources if _parts(r["urn"])[2] == old_parent_q]
        parents[new] = parent
    text = json.dumps(export)
    for urn, old in renamed.items():
        text = text.replace(f'"{urn}"', f'"{old}"').replace(f'"{urn}::', f'"{old}::')
    state = json.loads(text)
    for r in state["deployment"]["resources"]:
        for new, parent in parents.items():
            if r["urn"] == renamed[new]:
                r["parent"] = parent
    return state, found
