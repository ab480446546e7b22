"""`make doctor` on faked tool outputs: what it accepts, what it reports and how."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from tests.helpers import FIXTURES
from tools import doctor

E2E = FIXTURES / "e2e"

# Real first lines of each tool's version command.
OUTPUTS = {
    "pulumi": (0, "v3.272.0\n"),
    "kind": (0, "kind v0.33.0 go1.25.5 linux/amd64\n"),
    "docker": (0, "28.5.1\n"),
    "kubectl": (
        0,
        json.dumps({"clientVersion": {"gitVersion": "v1.35.8", "minor": "35"}}),
    ),
    "clusterctl": (0, "v1.14.2\n"),
    "clusterawsadm": (0, "v2.13.0\n"),
}
DAEMON = (0, "28.5.1\n")
RANGE = ((1, 32), (1, 35))


class FakeHost:
    def __init__(
        self,
        outputs: dict[str, tuple[int, str]],
        daemon: tuple[int, str] = DAEMON,
        server: tuple[int, str] | None = None,
    ) -> None:
        self.outputs, self.daemon, self.server = outputs, daemon, server

    def which(self, name: str) -> str | None:
        return f"/usr/local/bin/{name}" if name in self.outputs else None

    def run(self, cmd: Sequence[str]) -> tuple[int, str]:
        if cmd[:2] == ("docker", "info"):
            return self.daemon
        if "--context" in cmd:
            assert self.server is not None
            return self.server
        return self.outputs[cmd[0]]


def failures(
    host: FakeHost,
    stack: str = "dev",
    python: tuple[int, ...] = (3, 11, 9),
    management: tuple[str, doctor.MinorRange] | None = None,
) -> list[str]:
    return [
        line
        for ok, line in doctor.diagnose(stack, host.which, host.run, python, management)
        if not ok
    ]


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("v3.272.0\n", (3, 272, 0)),
        ("kind v0.31.0 go1.25.5 linux/amd64", (0, 31, 0)),
        ("kind v0.8.1 go1.14.2 linux/amd64", (0, 8, 1)),
        ("28.5.1", (28, 5, 1)),
        ("v1.14.0", (1, 14, 0)),
        (
            '{"clientVersion": {"gitVersion": "v1.34.2"}, "kustomizeVersion": "v5.7.1"}',
            (1, 34, 2),
        ),
        ("command not found", None),
        ("{not json", None),
    ],
)
def test_versions_are_read_from_each_tools_own_output(
    output: str, version: tuple[int, ...] | None
) -> None:
    assert doctor.parse_version(output) == version


def test_a_complete_dev_laptop_passes() -> None:
    assert failures(FakeHost(OUTPUTS)) == []


def test_prod_tools_are_not_required_for_dev() -> None:
    host = FakeHost({k: v for k, v in OUTPUTS.items() if not k.startswith("cluster")})
    assert failures(host) == []


def test_each_missing_tool_is_one_line_that_says_what_to_install() -> None:
    lines = failures(FakeHost({"docker": OUTPUTS["docker"]}))
    assert [line.split(":")[1].split()[0] for line in lines] == [
        "pulumi",
        "kind",
        "kubectl",
    ]
    assert all(line.startswith("missing:") and "install http" in line for line in lines)


def test_pulumi_older_than_resource_hooks_is_refused_with_the_reason() -> None:
    (line,) = failures(FakeHost({**OUTPUTS, "pulumi": (0, "v3.181.0\n")}))
    assert "pulumi 3.181.0 < 3.182.0" in line and "resource hooks" in line


def test_the_minimum_pulumi_itself_is_accepted() -> None:
    assert failures(FakeHost({**OUTPUTS, "pulumi": (0, "v3.182.0\n")})) == []


def test_an_old_kind_is_refused() -> None:
    (line,) = failures(FakeHost({**OUTPUTS, "kind": (0, "kind v0.30.0 go1.24 linux/amd64")}))
    assert line.startswith("too old: kind 0.30.0 < 0.33.0")


def test_a_tool_that_prints_no_version_is_reported_not_trusted() -> None:
    (line,) = failures(FakeHost({**OUTPUTS, "kubectl": (1, "")}))
    assert line.startswith("broken: kubectl")


def test_a_docker_client_without_a_daemon_is_reported() -> None:
    # Recorded: `docker version` prints the client version and exits 1 without a daemon.
    (line,) = failures(FakeHost({**OUTPUTS, "docker": (1, "28.2.2\n")}, daemon=(1, "")))
    assert line.startswith("unreachable: docker daemon")


def test_python_older_than_3_11_is_refused() -> None:
    (line,) = failures(FakeHost(OUTPUTS), python=(3, 10, 14))
    assert line.startswith("too old: python 3.10.14 < 3.11")


def test_prod_needs_clusterctl_clusterawsadm_and_the_management_cluster() -> None:
    host = FakeHost({k: v for k, v in OUTPUTS.items() if not k.startswith("cluster")})
    lines = failures(host, "prod")
    assert [line.split(":")[1].split()[0] for line in lines] == [
        "clusterctl",
        "clusterawsadm",
        "--mgmt-context",
    ]


def test_the_management_cluster_minor_is_read_from_kubectl_version() -> None:
    recorded = (E2E / "kubectl-version.json").read_text()
    assert doctor.server_minor(recorded) == (1, 33)  # EKS says minor "33+"
    assert failures(FakeHost(OUTPUTS, server=(0, recorded)), "prod", management=("m", RANGE)) == []


def test_a_management_cluster_outside_the_range_is_refused() -> None:
    recorded = (E2E / "kubectl-version.json").read_text()
    (line,) = failures(
        FakeHost(OUTPUTS, server=(0, recorded)), "prod", management=("mgmt", ((1, 34), (1, 35)))
    )
    assert line == "unsupported: management cluster mgmt runs Kubernetes 1.33, outside 1.34-1.35"


def test_an_unreachable_management_cluster_is_refused() -> None:
    (line,) = failures(FakeHost(OUTPUTS, server=(1, "")), "prod", management=("mgmt", RANGE))
    assert line.startswith("unreachable: management cluster (context mgmt)")


def test_a_malformed_range_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        doctor.main(["--stack", "prod", "--mgmt-context", "m", "--mgmt-minor", "1.32"])


def test_exit_code_and_stderr_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    host = FakeHost({"docker": OUTPUTS["docker"]})
    monkeypatch.setattr("shutil.which", host.which)
    monkeypatch.setattr(doctor, "_run", host.run)
    assert doctor.main([]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("missing:") for line in err)
