"""The program as a user runs it: a copy of the project, its ./venv, the Pulumi CLI with
its language host and providers from build/engines/bin, a file state backend and a
passphrase, charts from local sources (the suite has no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kernel.catalogue import CHARTS
from kernel.fixture import SWITCH
from kernel.kube import CHART_SOURCES_ENV, chart_meta
from tests.live import engines
from tools import chart_sources

ROOT = engines.ROOT


@dataclass(frozen=True)
class Workspace:
    project: Path
    env: dict[str, str]

    def pulumi(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        log = self.project.parent / "pulumi.log"
        with log.open("a") as f:
            f.write(f"$ pulumi {' '.join(args)}\n{done.stdout}\n{done.stderr}\n")
        if check and done.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
            )
        return done


def _project_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    keep = ("__main__.py", "settings.py", "Pulumi.", "components/", "kernel/", "policy/", "kind/")
    return [f for f in out if f.startswith(keep) and (ROOT / f).is_file()]


def copy_project(root: Path, commit: str | None = None) -> Path:
    """The project's files (at `commit`, or as they are now) with the repo's venv."""
    project = root / "project"
    project.mkdir(parents=True, exist_ok=True)
    if commit:
        archive = subprocess.run(
            ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(project)], input=archive, check=True)
    else:
        for f in _project_files():
            (project / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, project / f)
    # The policy pack needs pulumi and pulumi-policy, both in the project's venv.
    for venv in ("venv", "policy/venv"):
        link = project / venv
        if not link.exists():
            link.symlink_to(ROOT / "venv")
    return project


def _chart_source(dest: Path, src: Path) -> None:
    """`src` as Chart v4 loads it. Helm refuses a chart whose Chart.yaml lists a dependency
    its charts/ lacks, even one its condition turns off; the shared chart tree leaves out a
    few such (loki's minio, kyverno's openreports and reports-server), so each gets an empty
    stand-in chart (docs/guardrails.md, "What the live fixture cannot prove")."""
    meta = chart_meta(src)
    present = {p.name for p in (src / "charts").iterdir()} if (src / "charts").is_dir() else set()
    missing = [d for d in meta.get("dependencies") or [] if d["name"] not in present]
    if not missing:
        dest.symlink_to(src)
        return
    dest.mkdir()
    for entry in src.iterdir():
        if entry.name != "charts":
            (dest / entry.name).symlink_to(entry)
    (dest / "charts").mkdir()
    for name in present:
        (dest / "charts" / name).symlink_to(src / "charts" / name)
    for dep in missing:
        stub = dest / "charts" / dep["name"]
        stub.mkdir()
        (stub / "Chart.yaml").write_text(
            f"apiVersion: v2\nname: {dep['name']}\nversion: {dep['version']}\n"
        )


def workspace(
    root: Path, kubeconfig: Path, *, commit: str | None = None, extra: dict[str, str] | None = None
) -> Workspace:
    project = copy_project(root, commit)
    state = root / "state"
    state.mkdir(exist_ok=True)
    sources = root / "charts"
    sources.mkdir(exist_ok=True)
    for ref in CHARTS.values():
        if not (sources / ref.name).exists():
            _chart_source(sources / ref.name, chart_sources.chart_dir(ref))
    env = {
        **os.environ,
        "PATH": f"{engines.bin_dir()}{os.pathsep}{ROOT / 'venv' / 'bin'}{os.pathsep}"
        + os.environ.get("PATH", ""),
        "PULUMI_HOME": str(root / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "live-suite",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "KUBECONFIG": str(kubeconfig),
        CHART_SOURCES_ENV: str(sources),
        SWITCH: "true",
        **(extra or {}),
    }
    return Workspace(project, env)


def set_secrets(ws: Workspace, stack: str, secrets: dict[str, str]) -> None:
    """Stand-in secrets (tools/offline.py), each a Pulumi secret as a user would set it."""
    args = [f"secrets.{name}={value}" for name, value in sorted(secrets.items())]
    if args:
        ws.pulumi(
            "config",
            "set-all",
            "--stack",
            stack,
            "--path",
            *[a for pair in args for a in ("--secret", pair)],
        )
