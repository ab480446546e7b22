"""Data files that live beside the code that uses them (a component's `data/` folder):
alert rules, dashboards, configs and scripts, read at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def path(module_file: str, name: str) -> Path:
    """`name` in the `data/` folder next to `module_file` (pass `__file__`)."""
    return Path(module_file).resolve().parent / "data" / name


def text(module_file: str, name: str) -> str:
    return path(module_file, name).read_text(encoding="utf-8")


def yaml_doc(module_file: str, name: str) -> Any:
    return yaml.safe_load(text(module_file, name))
