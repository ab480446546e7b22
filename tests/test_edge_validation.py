"""EdgeGateway's rendered objects pass kubernetes-validate, the CRD schemas and checkov."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.test_edge import edge_objects
from tools.offline import CRDS_DIR, SECRET_SIG, SIG_KEY, Evaluation, Resource
from tools.offline import manifest as _manifest

CRDS = CRDS_DIR


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A bare `=` enum item parses as tag:yaml.org,2002:value."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", _CrdLoader.construct_yaml_str)


def _clean(s: Any) -> Any:
    """OpenAPI v3 -> JSON Schema: drop CEL rules, int-or-string, nullable."""
    if isinstance(s, dict):
        s = {k: _clean(v) for k, v in s.items() if k != "x-kubernetes-validations"}
        if s.get("x-kubernetes-int-or-string"):
            s.pop("type", None)
            s.pop("anyOf", None)
        if s.get("nullable") and isinstance(s.get("type"), str):
            s["type"] = [s["type"], "null"]
        return s
    return [_clean(x) for x in s] if isinstance(s, list) else s


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """Served versions of the CRDs this component's objects use (C loader: these are big)."""
    out = {}
    for pattern in ("gateway.*.yaml", "cert-manager.io_*.yaml"):
        for f in CRDS.glob(pattern):
            crd = yaml.load(f.read_text(), Loader=_CrdLoader)
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for v in crd["spec"]["versions"]:
                if v.get("served"):
                    out[(f"{group}/{v['name']}", kind)] = _clean(v["schema"]["openAPIV3Schema"])
    return out


@pytest.fixture
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    return _crd_schemas()


def _unknown_fields(doc: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """CRD schemas rarely forbid extra keys; walk `properties` ourselves to catch typos."""
    if not isinstance(doc, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    found = []
    for key, value in doc.items():
        if props is not None and key in props:
            sub = props[key]
        elif isinstance(extra, dict):
            sub = extra
        elif props is not None:
            found.append(f"{path}.{key}")
            continue
        else:
            continue
        if isinstance(value, list) and "items" in sub:
            for i, item in enumerate(value):
                found += _unknown_fields(item, sub["items"], f"{path}.{key}[{i}]")
        else:
            found += _unknown_fields(value, sub, f"{path}.{key}")
    return found


def _plain(value: Any) -> Any:
    """Unwrap Pulumi secret envelopes, so the object reads as the cluster would see it."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, list) else value


def manifest(r: Resource, *, redact: bool = True) -> dict[str, Any]:
    doc = _plain(_manifest(r, redact=False))
    if redact and doc["kind"] == "Secret":
        for key in ("data", "stringData"):
            if key in doc:
                doc[key] = {k: "cmVkYWN0ZWQ=" for k in doc[key]}
    return doc


def _minor(e: Evaluation) -> str:
    return ".".join(e.outputs["kubernetesVersion"].lstrip("v").split(".")[:2])


def test_builtin_objects_pass_kubernetes_validate_strict(stack: Evaluation) -> None:
    custom = set(_crd_schemas())
    checked = set()
    for r in edge_objects(stack):
        doc = manifest(r, redact=False)
        if (doc["apiVersion"], doc["kind"]) in custom:
            continue  # custom resources: see the CRD test
        kubernetes_validate.validate(doc, _minor(stack), strict=True)
        checked.add(doc["kind"])
    assert {"NetworkPolicy", "Secret", "ValidatingAdmissionPolicy"} <= checked


def test_custom_resources_match_their_crd_schemas(
    stack: Evaluation, crd_schemas: dict[tuple[str, str], dict[str, Any]]
) -> None:
    checked = set()
    for r in edge_objects(stack):
        doc = manifest(r, redact=False)
        key = (doc["apiVersion"], doc["kind"])
        if key not in crd_schemas:
            continue
        schema = crd_schemas[key]
        errors = [
            f"{'.'.join(map(str, e.path))}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(doc)
        ]
        assert errors == [], f"{doc['kind']}/{doc['metadata']['name']}"
        unknown = _unknown_fields(doc, schema)
        assert unknown == [], f"{doc['kind']}/{doc['metadata']['name']}"
        checked.add(doc["kind"])
    assert {"Gateway", "GatewayClass", "HTTPRoute", "EnvoyProxy", "Certificate"} <= checked


def test_custom_resources_with_auth_match_their_crd_schemas(
    exposed: Evaluation, crd_schemas: dict[tuple[str, str], dict[str, Any]]
) -> None:
    kinds = set()
    for r in edge_objects(exposed):
        doc = manifest(r, redact=False)
        schema = crd_schemas.get((doc["apiVersion"], doc["kind"]))
        if schema is None:
            continue
        assert list(jsonschema.Draft7Validator(schema).iter_errors(doc)) == []
        assert _unknown_fields(doc, schema) == []
        kinds.add(doc["kind"])
    assert {"SecurityPolicy", "ReferenceGrant"} <= kinds
