"""kubectl (the real one, `make engines`) against a fixture cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.live import engines


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(engines.bin_dir() / "kubectl"), f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr or done.stdout}")
    return done


def apply(kubeconfig: Path, *docs: dict[str, Any]) -> None:
    kubectl(kubeconfig, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(docs))


def server_dry_run(kubeconfig: Path, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`obj` created with `--dry-run=server`: the API server's whole admission judges it."""
    return kubectl(
        kubeconfig, "create", "--dry-run=server", "-f", "-", stdin=json.dumps(obj), check=False
    )


def get(kubeconfig: Path, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-o", "json").stdout)


def can_i(kubeconfig: Path, verb: str, resource: str, namespace: str, *as_: str) -> bool:
    done = kubectl(kubeconfig, "auth", "can-i", verb, resource, "-n", namespace, *as_, check=False)
    return done.stdout.strip() == "yes"
