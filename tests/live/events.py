"""What the engine's events say about a `pulumi up`: `--json` with `--skip-preview` streams
them, one JSON document a line (apitype.EngineEvent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def _group_kind(type_token: str) -> tuple[str, str]:
    # kubernetes:<group>/<version>:<Kind>; the core group is spelled `core`.
    _, api, kind = type_token.split(":", 2)
    return api.rpartition("/")[0], kind


def _crd_served(step: dict[str, Any]) -> tuple[str, str]:
    spec = ((step.get("new") or {}).get("inputs") or {}).get("spec") or {}
    return spec.get("group", ""), (spec.get("names") or {}).get("kind", "")


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def summary(path: Path) -> dict[str, int]:
    """The closing summary's count of resources per operation (create, same, delete...)."""
    event = next(e["summaryEvent"] for e in reversed(_events(path)) if "summaryEvent" in e)
    return dict(event["resourceChanges"])


def early_custom_resources(path: Path) -> tuple[int, list[str]]:
    """(custom resources created whose CRD the same run created, those among them whose
    create started before their CRD's create had finished)."""
    events = _events(path)
    crd_ready: dict[tuple[str, str], int] = {}
    started: list[tuple[tuple[str, str], str, int]] = []
    for e in events:
        if (done := e.get("resOutputsEvent")) and done["metadata"]["type"] == CRD:
            crd_ready.setdefault(_crd_served(done["metadata"]), e["sequence"])
        pre = (e.get("resourcePreEvent") or {}).get("metadata") or {}
        if pre.get("op") == "create" and pre["type"].startswith("kubernetes:"):
            started.append((_group_kind(pre["type"]), pre["urn"], e["sequence"]))
    ours = [(gk, urn, seq) for gk, urn, seq in started if gk in crd_ready]
    return len(ours), [urn for gk, urn, seq in ours if seq < crd_ready[gk]]
