"""checkov runs once per stack, and an unchanged render reuses its report (warm make test)."""

from __future__ import annotations

import json
from pathlib import Path

from tools import checkov_run

FAKE = """#!/bin/sh
if [ "$1" = "--version" ]; then echo 3.3.30; exit 0; fi
echo run >> "$(dirname "$0")/runs"
echo '{"check_type": "kubernetes", "results": {"failed_checks": []}}'
exit 1
"""


def fake_checkov(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "checkov"
    path.parent.mkdir()
    path.write_text(FAKE)
    path.chmod(0o755)
    return path


def stack(tmp_path: Path, name: str) -> Path:
    d = tmp_path / "rendered" / name
    (d / "k8s").mkdir(parents=True)
    (d / "k8s" / "a.yaml").write_text("kind: ConfigMap\n")
    (d / "charts").mkdir()
    (d / "charts" / "x.yaml").write_text("chart: x\n")
    return d


def runs(checkov: Path) -> int:
    path = checkov.parent / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_checkov_runs_once_per_stack_and_not_again_for_the_same_render(tmp_path: Path) -> None:
    checkov, cache = fake_checkov(tmp_path), tmp_path / "cache"
    dev, prod = stack(tmp_path, "dev"), stack(tmp_path, "prod")
    argv = ["--checkov", str(checkov), "--cache", str(cache), str(dev), str(prod)]
    assert checkov_run.main(argv) == 0
    assert runs(checkov) == 2
    report = json.loads((dev / "checkov.json").read_text())
    assert report["check_type"] == "kubernetes"
    (dev / "checkov.json").unlink()
    checkov_run.main(argv)
    assert runs(checkov) == 2, "an unchanged render reuses the cached report"
    assert json.loads((dev / "checkov.json").read_text()) == report
    # The same summary in another key order is the same render.
    (dev / "render.json").write_text('{"b": 1, "a": 2}')
    checkov_run.main(argv)
    assert runs(checkov) == 3
    (dev / "render.json").write_text('{"a": 2, "b": 1}')
    checkov_run.main(argv)
    assert runs(checkov) == 3
    # Chart inputs are not scanned, so they do not invalidate the report; objects do.
    (dev / "charts" / "x.yaml").write_text("chart: y\n")
    checkov_run.main(argv)
    assert runs(checkov) == 3
    (dev / "k8s" / "a.yaml").write_text("kind: Secret\n")
    checkov_run.main(argv)
    assert runs(checkov) == 4
    assert len(list(cache.glob("dev-*.json"))) == 1, "one report kept per stack"


def test_the_makefile_runs_checkov_through_the_cache() -> None:
    makefile = (Path(checkov_run.__file__).parent.parent / "Makefile").read_text()
    assert "tools/checkov_run.py --checkov $(CHECKOV_VENV)/bin/checkov" in makefile
