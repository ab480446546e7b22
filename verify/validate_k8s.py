"""Validate rendered built-in objects with kubernetes-validate, strict, in-process.

    python -m verify.validate_k8s build/rendered/dev build/rendered/prod

Each render directory's `render.json` names the stack's Kubernetes version; every
file under <dir>/k8s (our objects) and <dir>/chart-objects/<release>/k8s (every chart's
objects, as helm.v4.Chart applies them; hooks excluded) is validated against that minor
with `strict=True` (unknown fields are errors). Exits 1 with every error listed, 0 when
all objects pass.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import kubernetes_validate as kv
import yaml


def minor(version: str) -> str:
    """'v1.35.0' -> '1.35'."""
    return ".".join(version.lstrip("v").split(".")[:2])


def validate_dir(render_dir: Path) -> tuple[int, list[str]]:
    meta = json.loads((render_dir / "render.json").read_text())
    version = minor(str(meta["kubernetesVersion"]))
    errors: list[str] = []
    count = 0
    files = [*(render_dir / "k8s").glob("*.yaml"), *render_dir.glob("chart-objects/*/k8s/*.yaml")]
    for file in sorted(files):
        for doc in yaml.safe_load_all(file.read_text()):
            if not doc:
                continue
            count += 1
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as exc:
                where = ".".join(map(str, exc.path)) or "<root>"
                errors.append(f"{file}: {where}: {exc.message} (Kubernetes {version})")
            except (kv.SchemaNotFoundError, kv.VersionNotSupportedError) as exc:
                errors.append(f"{file}: {exc}")
    return count, errors


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: validate_k8s.py RENDER_DIR...", file=sys.stderr)
        return 2
    failed = False
    for arg in argv:
        count, errors = validate_dir(Path(arg))
        if count == 0:
            errors.append(f"{arg}: no objects rendered under k8s/ or chart-objects/*/k8s/")
        for e in errors:
            print(f"ERROR {e}")
        failed |= bool(errors)
        print(f"kubernetes-validate --strict: {arg}: {count} objects, {len(errors)} errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
