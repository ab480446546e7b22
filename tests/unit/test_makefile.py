"""The Makefile is the one entry point: `make help` lists every target, `make dev` checks
the prerequisites first and installs only the runtime requirements, and the local file
state backend applies to the dev stack only."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tools.offline import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def make(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "MAKE"))}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout


def documented_targets() -> list[str]:
    return re.findall(r"^([a-zA-Z0-9_-]+):[^=\n]*##", MAKEFILE, flags=re.M)


def phony_targets() -> list[str]:
    match = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, flags=re.M)
    assert match, "no .PHONY line"
    return match.group(1).replace("\\\n", " ").split()


def test_make_help_lists_every_documented_target() -> None:
    listed = {line.split()[0] for line in make("help").splitlines() if line.strip()}
    targets = documented_targets()
    assert len(targets) > 20
    assert set(targets) <= listed, set(targets) - listed
    assert {"e2e", "doctor", "destroy", "dev"} <= listed


def test_every_phony_target_has_a_help_line() -> None:
    phony = phony_targets()
    assert phony
    assert sorted(set(phony) - set(documented_targets())) == []


def test_make_dev_runs_doctor_first_and_installs_only_the_runtime_requirements() -> None:
    dev = re.search(r"^dev:([^#\n]*)##", MAKEFILE, flags=re.M)
    assert dev and dev.group(1).split()[:2] == ["doctor", "runtime"]
    runtime = make("-n", "-W", "venv/bin/python", "runtime")
    assert "-r requirements.txt" in runtime and "requirements-dev.txt" not in runtime


def backend(stack: str) -> str:
    found = re.findall(
        r"^PULUMI_BACKEND_URL [:?]?= (.*)$", make("-pn", f"STACK={stack}", "help"), flags=re.M
    )
    return found[0] if found else ""


def test_only_the_dev_stack_gets_the_local_file_backend() -> None:
    assert backend("dev").startswith("file://")
    assert backend("prod") == ""
    assert backend("staging") == ""


FAKE = """#!/bin/sh
echo "$(basename "$0") $* backend=${PULUMI_BACKEND_URL-unset} \\
pass=${PULUMI_CONFIG_PASSPHRASE-unset} gateway=${E2E_GATEWAY_ADDRESS-unset}"
"""


def run_with_fake_pulumi(tmp_path: Path, *args: str) -> list[str]:
    """Run make targets for real, with `pulumi` and the venv's python replaced by a script
    that prints its arguments and the environment Pulumi would see."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("pulumi", "python"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "MAKE", "E2E_"))}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    cmd = ["make", "-s", "--no-print-directory", "-C", str(ROOT), "-o", "runtime", "-o", "venv"]
    out = subprocess.run(
        [*cmd, f"BIN={bin_dir}", f"STATE_DIR={tmp_path / 'state'}", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return [line for line in out.splitlines() if line.startswith(("pulumi ", "python "))]


def test_every_pulumi_target_uses_the_dev_backend_and_empty_passphrase(tmp_path: Path) -> None:
    lines = run_with_fake_pulumi(tmp_path, "preview", "up", "output", "e2e")
    assert {line.split()[1] for line in lines} >= {"preview", "up", "stack", "-m"}, lines
    for line in lines:
        assert f"backend=file://{tmp_path / 'state'} pass= " in line, line


def test_other_stacks_keep_the_login_backend_and_their_passphrase(tmp_path: Path) -> None:
    for line in run_with_fake_pulumi(tmp_path, "STACK=prod", "preview", "up", "output"):
        assert "backend=unset pass=unset" in line, line


def test_make_e2e_reaches_the_dev_gateway_through_kinds_port_mapping(tmp_path: Path) -> None:
    (line,) = [x for x in run_with_fake_pulumi(tmp_path, "e2e") if x.startswith("python ")]
    assert "gateway=127.0.0.1:8443" in line
    kind = (ROOT / "kind" / "dev-cluster.yaml").read_text()
    assert re.search(r"hostPort: 8443\n\s+listenAddress: \"?127.0.0.1", kind)


def test_make_doctor_for_prod_builds_the_venv_it_reads_the_management_range_from(
    tmp_path: Path,
) -> None:
    out = make("-n", "doctor", "STACK=prod", "MGMT_CONTEXT=mgmt", f"VENV={tmp_path / 'none'}")
    assert f"-m venv {tmp_path / 'none'}" in out
    assert out.index("-m venv") < out.index("tools/doctor.py")


def test_the_management_range_comes_from_the_compatibility_matrix() -> None:
    out = make("-n", "doctor", "STACK=prod", "MGMT_CONTEXT=mgmt")
    assert re.search(r"--mgmt-context mgmt --mgmt-minor 1\.\d+-1\.\d+", out), out


def test_make_lint_finds_dead_code(tmp_path: Path) -> None:
    """vulture runs in `make lint` with the project's settings, and would report a name
    nothing uses."""
    lint = make("-n", "-o", "venv", "lint")
    assert "vulture" in lint
    dead = tmp_path / "dead.py"
    dead.write_text("def never_called() -> int:\n    return 1\n")
    vulture = ROOT / "venv" / "bin" / "vulture"
    found = subprocess.run(
        [str(vulture), str(dead)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert found.returncode != 0 and "never_called" in found.stdout


def test_vulture_skips_every_virtualenv_and_build_output(tmp_path: Path) -> None:
    """The checkov venv, the policy pack's venv and build/ are not our code."""
    dead = "def never_called() -> int:\n    return 1\n"
    for where in (".venv-checkov/lib", "venv/lib", "policy/venv/lib", "build/rendered"):
        (tmp_path / where).mkdir(parents=True)
        (tmp_path / where / "dead.py").write_text(dead)
    vulture = [str(ROOT / "venv" / "bin" / "vulture"), "--config", str(ROOT / "pyproject.toml")]
    clean = subprocess.run(vulture, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, "")
    (tmp_path / "ours.py").write_text(dead)
    found = subprocess.run(vulture, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert "ours.py" in found.stdout and "venv" not in found.stdout
