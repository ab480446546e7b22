"""Validate custom resources against the openAPIV3Schema of their CRDs, offline.

    python tools/validate_crs.py --crds DIR [--allow-no-schema] FILES_OR_DIRS...
    python tools/validate_crs.py --crds DIR --render RENDER_DIR...

With --render, each render directory (tools/render.py) is checked as one cluster: its
custom resources (crs/ and chart-objects/*/crs/) against the CRDs in DIR plus the CRDs the
stack's charts render (chart-objects/*/k8s/CustomResourceDefinition-*.yaml); where both
define a kind, the chart's copy wins, since it is the one the cluster will serve.

kubernetes-validate knows no custom resources, so this checks them against the CRDs
themselves (any group: CAPI, cert-manager, Velero, Gateway API, prometheus-operator...):
the apiVersion must be served, the object must satisfy the schema (jsonschema, Draft 7)
and every field must be declared (CRDs rarely set additionalProperties: false, so an
explicit walk reports UNKNOWN FIELD). CEL rules and admission webhooks are not evaluated.
Exit status 1 with one line per error; 2 when the CRD directory is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A bare `=` (an enum item in some CRDs) parses as the YAML 'value' tag."""


CrdLoader.add_constructor("tag:yaml.org,2002:value", CrdLoader.construct_yaml_str)

Key = tuple[str, str]  # (apiVersion, kind)


class CrdSchemas:
    """The CRDs in a directory, parsed lazily: a cheap text index maps each kind to its
    file, and a file is parsed only when an object of that kind is validated."""

    def __init__(self, crds_dir: str | Path) -> None:
        root = Path(crds_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"CRD directory {root} does not exist")
        self.schemas: dict[Key, tuple[dict[str, Any], bool]] = {}
        self.kinds: dict[str, set[str]] = {}
        self._pending: dict[str, list[Path]] = {}
        for path in sorted(root.glob("*.y*ml")):
            text = path.read_text()
            kinds = _KIND.findall(text)
            if kinds and text.count("kind: CustomResourceDefinition") == 1:
                self._pending.setdefault(kinds[0], []).append(path)
            else:
                self._parse(text)

    def _parse(self, text: str) -> None:
        for crd in yaml.load_all(text, Loader=CrdLoader):
            if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for v in crd["spec"]["versions"]:
                api = f"{group}/{v['name']}"
                schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
                self.schemas[(api, kind)] = (clean(schema), bool(v.get("served")))
                self.kinds.setdefault(kind, set()).add(api)

    def override(self, path: Path) -> None:
        """CRDs from `path` replace any definition of the same kinds (a chart's own copy)."""
        for crd in yaml.load_all(path.read_text(), Loader=CrdLoader):
            if isinstance(crd, dict) and crd.get("kind") == "CustomResourceDefinition":
                kind = crd["spec"]["names"]["kind"]
                self._pending.pop(kind, None)
                for api in self.kinds.pop(kind, set()):
                    self.schemas.pop((api, kind), None)
        self._parse(path.read_text())

    def has_kind(self, kind: str) -> bool:
        for path in self._pending.pop(kind, []):
            self._parse(path.read_text())
        return kind in self.kinds

    def lookup(self, api_version: str, kind: str) -> tuple[dict[str, Any], bool] | None:
        self.has_kind(kind)
        return self.schemas.get((api_version, kind))

    def load_all(self) -> None:
        for kind in list(self._pending):
            self.has_kind(kind)


# `spec.names.kind` of a CRD file (indentation as every generator writes it).
_KIND = re.compile(r"^  names:\n(?:    .*\n)*?    kind: ['\"]?(\w+)", re.MULTILINE)


def clean(schema: Any) -> Any:
    """OpenAPI v3 (structural) -> JSON Schema: drop CEL, int-or-string, nullable."""
    if isinstance(schema, dict):
        out = {k: clean(v) for k, v in schema.items() if k != "x-kubernetes-validations"}
        if out.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
            out.pop("anyOf", None)
        if out.get("nullable") and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(schema, list):
        return [clean(x) for x in schema]
    return schema


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
                yield f"UNKNOWN FIELD {path}.{key}"
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            yield from unknown_fields(item, schema["items"], f"{path}[{i}]")


def _where(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def validate_document(
    doc: dict[str, Any], crds: CrdSchemas, *, allow_no_schema: bool = False, source: str = ""
) -> list[str]:
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    name = (doc.get("metadata") or {}).get("name", "?")
    label = f"{source}{': ' if source else ''}{kind}/{name} ({api})"
    found = crds.lookup(api, kind)
    if found is None:
        if crds.has_kind(kind):
            defined = ", ".join(sorted(crds.kinds[kind]))
            return [f"{label}: version {api} not defined by the CRD (defined: {defined})"]
        return [] if allow_no_schema else [f"{label}: no schema (no CRD for this kind)"]
    schema, served = found
    if not served:
        return [f"{label}: {api} is not served by the CRD"]
    errors = [
        f"{label}: {kind}{_where(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(doc)
    ]
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
    errors += [f"{label}: {u}" for u in unknown_fields(body, schema, kind)]
    return errors


def validate_documents(
    docs: Iterable[dict[str, Any]], crds_dir: str | Path, *, allow_no_schema: bool = False
) -> list[str]:
    """Importable entry point: one message per error (empty list = all valid)."""
    crds = CrdSchemas(crds_dir)
    errors: list[str] = []
    for doc in docs:
        errors += validate_document(doc, crds, allow_no_schema=allow_no_schema)
    return errors


def _files(targets: Iterable[str]) -> Iterator[Path]:
    for t in targets:
        p = Path(t)
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml"))
        else:
            yield p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crds", required=True, help="directory of CRD YAML files")
    parser.add_argument(
        "--allow-no-schema",
        action="store_true",
        help="skip objects whose kind has no CRD in --crds (default: report as an error)",
    )
    parser.add_argument(
        "--render", action="store_true", help="targets are render directories (see above)"
    )
    parser.add_argument("targets", nargs="+", help="YAML files or directories")
    opts = parser.parse_args(argv)
    if not Path(opts.crds).is_dir():
        print(f"ERROR CRD directory {opts.crds} does not exist", file=sys.stderr)
        return 2
    if not opts.render:
        return _report(*_check(CrdSchemas(opts.crds), _files(opts.targets), opts.allow_no_schema))
    status = 0
    for target in map(Path, opts.targets):
        crds = CrdSchemas(opts.crds)
        for path in sorted(target.glob("chart-objects/*/k8s/CustomResourceDefinition-*.yaml")):
            crds.override(path)
        files = _files([str(target / "crs"), *map(str, sorted(target.glob("chart-objects/*/crs")))])
        count, errors = _check(crds, files, opts.allow_no_schema)
        print(f"{target}:", end=" ")
        status |= _report(count, errors)
        if count == 0:
            print(f"ERROR {target}: no custom resources rendered")
            status = 1
    return status


def _check(crds: CrdSchemas, files: Iterable[Path], allow_no_schema: bool) -> tuple[int, list[str]]:
    errors: list[str] = []
    count = 0
    for path in files:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except (OSError, yaml.YAMLError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        for doc in docs:
            count += 1
            errors += validate_document(
                doc, crds, allow_no_schema=allow_no_schema, source=str(path)
            )
    return count, errors


def _report(count: int, errors: list[str]) -> int:
    for line in errors:
        print(line)
    if not errors:
        print(f"OK {count} object(s) valid")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
