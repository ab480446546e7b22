"""`make doctor`: every prerequisite, its minimum version, and what to install.

Prints one line per tool; exits 1 with one line per missing or too-old tool on stderr.
    python tools/doctor.py [--stack dev|prod] [--mgmt-context CTX --mgmt-minor 1.33-1.36]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Version = tuple[int, ...]
MinorRange = tuple[tuple[int, int], tuple[int, int]]
Which = Callable[[str], str | None]
Run = Callable[[Sequence[str]], tuple[int, str]]

_SEMVER = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Tool:
    name: str
    version_cmd: tuple[str, ...]
    minimum: Version
    install: str
    why: str = ""
    prod_only: bool = False


# Minimums and why. Pulumi: resource hooks (the pre-upgrade backup on the control plane)
# are implemented in the engine and the Python SDK from 3.182.0 (pulumi/pulumi
# CHANGELOG.md, 3.182.0 (2025-07-14): "[engine] Implement ResourceHooks in the engine
# #19874", "[sdk/python] Implement ResourceHooks in the Python SDK #19876").
TOOLS: tuple[Tool, ...] = (
    Tool(
        "pulumi",
        ("pulumi", "version"),
        (3, 182, 0),
        "https://www.pulumi.com/docs/install/ (curl -fsSL https://get.pulumi.com | sh)",
        "resource hooks need engine 3.182.0+",
    ),
    Tool(
        "kind",
        ("kind", "version"),
        (0, 33, 0),
        "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
        "kind/dev-cluster.yaml pins a node image built for kind 0.33 (kernel/compatibility.yaml)",
    ),
    Tool(
        "docker",
        ("docker", "version", "--format", "{{.Client.Version}}"),
        (20, 10, 0),
        "https://docs.docker.com/engine/install/ (or Docker Desktop)",
        "cgroup v2 hosts need Docker 20.10+",
    ),
    Tool(
        "kubectl",
        ("kubectl", "version", "--client", "-o", "json"),
        (1, 34, 0),
        "https://kubernetes.io/docs/tasks/tools/",
        "kubectl supports one minor of skew from the v1.35 API server",
    ),
    Tool(
        "clusterctl",
        ("clusterctl", "version", "-o", "short"),
        (1, 14, 2),
        "https://cluster-api.sigs.k8s.io/user/quick-start#install-clusterctl",
        "the management cluster runs Cluster API v1.14.2",
        prod_only=True,
    ),
    Tool(
        "clusterawsadm",
        ("clusterawsadm", "version", "-o", "short"),
        (2, 13, 0),
        "https://github.com/kubernetes-sigs/cluster-api-provider-aws/releases",
        "the management cluster runs CAPA v2.13",
        prod_only=True,
    ),
)
PYTHON_MINIMUM: Version = (3, 11)


def parse_version(text: str) -> Version | None:
    """First x.y[.z] in a tool's version output (`pulumi version` -> v3.272.0,
    `kind version` -> kind v0.31.0 go1.25 ...; kubectl JSON -> clientVersion.gitVersion)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return None
        stripped = str((data.get("clientVersion") or {}).get("gitVersion", ""))
    match = _SEMVER.search(stripped)
    if not match:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def fmt(version: Version) -> str:
    return ".".join(map(str, version))


def check_tool(tool: Tool, which: Which, run: Run) -> tuple[bool, str]:
    """(ok, line) for one tool."""
    if which(tool.version_cmd[0]) is None:
        return (
            False,
            f"missing: {tool.name} >= {fmt(tool.minimum)}: install {tool.install}",
        )
    # Not the exit code: `docker version` prints the client's version and fails when the
    # daemon is down, which check_docker_daemon reports on its own line.
    _, out = run(tool.version_cmd)
    version = parse_version(out)
    if version is None:
        return (
            False,
            f"broken: {tool.name}: `{' '.join(tool.version_cmd)}` gave no version",
        )
    if version < tool.minimum:
        return False, (
            f"too old: {tool.name} {fmt(version)} < {fmt(tool.minimum)} ({tool.why}): "
            f"upgrade from {tool.install}"
        )
    return True, f"ok: {tool.name} {fmt(version)} (>= {fmt(tool.minimum)})"


