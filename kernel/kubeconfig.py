"""Read a kubeconfig file the way kubectl does, and minify it to one context.

Used by settings (to fail early on a missing file or context) and by the existing-
cluster mode of HAControlPlane (to publish the endpoint and a one-context kubeconfig).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(Exception):
    pass


@dataclass(frozen=True)
class KubeconfigView:
    path: str
    context: str
    cluster: str
    server: str
    minified: str
    """A self-contained kubeconfig holding only `context` (credentials inlined)."""


def default_path() -> str:
    """$KUBECONFIG's first entry, else ~/.kube/config (kubectl's own rule)."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return first or str(Path.home() / ".kube" / "config")


def _named(entries: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    return next((e for e in entries or [] if e.get("name") == name), None)


def _inline_files(section: dict[str, Any], base: Path) -> dict[str, Any]:
    """Replace `client-certificate: path` style references by their `-data` form."""
    out = dict(section)
    for key in ("certificate-authority", "client-certificate", "client-key"):
        ref = out.pop(key, None)
        if ref:
            file = (base / ref) if not os.path.isabs(ref) else Path(ref)
            out[f"{key}-data"] = base64.b64encode(file.read_bytes()).decode()
    return out


def read(path: str | None, context: str | None) -> KubeconfigView:
    file = Path(os.path.expanduser(path or default_path()))
    try:
        doc = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError as exc:
        raise KubeconfigError(f"no kubeconfig file at {file}") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise KubeconfigError(f"cannot read kubeconfig {file}: {exc}") from exc
    ctx_name = context or doc.get("current-context") or ""
    ctx = _named(doc.get("contexts"), ctx_name)
    if ctx is None:
        known = ", ".join(c.get("name", "?") for c in doc.get("contexts") or []) or "none"
        raise KubeconfigError(f"context '{ctx_name}' is not in {file} (contexts: {known})")
    ctx_body = ctx.get("context") or {}
    cluster = _named(doc.get("clusters"), ctx_body.get("cluster", ""))
    user = _named(doc.get("users"), ctx_body.get("user", ""))
    if cluster is None:
        raise KubeconfigError(f"context '{ctx_name}' names a cluster missing from {file}")
    try:
        cluster_body = _inline_files(cluster.get("cluster") or {}, file.parent)
        user_body = _inline_files((user or {}).get("user") or {}, file.parent)
    except OSError as exc:
        raise KubeconfigError(f"context '{ctx_name}' references an unreadable file: {exc}") from exc
    minified = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": ctx_name,
        "clusters": [{"name": cluster["name"], "cluster": cluster_body}],
        "contexts": [{"name": ctx_name, "context": ctx_body}],
        "users": [{"name": (user or {}).get("name", ""), "user": user_body}],
    }
    return KubeconfigView(
        path=str(file),
        context=ctx_name,
        cluster=cluster["name"],
        server=str(cluster_body.get("server", "")),
        minified=yaml.safe_dump(minified, sort_keys=False),
    )
