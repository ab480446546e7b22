"""Where the pinned charts' sources are, for the offline full render.

    python tools/chart_sources.py pull      # `make charts`: pull every catalogue chart

A chart source is the layout `helm pull --untar` plus `helm dependency build` gives:
<dir>/<chart>/Chart.yaml with its dependencies under <chart>/charts/. The directories
searched, first match wins: tools/inputs.py chart_roots.
A catalogue chart with no source, or a source at another version, is an error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernel.catalogue import CHARTS, ChartRef
from kernel.kube import chart_meta
from tools import inputs
from tools.helm_render import ChartRenderError

ROOT = Path(__file__).resolve().parent.parent
PULLED = ROOT / "build" / "charts"


@dataclass(frozen=True)
class SourceGap:
    """An enabled dependency that a chart source is known to lack, and what that hides."""

    chart: str
    dependency: str
    disable: str
    """The chart value that turns the dependency off, so the rest still renders."""
    hides: str


# Known gaps of the shared chart tree: its kube-prometheus-stack 88.5.3 lacks the
# sub-charts its INDEX.json lists. `make charts` (helm pull) has them; where they are
# present, the gap does not apply and the whole chart renders.
GAPS: tuple[SourceGap, ...] = (
    SourceGap(
        "kube-prometheus-stack",
        "grafana",
        "grafana.enabled",
        "Grafana's Deployment, Service and sidecar RBAC",
    ),
    SourceGap(
        "kube-prometheus-stack",
        "kube-state-metrics",
        "kubeStateMetrics.enabled",
        "kube-state-metrics and its ServiceMonitor",
    ),
    SourceGap(
        "kube-prometheus-stack",
        "prometheus-node-exporter",
        "nodeExporter.enabled",
        "node-exporter's DaemonSet and ServiceMonitor",
    ),
    SourceGap(
        "kube-prometheus-stack",
        "prometheus-windows-exporter",
        "windowsMonitoring.enabled",
        "nothing (Windows nodes are not used)",
    ),
)


def search_path() -> list[Path]:
    return inputs.chart_roots(ROOT)


def chart_version(chart_dir: Path) -> str:
    return str(chart_meta(chart_dir)["version"])


def chart_dir(ref: ChartRef) -> Path:
    """The source of `ref` at exactly its pinned version."""
    for root in search_path():
        path = root / ref.name
        if (path / "Chart.yaml").is_file():
            found = chart_version(path)
            if found != ref.version:
                raise ChartRenderError(
                    f"{ref.name}: {path} holds version {found}, the catalogue pins {ref.version}"
                )
            return path
    where = ", ".join(str(p) for p in search_path())
    raise ChartRenderError(
        f"{ref.name} {ref.version}: no chart source in {where}; run `make charts` "
        "(pulls every catalogue chart) or set CHARTS_DIR"
    )


def gaps_of(ref: ChartRef, path: Path) -> list[SourceGap]:
    """The known gaps that this source really has: a complete source (`make charts`) has none."""
    return [
        gap
        for gap in GAPS
        if gap.chart == ref.name and not (path / "charts" / gap.dependency / "Chart.yaml").is_file()
    ]


def pull(dest: Path) -> int:
    """Pull every catalogue chart with its dependencies (needs the chart repositories)."""
    import helm_python as helm

    dest.mkdir(parents=True, exist_ok=True)
    for ref in CHARTS.values():
        repo = None if ref.is_oci else ref.repo
        print(f"pull {ref.name} {ref.version}")
        try:
            # A pulled chart archive carries its dependencies under charts/ already.
            helm.pull(
                ref.chart, version=ref.version, repo_url=repo, untar=True, untar_dir=str(dest)
            )
        except helm.HelmError as exc:
            print(f"cannot pull {ref.name} {ref.version} from {ref.repo}: {exc}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("pull", "where"))
    args = parser.parse_args(argv)
    if args.command == "pull":
        return pull(PULLED)
    for ref in CHARTS.values():
        print(f"{ref.name:32} {ref.version:10} {chart_dir(ref)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