def check_python(version: Version) -> tuple[bool, str]:
    if version[:2] < PYTHON_MINIMUM:
        return False, (
            f"too old: python {fmt(version[:3])} < {fmt(PYTHON_MINIMUM)}: "
            "install Python 3.11+ with venv (https://www.python.org/downloads/)"
        )
    return True, f"ok: python {fmt(version[:3])} (>= {fmt(PYTHON_MINIMUM)})"


def check_docker_daemon(run: Run) -> tuple[bool, str]:
    """kind needs a reachable engine, not just the client."""
    code, out = run(("docker", "info", "--format", "{{.ServerVersion}}"))
    if code != 0 or not out.strip():
        return (
            False,
            "unreachable: docker daemon: start Docker (kind runs its nodes in it)",
        )
    return True, f"ok: docker daemon {out.strip()}"


def server_minor(version_json: str) -> tuple[int, int] | None:
    """(major, minor) of the API server from `kubectl version -o json`. EKS reports
    minor "33+", so gitVersion is read rather than `minor`."""
    try:
        server = json.loads(version_json).get("serverVersion") or {}
    except ValueError:
        return None
    match = _SEMVER.search(str(server.get("gitVersion", "")))
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_minor_range(text: str) -> MinorRange:
    """'1.32-1.35' -> ((1, 32), (1, 35))."""
    match = re.fullmatch(r"(\d+)\.(\d+)-(\d+)\.(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a range such as 1.32-1.35")
    a, b, c, d = map(int, match.groups())
    return (a, b), (c, d)


def check_management(context: str, span: MinorRange, which: Which, run: Run) -> tuple[bool, str]:
    low, high = span
    wanted = f"{low[0]}.{low[1]}-{high[0]}.{high[1]}"
    if which("kubectl") is None:
        return False, f"unchecked: management cluster {context}: kubectl is missing"
    code, out = run(("kubectl", "version", "-o", "json", "--context", context))
    minor = server_minor(out) if code == 0 else None
    if minor is None:
        return (
            False,
            f"unreachable: management cluster (context {context}): no server version",
        )
    if not low <= minor <= high:
        return False, (
            f"unsupported: management cluster {context} runs Kubernetes "
            f"{minor[0]}.{minor[1]}, outside {wanted}"
        )
    return (
        True,
        f"ok: management cluster {context} Kubernetes {minor[0]}.{minor[1]} ({wanted})",
    )


def diagnose(
    stack: str,
    which: Which,
    run: Run,
    python: Version,
    management: tuple[str, MinorRange] | None = None,
) -> list[tuple[bool, str]]:
    results = [check_python(python)]
    for tool in TOOLS:
        if tool.prod_only and stack != "prod":
            continue
        results.append(check_tool(tool, which, run))
        if tool.name == "docker" and results[-1][0]:
            results.append(check_docker_daemon(run))
    if stack == "prod":
        if management is None:
            results.append((False, "missing: --mgmt-context and --mgmt-minor for the prod stack"))
        else:
            results.append(check_management(*management, which, run))
    return results


def _run(cmd: Sequence[str]) -> tuple[int, str]:
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return proc.returncode, proc.stdout


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", choices=("dev", "staging", "prod"))
    parser.add_argument("--mgmt-context", help="kube context of the management cluster (prod)")
    parser.add_argument(
        "--mgmt-minor",
        type=parse_minor_range,
        default=None,
        help="Kubernetes minors the management cluster may run, e.g. 1.33-1.36 "
        "(`python -m kernel.compat management-range`)",
    )
    args = parser.parse_args(argv)
    stack = "prod" if args.stack in ("staging", "prod") else "dev"
    management = (
        (args.mgmt_context, args.mgmt_minor) if args.mgmt_context and args.mgmt_minor else None
    )
    results = diagnose(stack, shutil.which, _run, tuple(sys.version_info[:3]), management)
    for ok, line in results:
        if ok:
            print(line)
    failures = [line for ok, line in results if not ok]
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
