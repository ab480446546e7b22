"""HAControlPlane: the cluster every other component deploys to.

`existing` mode targets a running cluster (kind on a laptop, or any kube context).
`capi` mode provisions an upstream kubeadm cluster through Cluster API.
Either way the component exposes one Kubernetes provider for the workload cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

TYPE_TOKEN = "k8splatform:cluster:HAControlPlane"

EXISTING = "existing"
CAPI = "capi"
MODES = (EXISTING, CAPI)


@dataclass(frozen=True)
class ExistingClusterSettings:
    kubeconfig: str | None
    """The path the user set, or None to let each machine use its own default."""
    context: str
    server: str
    minified_kubeconfig: str
    """One-context kubeconfig read at plan time; only ever published as a secret."""


@dataclass(frozen=True)
class ClusterSettings:
    name: str
    mode: str
    kubernetes_version: str
    existing: ExistingClusterSettings | None = None

    @property
    def kubernetes_minor(self) -> str:
        """'v1.34.2' -> 'v1.34' (Pod Security labels and validators use the minor)."""
        return ".".join(self.kubernetes_version.split(".")[:2])


@dataclass(frozen=True)
class HAControlPlaneArgs:
    settings: ClusterSettings


class HAControlPlane(pulumi.ComponentResource):
    provider: k8s.Provider
    """Kubernetes provider for the workload cluster; pass it to every other component."""
    cluster_name: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    kubernetes_version: pulumi.Output[str]
    control_plane_replicas: pulumi.Output[int | None]
    failure_domains: pulumi.Output[list[str]]
    control_plane_metrics: bool
    """True when etcd, scheduler and controller-manager metrics are reachable."""

    def __init__(
        self, name: str, args: HAControlPlaneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        if s.mode == EXISTING:
            self._existing(s)
        else:
            raise ValueError(f"cluster.mode {s.mode!r} is not implemented")
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "api_endpoint": self.api_endpoint,
                "kubeconfig": self.kubeconfig,
                "kubernetes_version": self.kubernetes_version,
                "control_plane_replicas": self.control_plane_replicas,
                "failure_domains": self.failure_domains,
            }
        )

    def _existing(self, s: ClusterSettings) -> None:
        assert s.existing is not None
        e = s.existing
        # A stable identifier: a kubeconfig change (new kind certs, another laptop)
        # becomes a provider update instead of replacing every object it manages.
        self.provider = k8s.Provider(
            f"{s.name}-cluster",
            kubeconfig=e.kubeconfig,
            context=e.context,
            cluster_identifier=f"{s.name}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster_name = pulumi.Output.from_input(s.name)
        self.api_endpoint = pulumi.Output.from_input(e.server)
        self.kubeconfig = pulumi.Output.secret(e.minified_kubeconfig)
        self.kubernetes_version = pulumi.Output.from_input(s.kubernetes_version)
        # Unknown for a cluster we did not build; never guessed.
        self.control_plane_replicas = pulumi.Output.from_input(None)
        self.failure_domains = pulumi.Output.from_input([])
        # kind and most managed clusters bind these to 127.0.0.1 (or hide them).
        self.control_plane_metrics = False
