"""Validate rendered custom resources against their CRDs' openAPIV3Schema.

    python tools/validate_crs.py --crds DIR FILE_OR_DIR...

For each custom resource: its apiVersion/kind must be defined by a CRD in DIR, that
version must be served, the object must satisfy the version's schema (jsonschema,
Draft 7, after the OpenAPI -> JSON Schema tweaks below) and may not carry fields the
schema does not declare (CRDs rarely say additionalProperties: false). CEL rules
(x-kubernetes-validations) and admission webhooks are not evaluated.
A missing CRD directory is an error, not a skip.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class CrdLoader(yaml.SafeLoader):
    """A bare `=` enum item parses as tag:yaml.org,2002:value; read it as a string."""


CrdLoader.add_constructor(
    "tag:yaml.org,2002:value",
    CrdLoader.construct_yaml_str,  # type: ignore[type-var]
)

Key = tuple[str, str]


def load_crds(directory: Path) -> dict[Key, tuple[dict[str, Any], bool]]:
    out: dict[Key, tuple[dict[str, Any], bool]] = {}
    for file in sorted(directory.glob("*.y*ml")):
        for crd in yaml.load_all(file.read_text(), Loader=CrdLoader):
            if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for v in crd["spec"]["versions"]:
                schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
                out[(f"{group}/{v['name']}", kind)] = (schema, bool(v.get("served", False)))
    return out


def clean(s: Any) -> Any:
    """OpenAPI v3 -> JSON Schema: drop CEL, honour int-or-string and nullable."""
    if isinstance(s, dict):
        s = {k: clean(v) for k, v in s.items() if k != "x-kubernetes-validations"}
        if s.get("x-kubernetes-int-or-string"):
            s.pop("type", None)
            s.pop("anyOf", None)
        if s.get("nullable") and isinstance(s.get("type"), str):
            s["type"] = [s["type"], "null"]
        return s
    return [clean(x) for x in s] if isinstance(s, list) else s


def unknown_fields(obj: Any, schema: dict[str, Any], path: str) -> Iterator[str]:
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if schema.get("x-kubernetes-int-or-string"):
        return
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, value in obj.items():
            if props is not None and key in props:
                yield from unknown_fields(value, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                yield from unknown_fields(value, extra, f"{path}.{key}")
            elif props is not None and extra is not True:
                yield f"{path}.{key}"
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            yield from unknown_fields(item, schema["items"], f"{path}[{i}]")


def documents(paths: list[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for p in paths:
        files = sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
        for f in files:
            for doc in yaml.safe_load_all(f.read_text()):
                if isinstance(doc, dict):
                    yield f, doc


def validate(doc: dict[str, Any], crds: dict[Key, tuple[dict[str, Any], bool]]) -> list[str]:
    key = (str(doc.get("apiVersion")), str(doc.get("kind")))
    if key not in crds:
        return [f"no CRD defines {key[1]} {key[0]}"]
    schema, served = crds[key]
    errors = [] if served else [f"{key[0]} {key[1]} is not a served version"]
    validator = jsonschema.Draft7Validator(clean(schema))
    for e in validator.iter_errors(doc):
        errors.append(f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}")
    errors += [f"UNKNOWN FIELD {f}" for f in unknown_fields(doc, schema, key[1])]
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crds", required=True, type=Path, help="directory of CRD YAML files")
    parser.add_argument("paths", nargs="*", type=Path, help="custom resource files or dirs")
    args = parser.parse_args(argv)
    if not args.crds.is_dir():
        print(f"ERROR CRD directory {args.crds} does not exist", file=sys.stderr)
        return 2
    crds = load_crds(args.crds)
    count = failed = 0
    for file, doc in documents(args.paths):
        count += 1
        name = (doc.get("metadata") or {}).get("name")
        for err in validate(doc, crds):
            failed += 1
            print(f"ERROR {file}: {doc.get('kind')}/{name}: {err}")
    print(f"validate_crs: {count} custom resources, {failed} errors ({len(crds)} CRD versions)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
