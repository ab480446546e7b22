"""Run checkov once per rendered stack, and not again while the stack's render is the same.

    python tools/checkov_run.py --checkov .venv-checkov/bin/checkov --cache build/checkov-cache \
        build/rendered/dev build/rendered/prod

Each stack's report (<stack dir>/checkov.json) is stored under the cache directory by a
digest of everything checkov reads: the rendered files, the checkov command and its
version. An unchanged render reuses the stored report; any change runs checkov again.
checkov is about half of a warm `make test`, and most changes leave most renders alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPORT = "checkov.json"


def command(checkov: str, stack_dir: Path) -> list[str]:
    # checkov 3.3.30 given several -d scans only the first directory: one run per stack.
    # Helm hooks are never applied and chart inputs are not objects: checkov skips both.
    scan = ["-d", str(stack_dir), "--framework", "kubernetes", "--skip-download", "-o", "json"]
    return [checkov, *scan, "--skip-path", "hooks", "--skip-path", f"{stack_dir}/charts"]


def _content(path: Path) -> bytes:
    """JSON canonically (render.json's key order varies from run to run), the rest as is."""
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            return json.dumps(json.loads(data), sort_keys=True).encode()
        except ValueError:
            return data
    return data


def digest(stack_dir: Path, cmd: list[str], version: str) -> str:
    h = hashlib.sha256("\0".join([version, *cmd[1:]]).encode())
    for path in sorted(p for p in stack_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(stack_dir)
        if rel.as_posix() == REPORT or rel.parts[0] == "charts" or "hooks" in rel.parts:
            continue
        h.update(rel.as_posix().encode() + b"\0" + _content(path) + b"\0")
    return h.hexdigest()


def run(checkov: str, cache: Path, stack_dir: Path, version: str) -> bool:
    """Write stack_dir/checkov.json; True when checkov ran, False when the cache had it."""
    cmd = command(checkov, stack_dir)
    stored = cache / f"{stack_dir.name}-{digest(stack_dir, cmd, version)}.json"
    if stored.is_file():
        shutil.copyfile(stored, stack_dir / REPORT)
        return False
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    # checkov exits non-zero when a check fails: verify/checkov_report.py judges the report.
    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
    (stack_dir / REPORT).write_bytes(done.stdout)
    if done.stdout.strip():
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob(f"{stack_dir.name}-*.json"):
            old.unlink()
        shutil.copyfile(stack_dir / REPORT, stored)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("stacks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    version = subprocess.run(
        [args.checkov, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    for stack_dir in args.stacks:
        ran = run(args.checkov, args.cache, stack_dir, version)
        print(f"checkov: {stack_dir.name}" + ("" if ran else " (unchanged render: cached report)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
