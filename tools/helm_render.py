"""Render a Helm chart offline with Helm's own engine, as pulumi-kubernetes helm.v4.Chart does.

helm.v4.Chart runs `helm template` semantics (Helm's install action, dry run, client only):
values are coalesced and checked against values.schema.json, templates of enabled
dependencies are rendered, `crds/` files are included unless `skipCrds`, and hooks are
disabled: an object carrying a `helm.sh/hook` annotation is never applied. Its List kinds
are expanded and namespaced objects without a namespace get the Chart's namespace.

The engine is `helm-python-sdk` (libhelm_c, Helm v4's Go SDK over a C ABI; no helm binary,
no network, no cluster: `lookup` returns nothing). Its public `Chart.render` has no
capabilities argument, but the native `helm_render` call takes `kube_version` and
`api_versions` in its options JSON (decoded strictly: unknown keys are refused), so this
module calls it directly.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import helm_python as helm
import yaml
from helm_python import _native

HOOK = "helm.sh/hook"
# Helm's SplitManifests splits on (?:^|\s*\n)---\s* ; this is the same split, linear time.
_SEPARATOR = re.compile(r"^---\s*", re.MULTILINE)

# Helm's InstallOrder (pkg/release/util/kind_sorter.go): the order the manifest lists kinds.
INSTALL_ORDER = (
    *("PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange"),
    *("PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList"),
    *("ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim"),
    *("CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding"),
    *("ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList"),
    *("Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment"),
    *("HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress"),
    *("APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
)

# Built-in kinds that are cluster-scoped (everything else built in is namespaced).
CLUSTER_SCOPED = frozenset(
    {
        *("Namespace", "Node", "PersistentVolume", "ComponentStatus", "APIService"),
        *("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "StorageClass"),
        *("CSIDriver", "CSINode", "VolumeAttachment", "PriorityClass", "RuntimeClass"),
        *("IngressClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
        *("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"),
        *("MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"),
        *("CertificateSigningRequest", "FlowSchema", "PriorityLevelConfiguration"),
        *("DeviceClass", "ResourceSlice", "VolumeAttributesClass", "IPAddress", "ServiceCIDR"),
    }
)


class ChartRenderError(Exception):
    """A chart that cannot be rendered: missing dependency, bad values, template error."""


@dataclass(frozen=True)
class RenderedChart:
    release: str
    namespace: str
    objects: tuple[dict[str, Any], ...]
    """What helm.v4.Chart registers: CRDs (when included) first, then the manifest."""
    hooks: tuple[dict[str, Any], ...]
    """Objects with a `helm.sh/hook` annotation: rendered by Helm, never applied by Pulumi."""


class CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as Kubernetes reads it: timestamps stay strings, a bare `=` is a string."""


CrdLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CrdLoader.add_constructor("tag:yaml.org,2002:value", CrdLoader.construct_yaml_str)


def render_chart(
    chart_dir: Path,
    release: str,
    namespace: str,
    values: Mapping[str, Any],
    *,
    kube_version: str,
    api_versions: Collection[str],
    include_crds: bool,
    cluster_scoped: Collection[str] = (),
) -> RenderedChart:
    """Render `chart_dir` as release `release` in `namespace`.

    `api_versions` ("group/version" and "group/version/Kind") are added to Helm's built-in
    set, as the provider adds the cluster's discovery; `kube_version` is e.g. "v1.35.0".
    `cluster_scoped` names extra cluster-scoped kinds (from CRDs) for namespace defaulting.
    """
    opts = {
        "name": release,
        "namespace": namespace,
        "is_install": True,
        "kube_version": kube_version,
        "api_versions": sorted(api_versions),
    }
    try:
        with helm.Chart.load(chart_dir) as chart:
            enabled = _enabled_dependencies(chart, values)
            payload = _native.call_string(
                "helm_render", chart._raw(), json.dumps(dict(values)), json.dumps(opts)
            )
            crd_files = chart.crds if include_crds else []
    except helm.HelmError as exc:
        raise ChartRenderError(f"{release} ({chart_dir.name}): {exc}") from exc
    templates: dict[str, str] = json.loads(payload)
    crds = [
        doc
        for f in sorted(crd_files, key=lambda f: f["filename"])
        if _owner(f["filename"]) in enabled
        for doc in _documents(f["data"], f["filename"])
    ]
    rendered = [
        doc
        for path in sorted(templates)
        if _is_manifest(path, templates[path])
        for doc in _documents(templates[path], path)
    ]
    scoped = CLUSTER_SCOPED | set(cluster_scoped) | _cluster_scoped_crds(crds + rendered)
    objects = [_defaulted(d, namespace, scoped) for d in crds + rendered if HOOK not in _annos(d)]
    hooks = [_defaulted(d, namespace, scoped) for d in rendered if HOOK in _annos(d)]
    objects.sort(key=_install_rank)
    return RenderedChart(release, namespace, tuple(objects), tuple(hooks))


