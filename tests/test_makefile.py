"""The Makefile is the one entry point: `make help` lists every target, `make dev` checks
the prerequisites first and installs only the runtime requirements, and the local file
state backend applies to the dev stack only."""

from __future__ import annotations

import os
import re
import subprocess

from tools.offline import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def make(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "MAKE"))}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip


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
    found = re.findall(r"^PULUMI_BACKEND_URL [:?]?= (.*)$", make("-pn", f"STACK={stack}", "help"),
                       flags=re.M)  # fmt: skip
    return found[0] if found else ""


def test_only_the_dev_stack_gets_the_local_file_backend() -> None:
    assert backend("dev").startswith("file://")
    assert backend("prod") == ""
    assert backend("staging") == ""
