"""The real engines are pinned once (engines/versions.env) and built from wrapper modules
whose go.mod files must agree with the pins: an upgrade is one line plus `go mod tidy`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel import kube
from kernel.catalogue import CHARTS
from tests.live.engines import LIVE_MINUTES, out_of_ci_time
from tools.offline import ROOT

ENGINES = ROOT / "engines"


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ENGINES / "versions.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pins[key] = value
    return pins


def _requires(module_dir: str) -> dict[str, str]:
    text = (ENGINES / module_dir / "go.mod").read_text()
    return dict(re.findall(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)(?:\s*//.*)?$", text, re.M))


@pytest.mark.parametrize(
    ("pin", "module_dir", "module"),
    [
        ("KUBERNETES", "kubernetes", "k8s.io/kubernetes"),
        ("PULUMI", "pulumi", "github.com/pulumi/pulumi/pkg/v3"),
        ("PULUMI", "pulumi", "github.com/pulumi/pulumi/sdk/v3"),
        (
            "PULUMI_KUBERNETES",
            "pulumi-kubernetes",
            "github.com/pulumi/pulumi-kubernetes/provider/v4",
        ),
        (
            "PULUMI_KUBERNETES_SDK",
            "pulumi-kubernetes",
            "github.com/pulumi/pulumi-kubernetes/sdk/v4",
        ),
        # Below v3.217.0 the provider drops a Chart v4's aliases (pulumi/pulumi#21050).
        ("PULUMI_KUBERNETES_GO_SDK", "pulumi-kubernetes", "github.com/pulumi/pulumi/sdk/v3"),
        ("PULUMI_KUBERNETES_GO_SDK", "pulumi-kubernetes", "github.com/pulumi/pulumi/pkg/v3"),
    ],
)
def test_each_wrapper_module_builds_the_pinned_version(
    pin: str, module_dir: str, module: str
) -> None:
    assert _requires(module_dir).get(module) == _pins()[pin]


def test_kubernetes_staging_modules_follow_the_pinned_release() -> None:
    release = _pins()["KUBERNETES"]
    staging = "v0." + release.removeprefix("v1.")
    replaced = re.findall(
        r"(k8s\.io/\S+) => \S+ (v\S+)", (ENGINES / "kubernetes/go.mod").read_text()
    )
    assert replaced, "the wrapper maps no staging module"
    assert {v for _, v in replaced} == {staging}


def test_every_pin_names_its_upstream_release_in_a_comment() -> None:
    lines = (ENGINES / "versions.env").read_text().splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            comment = []
            for above in reversed(lines[:i]):
                if not above.startswith("#"):
                    break
                comment.append(above)
            assert any(w in " ".join(comment) for w in ("release", "commit")), line


def test_local_chart_sources_must_hold_the_pinned_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = CHARTS["kyverno"]
    (tmp_path / ref.name).mkdir()
    (tmp_path / ref.name / "Chart.yaml").write_text(
        f"---\nname: kyverno\nversion: {ref.version}  # VERSION\n"
    )
    monkeypatch.setenv(kube.CHART_SOURCES_ENV, str(tmp_path))
    assert kube.local_chart(ref) == str(tmp_path / ref.name)
    (tmp_path / ref.name / "Chart.yaml").write_text("name: kyverno\nversion: 0.0.1\n")
    with pytest.raises(ValueError, match=r"kyverno 3\.9\.0 is pinned, but .* holds 0\.0\.1"):
        kube.local_chart(ref)
    monkeypatch.delenv(kube.CHART_SOURCES_ENV)
    assert kube.local_chart(ref) is None


def test_the_live_suite_runs_whenever_ci_has_the_time_for_it() -> None:
    start = 1_000_000.0
    assert out_of_ci_time(start + 60, None) is None, "outside .ci/run it always runs"
    assert out_of_ci_time(start + 40 * 60, str(start)) is None, "a warm run has the time"
    late = out_of_ci_time(start + 50 * 60, str(start))
    assert late and "50 min" in late and f"about {LIVE_MINUTES}" in late