def _enabled_dependencies(chart: helm.Chart, values: Mapping[str, Any]) -> set[str]:
    """Helm's processDependencyEnabled for the chart's direct dependencies ("" = the chart).

    A condition is a comma list of value paths; the first that resolves to a boolean
    decides, none means enabled. An enabled dependency missing from charts/ is an error
    (Helm's CheckDependencies; the provider would try to download it).
    """
    merged = chart.merge_values(dict(values))
    loaded = {str(d.get("name")) for d in chart.dependencies}
    enabled = {""}
    for dep in chart.metadata.get("dependencies") or []:
        name = str(dep["name"])
        on = True
        for path in str(dep.get("condition") or "").split(","):
            found = _lookup(merged, path.strip()) if path.strip() else None
            if isinstance(found, bool):
                on = found
                break
        if not on:
            continue
        if name not in loaded:
            raise ChartRenderError(
                f"{chart.name}: dependency {name} {dep.get('version')} is enabled "
                "but missing from charts/"
            )
        enabled.add(name)
    return enabled


def _lookup(values: Mapping[str, Any], dotted: str) -> Any:
    node: Any = values
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _owner(filename: str) -> str:
    """'chart/crds/x.yaml' -> ''; 'chart/charts/sub/crds/x.yaml' -> 'sub'."""
    parts = PurePosixPath(filename).parts
    return parts[2] if len(parts) > 3 and parts[1] == "charts" else ""


def _is_manifest(path: str, text: str) -> bool:
    name = PurePosixPath(path).name
    return not name.startswith("_") and not name.endswith("NOTES.txt") and bool(text.strip())


def _documents(text: str, source: str) -> Iterator[dict[str, Any]]:
    yield from _parsed(text, source)


@functools.cache
def _parsed(text: str, source: str) -> tuple[dict[str, Any], ...]:
    """Parsed once per distinct text: a second render of a chart mostly repeats it.
    The result is shared, so callers never mutate it (_defaulted copies)."""
    return tuple(_split(text, source))


def _split(text: str, source: str) -> Iterator[dict[str, Any]]:
    # Split as Helm's SplitManifests does: "---# comment" also separates documents.
    try:
        docs = [yaml.load(part, Loader=CrdLoader) for part in _SEPARATOR.split(text)]
    except yaml.YAMLError as exc:
        raise ChartRenderError(f"{source}: rendered YAML does not parse: {exc}") from exc
    for doc in docs:
        if not doc:
            continue
        if not isinstance(doc, dict):
            raise ChartRenderError(f"{source}: a document is not a mapping")
        # helm.v4.Chart expands v1 List kinds (e.g. ConfigMapList) into their items.
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            yield from (i for i in doc["items"] if i)
        else:
            yield doc


def _annos(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return (doc.get("metadata") or {}).get("annotations") or {}


def _cluster_scoped_crds(docs: list[dict[str, Any]]) -> set[str]:
    return {
        d["spec"]["names"]["kind"]
        for d in docs
        if d.get("kind") == "CustomResourceDefinition" and d["spec"].get("scope") == "Cluster"
    }


def _defaulted(doc: dict[str, Any], namespace: str, scoped: Collection[str]) -> dict[str, Any]:
    """helm.v4.Chart gives namespaced objects without a namespace the Chart's namespace."""
    meta = doc.get("metadata") or {}
    if doc.get("kind") in scoped or meta.get("namespace"):
        return dict(doc)
    return {**doc, "metadata": {**meta, "namespace": namespace}}


def _install_rank(doc: Mapping[str, Any]) -> int:
    kind = str(doc.get("kind", ""))
    return INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)
