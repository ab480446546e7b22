"""`make versions` (tools/versions.py): its parsing, on answers recorded on 2026-12-07.

tests/data/versions/go-list-*.txt are the exact stdout of `go list -m -versions <module>`
that day. Helm repository indexes could not be recorded, so the index below is written in
the documented index.yaml shape (helm.sh/docs/topics/chart_repository, "The index file":
`entries.<chart>[].version`, newest first), with the pre-release entries Helm repositories
carry.
"""

from __future__ import annotations

import subprocess
from datetime import date

import pytest

from kernel import compat
from tests.helpers import DATA
from tools import versions
from tools.versions import (
    Line,
    component_lines,
    newest,
    newest_per_minor,
    parse_chart_index,
    parse_go_versions,
    report,
)

RECORDED = DATA / "versions"
MATRIX = compat.load()
INDEX = """\
apiVersion: v1
entries:
  kyverno:
    - {name: kyverno, version: 3.10.0-rc.1, appVersion: v1.20.0-rc.1}
    - {name: kyverno, version: 3.9.1, appVersion: v1.19.1}
    - {name: kyverno, version: 3.9.0, appVersion: v1.19.0}
  kyverno-policies:
    - {name: kyverno-policies, version: 3.9.1}
generated: "2026-11-20T10:00:00Z"
"""


def recorded(module: str) -> str:
    return (RECORDED / f"go-list-{module.replace('/', '_').replace('.', '_')}.txt").read_text()


def go(module: str) -> list[str]:
    """`go list` as recorded; a module not recorded fails as go does without the network."""
    try:
        return parse_go_versions(module, recorded(module))
    except FileNotFoundError:
        raise RuntimeError(f"go: module {module}: not recorded") from None


def charts(repo: str, chart: str) -> list[str]:
    if "kyverno" not in repo:
        raise OSError("no answer")
    return parse_chart_index(INDEX, chart)


def test_go_list_output_gives_the_module_versions() -> None:
    found = parse_go_versions("sigs.k8s.io/cluster-api", recorded("sigs.k8s.io/cluster-api"))
    assert found == ["v1.8.4", "v1.13.4", "v1.13.5", "v1.13.6", "v1.14.2"]
    assert newest(found) == "v1.14.2"
    assert parse_go_versions("example.com/m", "example.com/m\n") == []
    with pytest.raises(ValueError, match="no line for"):
        parse_go_versions("example.com/m", "go: module example.com/m: not found\n")


def test_pre_releases_are_never_the_newest_and_patches_group_by_minor() -> None:
    k8s = go("k8s.io/kubernetes")
    assert "v1.38.0-beta.0" in k8s
    assert newest(k8s) == "v1.37.2"
    per_minor = newest_per_minor(k8s)
    assert per_minor[35] == "v1.35.4" and per_minor[36] == "v1.36.3" and per_minor[34] == "v1.34.4"
    assert 38 not in per_minor
    assert newest(["v1.30.14", "v1.30.4", "v1.30.9"]) == "v1.30.14"  # numeric, not text order


def test_a_helm_index_gives_the_chart_versions_without_pre_releases() -> None:
    assert newest(parse_chart_index(INDEX, "kyverno")) == "3.9.1"
    with pytest.raises(ValueError, match="not in the repository index"):
        parse_chart_index(INDEX, "cilium")


def test_each_pinned_component_is_compared_with_its_newest_release() -> None:
    lines = {line.component: line for line in component_lines(MATRIX, go, charts)}
    assert lines["cluster-api"].verdict == "current"  # v1.14.2 pinned
    assert lines["cluster-api-provider-aws"].verdict == "current"
    assert lines["kyverno"].verdict == "newer: v1.19.1"
    assert lines["kyverno chart"].verdict == "newer: 3.9.1"
    assert lines["velero-plugin-for-aws"].verdict == "current"
    assert lines["cilium chart"].verdict == "unknown (no answer)"
    assert lines["loki"].verdict.startswith("unknown (go: module github.com/grafana/loki/v3")
    # every row of the matrix is on the report (a module, a chart, or both)
    assert {r.name for r in MATRIX.rows} <= {c.removesuffix(" chart") for c in lines}


def test_the_report_states_each_minors_end_of_life_status_on_the_day_it_runs() -> None:
    text = report(MATRIX, date(2027, 3, 1), go, charts)
    assert "v1.34: end of life since 2026-10-27; newest patch v1.34.4" in text
    assert "v1.35 (default): end of life since 2027-02-28; newest patch v1.35.4" in text
    assert "v1.36: supported until 2027-06-28; newest patch v1.36.3" in text
    on_review = report(MATRIX, MATRIX.reviewed, go, charts)
    assert "v1.35 (default): supported until 2027-02-28" in on_review
    assert "v1.37: supported until 2027-10-28; newest patch v1.37.2" in on_review


def test_a_failing_go_command_is_reported_on_its_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_a: object, **_k: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess((), 1, "", "go: reading module list: 403 Forbidden\n")

    monkeypatch.setattr(versions.subprocess, "run", no_network)
    line = component_lines(MATRIX, charts=charts)[0]
    error = "go: reading module list: 403 Forbidden"
    assert line == Line("cluster-api", "v1.14.2", "go sigs.k8s.io/cluster-api", None, error)
    assert line.verdict == "unknown (go: reading module list: 403 Forbidden)"
