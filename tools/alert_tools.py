"""promtool and amtool over what the program renders: where the tools are, and every
PrometheusRule of a full render written as the rule files promtool reads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from tools.fullrender import FullRender

ROOT = Path(__file__).resolve().parent.parent
# .ci/run extracts Debian's promtool and amtool here (see the comment there).
TOOLS_DIR = ROOT / "build" / "tools" / "bin"
RULE_TESTS = "components/*/data/rules/tests/*.test.yaml"


def tool(name: str) -> str | None:
    """$PROMTOOL / $AMTOOL, then build/tools/bin, then PATH."""
    given = os.environ.get(name.upper())
    if given:
        return given
    local = TOOLS_DIR / name
    return str(local) if local.is_file() else shutil.which(name)


def prometheus_rules(full: FullRender) -> dict[str, dict[str, Any]]:
    """PrometheusRule name -> its spec (`groups`), ours and the charts'."""
    out: dict[str, dict[str, Any]] = {}
    for obj in full.of_kind("PrometheusRule"):
        if obj.name in out:
            raise AssertionError(f"two PrometheusRules named {obj.name!r}")
        out[obj.name] = obj.doc["spec"]
    return out


def write_rules(full: FullRender, directory: Path) -> list[Path]:
    """Each PrometheusRule as <name>.yaml: the names unit tests list in `rule_files`."""
    paths = []
    for name, spec in sorted(prometheus_rules(full).items()):
        path = directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        paths.append(path)
    return paths


def rule_test_files() -> list[Path]:
    return sorted(ROOT.glob(RULE_TESTS))
