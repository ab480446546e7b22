"""`make versions`: what is newer than the pins, and which Kubernetes minors are past end of life.

For every pinned component (the rows of kernel/compatibility.yaml, the kind CLI and the
Velero AWS plugin) it prints the newest release its Go module lists (`go list -m -versions`,
through the Go toolchain's module proxy) and, for charts, the newest chart version in its
Helm repository's index.yaml. Then each Kubernetes minor of the matrix with its upstream
support status today and the newest patch the module k8s.io/kubernetes lists.

It needs the network (Go and the chart repositories), so it is not part of CI; the parsing
below is tested on recorded answers (tests/unit/test_versions_report.py). A source that cannot
be reached is reported on its row, never as a newest version.

    python tools/versions.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.persistence.names import VELERO_PLUGIN_AWS
from kernel.catalogue import CHARTS
from kernel.compat import Matrix, load, today

_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")
KUBERNETES_MODULE = "k8s.io/kubernetes"


def semver(version: str) -> tuple[int, int, int, bool] | None:
    """(major, minor, patch, is_release) of 'v1.2.3' / '1.2.3-rc.1'; None if not semver."""
    m = _SEMVER.fullmatch(version.strip())
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4) is None


def newest(versions: Iterable[str]) -> str | None:
    """The highest release (no pre-release) of `versions`, None if there is none."""
    releases = [(v, s) for v in versions if (s := semver(v)) is not None and s[3]]
    return max(releases, key=lambda vs: vs[1])[0] if releases else None


def newest_per_minor(versions: Iterable[str], major: int = 1) -> dict[int, str]:
    """The newest release of each `major`.minor, e.g. k8s.io/kubernetes's patches."""
    out: dict[int, str] = {}
    for v in versions:
        s = semver(v)
        if s is None or not s[3] or s[0] != major:
            continue
        best = out.get(s[1])
        if best is None or s > (semver(best) or s):
            out[s[1]] = v
    return out


def parse_go_versions(module: str, output: str) -> list[str]:
    """`go list -m -versions <module>` prints '<module> v1 v2 ...' (nothing after the path
    when the proxy lists no tagged version)."""
    for line in output.splitlines():
        fields = line.split()
        if fields and fields[0] == module:
            return fields[1:]
    raise ValueError(f"no line for {module} in `go list` output: {output.strip()[:200]!r}")


def parse_chart_index(text: str, chart: str) -> list[str]:
    """Versions of `chart` in a Helm repository index.yaml (`entries.<chart>[].version`)."""
    doc = yaml.safe_load(text) or {}
    entries = (doc.get("entries") or {}).get(chart)
    if entries is None:
        raise ValueError(f"chart {chart} is not in the repository index")
    return [str(e["version"]) for e in entries if isinstance(e, dict) and "version" in e]


def go_versions(module: str) -> list[str]:
    done = subprocess.run(
        ("go", "list", "-m", "-versions", module),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parent,  # outside any go.mod: module mode
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "go failed")
    return parse_go_versions(module, done.stdout)


def chart_versions(repo: str, chart: str) -> list[str]:
    url = repo.rstrip("/") + "/index.yaml"
    with urllib.request.urlopen(url, timeout=60) as resp:  # a Helm repository's index
        return parse_chart_index(resp.read().decode(), chart)


@dataclass(frozen=True)
class Line:
    component: str
    pinned: str
    source: str
    newest: str | None
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error:
            return f"unknown ({self.error})"
        if self.newest is None:
            return "no release listed"
        current = (semver(self.newest) or ()) <= (semver(self.pinned) or ())
        return "current" if current else f"newer: {self.newest}"


Lister = Callable[[str], list[str]]
ChartLister = Callable[[str, str], list[str]]


def _line(component: str, pinned: str, source: str, versions: Callable[[], list[str]]) -> Line:
    try:
        return Line(component, pinned, source, newest(versions()))
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        return Line(component, pinned, source, None, str(exc)[:120])


def component_lines(
    m: Matrix, go: Lister = go_versions, charts: ChartLister = chart_versions
) -> list[Line]:
    """One line per Go module and per chart repository of every pinned component."""
    lines: list[Line] = []
    for r in m.rows:
        if r.module:
            path, version = r.module
            lines.append(_line(r.name, version, f"go {path}", partial(go, path)))
        ref = CHARTS.get(r.chart or "")
        if ref is not None and not ref.is_oci:
            index = partial(charts, ref.repo, ref.name)
            lines.append(_line(f"{r.name} chart", ref.version, ref.repo, index))
    plugin = VELERO_PLUGIN_AWS.partition("@")[0].rpartition(":")[2]
    for name, version, path in (
        ("kind", m.kind_cli, "sigs.k8s.io/kind"),
        ("velero-plugin-for-aws", plugin, "github.com/vmware-tanzu/velero-plugin-for-aws"),
    ):
        lines.append(_line(name, version, f"go {path}", partial(go, path)))
    return lines


def kubernetes_lines(m: Matrix, on: date, patches: dict[int, str]) -> list[str]:
    """Each minor of the matrix: its support status on `on` and the newest listed patch."""
    out = []
    for minor, s in sorted(m.support.items()):
        default = " (default)" if m.default_version.startswith(f"v1.{minor}.") else ""
        patch = patches.get(minor, "none listed")
        out.append(f"v1.{minor}{default}: {s.status(on)}; newest patch {patch}")
    return out


def report(
    m: Matrix, on: date, go: Lister = go_versions, charts: ChartLister = chart_versions
) -> str:
    lines = component_lines(m, go, charts)
    width = max(len(line.component) for line in lines)
    text = [f"Pinned components (checked {on}):"]
    text += [
        f"  {line.component:<{width}}  {line.pinned:<10}  {line.verdict}  [{line.source}]"
        for line in lines
    ]
    try:
        patches = newest_per_minor(go(KUBERNETES_MODULE))
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        patches = {}
        text.append(f"  {KUBERNETES_MODULE}: unknown ({exc})")
    text += ["", f"Kubernetes minors (matrix reviewed {m.reviewed}):"]
    text += [f"  {line}" for line in kubernetes_lines(m, on, patches)]
    return "\n".join(text)


def main() -> int:
    print(report(load(), today()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
