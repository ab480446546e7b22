"""Which Pulumi state backend the CLI is using: the program refuses a local file
backend for prod-profile stacks (state on one laptop is state that can be lost or
forked), unless acceptRisks names `stateBackend`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

ACCEPT_KEY = "stateBackend"


def current_url(env: Mapping[str, str] | None = None, home: Path | None = None) -> str | None:
    """The CLI's rule: PULUMI_BACKEND_URL if set, else `current` in
    ~/.pulumi/credentials.json (written by `pulumi login`); None when neither says."""
    env = os.environ if env is None else env
    url = env.get("PULUMI_BACKEND_URL", "").strip()
    if url:
        return url
    pulumi_home = env.get("PULUMI_HOME") or str((home or Path.home()) / ".pulumi")
    try:
        doc = json.loads((Path(pulumi_home) / "credentials.json").read_text())
    except (OSError, ValueError):
        return None
    current = doc.get("current") if isinstance(doc, dict) else None
    return current if isinstance(current, str) and current else None


def is_local(url: str | None) -> bool:
    return bool(url) and str(url).startswith("file://")
