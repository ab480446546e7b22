"""The whole platform as `pulumi up` would apply it: the program's own objects plus every
object of every chart it installs, rendered with Helm's engine from the pinned sources.

Charts are rendered as pulumi-kubernetes' helm.v4.Chart does (provider/pkg/provider/helm/v4/
chart.go: IncludeCRDs = !skipCrds, DisableHooks, ClientOnly): with the stack's Kubernetes
version and, as the provider's discovery would report on a cluster where the platform is
up, the built-in API versions of that minor plus every CRD the stack installs.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from kernel.catalogue import CHARTS
from tools.chart_sources import SourceGap, chart_dir, gaps_of
from tools.helm_render import CrdLoader, RenderedChart, render_chart
from tools.offline import CRDS_DIR, Evaluation, Resource, manifest

PROGRAM = "program"
WORKLOAD, MANAGEMENT = "workload", "management"
CAPI_GROUP_SUFFIX = "cluster.x-k8s.io"


@dataclass(frozen=True)
class Rendered:
    source: str
    """PROGRAM, or the release name of the chart that renders it."""
    cluster: str
    """WORKLOAD, or MANAGEMENT for what the program installs on the CAPI management cluster."""
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.doc.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        return (self.doc.get("metadata") or {}).get("namespace")

    @property
    def ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name} ({self.source})"


@dataclass(frozen=True)
class FullRender:
    stack: str
    kube_version: str
    objects: tuple[Rendered, ...]
    hooks: tuple[Rendered, ...]
    """Objects with a helm.sh/hook annotation: rendered by Helm, never applied by Pulumi."""
    gaps: tuple[SourceGap, ...]
    """Sub-charts missing from the chart sources, left out of this render (chart_sources)."""

    def workload(self) -> list[Rendered]:
        return [o for o in self.objects if o.cluster == WORKLOAD]

    def of_kind(self, *kinds: str) -> list[Rendered]:
        return [o for o in self.objects if o.kind in kinds]

    def from_chart(self, release: str) -> list[Rendered]:
        found = [o for o in self.objects if o.source == release]
        if not found:
            raise AssertionError(f"the render has no objects from chart {release!r}")
        return found


def builtin_api_versions(kube_version: str) -> set[str]:
    """group/version and group/version/Kind of every built-in kind of that minor, taken from
    the Kubernetes OpenAPI schemas kubernetes-validate bundles."""
    minor = ".".join(kube_version.lstrip("v").split(".")[:2])
    return set(_builtin_api_versions(minor))


@functools.cache
def _builtin_api_versions(minor: str) -> tuple[str, ...]:
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    defs = json.loads((base / f"v{minor}.0-local-strict" / "_definitions.json").read_text())
    out: set[str] = set()
    for schema in defs["$defs"].values():
        if "metadata" not in schema.get("properties", {}):
            continue
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            gv = f"{gvk['group']}/{gvk['version']}".lstrip("/")
            out |= {gv, f"{gv}/{gvk['kind']}"}
    return tuple(sorted(out))


def crd_api_versions(crds: Iterable[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for crd in crds:
        spec = crd["spec"]
        for v in spec["versions"]:
            if v.get("served", True):
                gv = f"{spec['group']}/{v['name']}"
                out |= {gv, f"{gv}/{spec['names']['kind']}"}
    return out


def _is_crd(doc: dict[str, Any]) -> bool:
    return doc.get("kind") == "CustomResourceDefinition"


@functools.cache
def _management_crds() -> tuple[dict[str, Any], ...]:
    """The Cluster API CRDs a management cluster serves (from the reference CRD schemas)."""
    docs = []
    for path in sorted(CRDS_DIR.glob(f"*{CAPI_GROUP_SUFFIX}_*.yaml")):
        docs += [d for d in yaml.load_all(path.read_text(), Loader=CrdLoader) if d and _is_crd(d)]
    return tuple(docs)


def _cluster_of(r: Resource, ev: Evaluation) -> str:
    provider = ev.by_urn(r.provider_urn)
    return (
        MANAGEMENT if provider is not None and provider.name.endswith("-management") else WORKLOAD
    )


def _set_path(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


@dataclass(frozen=True)
class _Job:
    release: str
    chart_dir: Path
    namespace: str
    values: dict[str, Any]
    include_crds: bool
    cluster: str
    gaps: tuple[SourceGap, ...]

    def render(self, kube_version: str, apis: set[str], scoped: set[str]) -> RenderedChart:
        return render_chart(
            self.chart_dir,
            self.release,
            self.namespace,
            self.values,
            kube_version=kube_version,
            api_versions=apis,
            include_crds=self.include_crds,
            cluster_scoped=scoped,
        )


def _jobs(ev: Evaluation) -> Iterator[_Job]:
    for chart in ev.charts():
        name = str(chart.inputs.get("chart", "")).rsplit("/", 1)[-1]
        ref = CHARTS[name]
        if str(chart.inputs.get("version")) != ref.version:
            raise AssertionError(
                f"{chart.name}: version {chart.inputs.get('version')} != catalogue"
            )
        path = chart_dir(ref)
        gaps = tuple(gaps_of(ref, path))
        values = copy.deepcopy(chart.inputs.get("values") or {})
        for gap in gaps:
            _set_path(values, gap.disable, False)
        yield _Job(
            release=chart.name,
            chart_dir=path,
            namespace=str(chart.inputs.get("namespace") or "default"),
            values=values,
            include_crds=not chart.inputs.get("skipCrds", False),
            cluster=_cluster_of(chart, ev),
            gaps=gaps,
        )


def full_render(ev: Evaluation) -> FullRender:
    kube = str(ev.outputs.get("kubernetesVersion"))
    builtins = builtin_api_versions(kube)
    jobs = list(_jobs(ev))
    program = ev.k8s_objects()
    own = [manifest(r, redact=False) for r in program]
    # Pass 1 finds the CRDs each cluster serves; pass 2 renders with them discoverable.
    first = {j.release: j.render(kube, builtins, set()) for j in jobs}
    crds = {
        WORKLOAD: [d for d in own if _is_crd(d)]
        + [
            d for j in jobs if j.cluster == WORKLOAD for d in first[j.release].objects if _is_crd(d)
        ],
        MANAGEMENT: list(_management_crds()),
    }
    scoped = {
        c["spec"]["names"]["kind"]
        for side in crds.values()
        for c in side
        if c["spec"].get("scope") == "Cluster"
    }
    objects = [Rendered(PROGRAM, _cluster_of(r, ev), d) for r, d in zip(program, own, strict=True)]
    hooks: list[Rendered] = []
    for j in jobs:
        rendered = j.render(kube, builtins | crd_api_versions(crds[j.cluster]), scoped)
        objects += [Rendered(j.release, j.cluster, d) for d in rendered.objects]
        hooks += [Rendered(j.release, j.cluster, d) for d in rendered.hooks]
    gaps = tuple(g for j in jobs for g in j.gaps)
    return FullRender(ev.stack, kube, tuple(objects), tuple(hooks), gaps)
