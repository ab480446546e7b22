"""Alert rules as rendered, under `promtool test rules`.

Collects every components/*/data/rules/tests/*.test.yaml. Their `rule_files` name
rule files by what the prod stack renders: each PrometheusRule as `<name>.yaml`, each
kube-prometheus-stack `additionalPrometheusRulesMap` entry as `<key>.yaml`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tools.offline import Evaluation

ROOT = Path(__file__).resolve().parent.parent
TESTS = sorted(ROOT.glob("components/*/data/rules/tests/*.test.yaml"))


def rendered_rule_files(evaluation: Evaluation) -> dict[str, dict[str, object]]:
    files: dict[str, dict[str, object]] = {}
    for r in evaluation.resources:
        if r.inputs.get("kind") == "PrometheusRule":
            files[f"{r.k8s_name}.yaml"] = r.inputs["spec"]
    for chart in evaluation.charts():
        extra = (chart.inputs.get("values") or {}).get("additionalPrometheusRulesMap") or {}
        files.update({f"{key}.yaml": spec for key, spec in extra.items()})
    return files


def test_there_are_rule_tests() -> None:
    assert TESTS, "no components/*/data/rules/tests/*.test.yaml: promtool would test nothing"


@pytest.mark.parametrize("test_file", TESTS, ids=lambda p: f"{p.parts[-5]}/{p.name}")
def test_promtool_rule_tests_pass(test_file: Path, prod: Evaluation, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool missing: `.ci/run` installs Debian's prometheus package")
    files = rendered_rule_files(prod)
    wanted = yaml.safe_load(test_file.read_text())["rule_files"]
    missing = sorted(set(wanted) - set(files))
    assert not missing, f"{test_file.name} names rule files prod does not render: {missing}"
    for name in wanted:
        (tmp_path / name).write_text(yaml.safe_dump(files[name]))
    shutil.copy(test_file, tmp_path / test_file.name)
    out = subprocess.run(
        [promtool, "test", "rules", test_file.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
