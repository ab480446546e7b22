"""Small helpers shared by the components: charts, NetworkPolicies, labels.

Not a component: nothing here registers a resource on its own behalf. Each helper
takes the caller's ResourceOptions so children stay parented to the caller.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from kernel import footprint
from kernel.catalogue import ChartRef

MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k8s-platform"}


def child_opts(
    parent: pulumi.Resource, provider: pulumi.ProviderResource | None, **extra: Any
) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, provider=provider, **extra)


def helm_chart(
    name: str,
    ref: ChartRef,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    skip_crds: bool = False,
    daemonset_values: Sequence[str] = (),
) -> k8s.helm.v4.Chart:
    """A Chart v4 from the pinned catalogue.

    Chart v4 renders client-side and lets Pulumi own each object (per-object diffs,
    policy packs see them). It never runs Helm hooks: callers turn hook-based
    features off in `values` and say so where they do.
    `daemonset_values` lists dotted values paths whose `resources` belong to a
    DaemonSet, for the footprint report (see kernel/footprint.py).
    """
    footprint.record_chart(ref.name, values, daemonset_values, release=name)
    local = local_chart(ref)
    return k8s.helm.v4.Chart(
        name,
        chart=local or ref.chart,
        # Helm ignores the version of a local path (action.ChartPathOptions.LocateChart);
        # local_chart() has checked it, and the policy pack reads it from the inputs.
        version=ref.version,
        namespace=namespace,
        repository_opts=None
        if local or ref.is_oci
        else k8s.helm.v4.RepositoryOptsArgs(repo=ref.repo),
        values=dict(values),
        skip_crds=skip_crds,
        opts=opts,
    )


# Air-gapped installs: a directory of unpacked chart sources (`make charts` writes one in
# build/charts) replaces the chart repositories. The pin still decides: a source at
# another version is an error, never a silent upgrade.
CHART_SOURCES_ENV = "K8S_PLATFORM_CHART_SOURCES"


def local_chart(ref: ChartRef) -> str | None:
    root = os.environ.get(CHART_SOURCES_ENV)
    if not root:
        return None
    path = Path(root) / ref.name
    meta = chart_meta(path) if (path / "Chart.yaml").is_file() else {}
    found = str(meta.get("version", "no chart"))
    if found != ref.version:
        raise ValueError(
            f"{CHART_SOURCES_ENV}: {ref.name} {ref.version} is pinned, but {path} holds "
            f"{found}; run `make charts` or unset {CHART_SOURCES_ENV}"
        )
    return str(path)


def chart_meta(chart_dir: Path) -> dict[str, Any]:
    """A chart source's Chart.yaml. Some start with `---` and end with an empty document."""
    docs = yaml.safe_load_all((chart_dir / "Chart.yaml").read_text())
    return dict(next((d for d in docs if d), {}))


# ---- NetworkPolicies --------------------------------------------------------------------

Peer = dict[str, Any]
Port = dict[str, Any]


def namespace_peer(
    namespace: pulumi.Input[str], pod_labels: Mapping[str, str] | None = None
) -> Peer:
    peer: Peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pod_labels:
        peer["podSelector"] = {"matchLabels": dict(pod_labels)}
    return peer


def cidr_peer(cidr: str, exclude: Sequence[str] = ()) -> Peer:
    block: dict[str, Any] = {"cidr": cidr}
    if exclude:
        block["except"] = list(exclude)
    return {"ipBlock": block}


def tcp(*ports: int | str) -> list[Port]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def network_policy(
    name: str,
    namespace: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    *,
    pod_selector: Mapping[str, str] | None = None,
    ingress_from: Sequence[Peer] | None = None,
    ingress_ports: Sequence[Port] = (),
    egress_to: Sequence[Peer] | None = None,
    egress_ports: Sequence[Port] = (),
    resource_name: str | None = None,
) -> k8s.networking.v1.NetworkPolicy:
    """One allow rule. `None` leaves a direction out; `[]` peers means "any peer".

    Plain networking.k8s.io/v1 so the same object works with kind's
    kube-network-policies and with Cilium.
    """
    types: list[str] = []
    spec: Any = {"podSelector": {"matchLabels": dict(pod_selector or {})}}
    if ingress_from is not None:
        types.append("Ingress")
        rule: dict[str, Any] = {}
        if ingress_from:
            rule["from"] = list(ingress_from)
        if ingress_ports:
            rule["ports"] = list(ingress_ports)
        spec["ingress"] = [rule]
    if egress_to is not None:
        types.append("Egress")
        rule = {}
        if egress_to:
            rule["to"] = list(egress_to)
        if egress_ports:
            rule["ports"] = list(egress_ports)
        spec["egress"] = [rule]
    spec["policyTypes"] = types
    metadata: Any = {"name": name, "namespace": namespace, "labels": MANAGED_BY}
    return k8s.networking.v1.NetworkPolicy(
        resource_name or name, metadata=metadata, spec=spec, opts=opts
    )


