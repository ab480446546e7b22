"""EdgeGateway's rendered objects pass kubernetes-validate, the CRD schemas and checkov."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from tests.unit.test_edge import edge_objects
from tools.offline import SECRET_SIG, SIG_KEY, Evaluation, Resource
from tools.offline import manifest as _manifest
from tools.render import is_builtin


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
    checked = set()
    for r in edge_objects(stack):
        if not is_builtin(r):
            continue  # custom resources: see the CRD tests
        doc = manifest(r, redact=False)
        kubernetes_validate.validate(doc, _minor(stack), strict=True)
        checked.add(doc["kind"])
    assert {"NetworkPolicy", "Secret", "ValidatingAdmissionPolicy"} <= checked
