"""The CI entry point works on every runner: with the reference tree beside the clone it
reads the charts and CRDs there; without it (GitHub's runners) it pulls them into build/
with `make charts` and `make crds`. No test hard-codes where the reference tree is, and
promtool/amtool come from the machine's own Debian archive with only the suite changed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools import inputs
from tools.offline import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def clone_without_reference(tmp_path: Path) -> Path:
    """A clone with nothing beside it: only the path logic, run as .ci/run runs it."""
    repo = tmp_path / "clone"
    (repo / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "inputs.py", repo / "tools" / "inputs.py")
    return repo


def run_inputs(repo: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin"}  # no CRDS_DIR or CHARTS_DIR from the caller
    cmd = [sys.executable, "tools/inputs.py", *args]
    out = subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_without_the_reference_tree_the_suite_fetches_charts_and_crds_into_build(
    tmp_path: Path,
) -> None:
    repo = clone_without_reference(tmp_path)
    assert not (repo.parent / "shared").exists()
    assert run_inputs(repo, "missing").split() == ["charts", "crds"]
    assert Path(run_inputs(repo, "crds-dir")) == repo / "build" / "crds"
    assert inputs.chart_roots(repo, {}) == [repo / "build" / "charts"]
    # Once pulled, nothing is missing and build/ is where the suite reads.
    (repo / "build" / "charts" / "cilium").mkdir(parents=True)
    (repo / "build" / "charts" / "cilium" / "Chart.yaml").write_text("name: cilium\n")
    (repo / "build" / "crds").mkdir()
    (repo / "build" / "crds" / "x.yaml").write_text("kind: CustomResourceDefinition\n")
    assert run_inputs(repo, "missing") == ""


def test_with_the_reference_tree_beside_the_clone_nothing_is_fetched(tmp_path: Path) -> None:
    repo = clone_without_reference(tmp_path)
    ref = tmp_path / "shared"
    (ref / "charts" / "cilium").mkdir(parents=True)
    (ref / "charts" / "cilium" / "Chart.yaml").write_text("name: cilium\n")
    (ref / "reference" / "crds").mkdir(parents=True)
    (ref / "reference" / "crds" / "x.yaml").write_text("kind: CustomResourceDefinition\n")
    assert run_inputs(repo, "missing") == ""
    assert Path(run_inputs(repo, "crds-dir")) == ref / "reference" / "crds"
    assert inputs.chart_roots(repo, {"CHARTS_DIR": "/c"}) == [
        Path("/c"),
        repo / "build" / "charts",
        ref / "charts",
    ]


def test_no_test_or_tool_names_the_reference_tree_but_the_path_logic() -> None:
    named = re.compile(r"""["'/]shared["'/]""")
    files = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("tools/**/*.py")]
    assert len(files) > 40
    offenders = [
        str(f.relative_to(ROOT))
        for f in files
        if f.name not in ("inputs.py", "test_ci_inputs.py") and named.search(f.read_text())
    ]
    assert offenders == []


def _machine_debian_archive() -> dict[str, str]:
    """The machine's own main Debian archive entry (the tests configure no source)."""
    for entry in inputs.apt_entries(Path("/etc/apt")):
        if inputs.DEBIAN_KEYRING in entry["signed-by"] and "-" not in entry["suite"]:
            return entry
    pytest.skip("this machine has no Debian archive among its apt sources")


def test_the_apt_source_is_the_machines_debian_archive_with_only_the_suite_changed(
    tmp_path: Path,
) -> None:
    archive = _machine_debian_archive()
    # deb822, as the machine has it (-updates and -security entries beside it are skipped).
    shutil.copytree(Path("/etc/apt/sources.list.d"), tmp_path / "sources.list.d")
    stanza = inputs.debian_source("trixie", tmp_path)
    (entry,) = inputs._deb822(stanza)
    assert entry == {**archive, "suite": "trixie", "components": "main"}


def test_without_a_debian_archive_the_tool_install_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(LookupError, match="PROMTOOL and AMTOOL"):
        inputs.debian_source("trixie", tmp_path)


def test_ci_names_no_package_host_and_reads_the_apt_sources() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    assert not re.search(r"https?://", run), "the archive comes from the machine's sources"
    assert "tools/inputs.py apt-source trixie" in run
    assert "tools/inputs.py missing" in run


def test_every_workflow_test_job_runs_the_ci_entry_point_on_debian() -> None:
    jobs = []
    for name in ("preview.yml", "deploy.yml"):
        doc = yaml.safe_load((WORKFLOWS / name).read_text())
        job = doc["jobs"]["test"]
        runs = [s.get("run", "").strip() for s in job["steps"]]
        assert runs.count(".ci/run") == 1, (name, runs)
        assert not any("make " in r for r in runs), "the script, not a copy of its steps"
        # promtool and amtool come from Debian's archive: the job runs in a Debian image.
        assert "trixie" in job["container"]["image"], name
        jobs.append(name)
    assert jobs == ["preview.yml", "deploy.yml"]