def default_deny(namespace: str, opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """Deny all ingress and egress for every pod; allows are added one by one."""
    metadata: Any = {"name": "default-deny-all", "namespace": namespace, "labels": MANAGED_BY}
    spec: Any = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    return k8s.networking.v1.NetworkPolicy(
        f"{namespace}-default-deny", metadata=metadata, spec=spec, opts=opts
    )


def allow_dns(namespace: str, opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    return network_policy(
        "allow-dns",
        namespace,
        opts,
        egress_to=[namespace_peer("kube-system", {"k8s-app": "kube-dns"})],
        egress_ports=[{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        resource_name=f"{namespace}-allow-dns",
    )


def resources(
    cpu: str, memory: str, *, cpu_limit: str | None = None, memory_limit: str | None = None
) -> dict[str, Any]:
    """Requests and limits for one container (admission policy requires both).

    Limits default to the requests: predictable for memory (no overcommit), and the
    caller raises `cpu_limit` where bursts matter.
    """
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit or cpu, "memory": memory_limit or memory},
    }


def pod_security_labels(level: str, version: str) -> dict[str, str]:
    """Enforce and warn at the namespace's level; audit always at `restricted`, so the
    audit log shows what a weaker namespace would break under the strict profile."""
    prefix = "pod-security.kubernetes.io"
    return {
        f"{prefix}/enforce": level,
        f"{prefix}/enforce-version": version,
        f"{prefix}/warn": level,
        f"{prefix}/warn-version": version,
        f"{prefix}/audit": "restricted",
        f"{prefix}/audit-version": version,
    }


def isolated_namespace(
    name: str,
    *,
    pod_security: str,
    pod_security_version: str,
    opts: pulumi.ResourceOptions,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> k8s.core.v1.Namespace:
    """A Namespace that starts closed: PSA labels, default-deny both ways, then only
    DNS to kube-dns and traffic between pods of the same namespace.

    Every namespace this program creates goes through here (a test enforces it).
    """
    ns = k8s.core.v1.Namespace(
        name,
        metadata={
            "name": name,
            "labels": {
                **MANAGED_BY,
                **(labels or {}),
                **pod_security_labels(pod_security, pod_security_version),
            },
            "annotations": dict(annotations or {}),
        },
        opts=opts,
    )
    inner = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns]))
    default_deny(name, inner)
    allow_dns(name, inner)
    network_policy(
        "allow-same-namespace",
        name,
        inner,
        ingress_from=[{"podSelector": {}}],
        egress_to=[{"podSelector": {}}],
        resource_name=f"{name}-allow-same-namespace",
    )
    return ns


class KubeObject(pulumi.CustomResource):
    """A custom-resource object with top-level fields besides `spec` (VolumeSnapshotClass
    has `driver` and `deletionPolicy`), which `apiextensions.CustomResource` cannot express.
    Same type token the Kubernetes provider uses for any CRD kind."""

    def __init__(
        self,
        name: str,
        api_version: str,
        kind: str,
        body: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"apiVersion": api_version, "kind": kind, **body}
        super().__init__(f"kubernetes:{api_version}:{kind}", name, props, opts)

    def name_output(self) -> pulumi.Output[str]:
        metadata: pulumi.Output[Any] = getattr(self, "metadata")  # noqa: B009
        return metadata.apply(lambda m: m["name"])


def custom_resource(  # noqa: PLR0917 - reads like the manifest: apiVersion, kind, name, namespace, spec
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    spec: dict[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    annotations: dict[str, str] | None = None,
) -> k8s.apiextensions.CustomResource:
    """A custom resource named `<kind>-<name>` in Pulumi, labelled as ours."""
    metadata: dict[str, Any] = {"name": name, "labels": MANAGED_BY}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = annotations
    return k8s.apiextensions.CustomResource(
        f"{kind.lower()}-{name}",
        api_version=api_version,
        kind=kind,
        metadata=metadata,
        spec=spec,
        opts=opts,
    )
