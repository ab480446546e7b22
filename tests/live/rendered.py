"""What `make render` says a stack creates: every object of build/rendered/<stack>,
ours and the charts' (hooks excluded: Chart v4 never applies them)."""

from __future__ import annotations

import yaml

from tests.live.engines import ROOT

Key = tuple[str, str, str | None, str]  # apiVersion group, kind, namespace, name


def rendered_objects(stack: str) -> set[Key]:
    folder = ROOT / "build" / "rendered" / stack
    keys: set[Key] = set()
    for sub in ("k8s", "crs", "charts"):
        for f in sorted((folder / sub).rglob("*.yaml")):
            if "hooks" in f.parts:
                continue
            for doc in yaml.safe_load_all(f.read_text()):
                if doc and "kind" in doc and doc["kind"] != "List":
                    meta = doc.get("metadata") or {}
                    group = str(doc["apiVersion"]).rpartition("/")[0]
                    keys.add((group, doc["kind"], meta.get("namespace"), meta["name"]))
    if not keys:
        raise AssertionError(f"nothing rendered in {folder}: run `make render` first")
    return keys
