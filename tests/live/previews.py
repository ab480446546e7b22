"""The preview every pull request runs (the policy pack with its stack's config, as the
workflows pass it) doubles as the "nothing left to change" check after `pulumi up`: one
run of the program instead of two."""

from __future__ import annotations

import re
import subprocess

from tests.live.workspace import Workspace

CHANGES = re.compile(r"^\s+[+~-]+\s*\d+ to (create|update|replace|delete)\b", re.MULTILINE)


def second_preview(ws: Workspace, stack: str, config: str) -> subprocess.CompletedProcess[str]:
    args = ["--expect-no-changes", "--diff", "--policy-pack", "policy"]
    return ws.pulumi(
        "preview", "--stack", stack, *args, "--policy-pack-config", config, check=False
    )


def planned_changes(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The summary's change lines, and the engine's refusal when it planned any."""
    found = [m.group(0).strip() for m in CHANGES.finditer(done.stdout)]
    if "no changes were expected" in done.stdout + done.stderr:
        found.append("error: no changes were expected for preview but changes were proposed")
    return found


def mandatory_violations(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.strip() for line in done.stdout.splitlines() if "[mandatory]" in line]


def pack_ran(done: subprocess.CompletedProcess[str]) -> bool:
    """The CLI's summary lists the packs it ran (with --diff, violations print inline and
    no "Policies:" heading appears)."""
    return "Policy Packs run:" in done.stdout and "k8s-platform-guardrails" in done.stdout
