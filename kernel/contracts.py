"""Typed values one component hands another: an output of one, an Arg of the next.

Components never import each other; what crosses between them is defined here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

ETCD_SNAPSHOT_CRONJOB = "etcd-snapshot"
"""Metric contract with PersistenceLayer: the etcd backup CronJob in capi mode has this name."""


@dataclass(frozen=True)
class ServiceRef:
    """A Service one component publishes for another to route or connect to."""

    service: pulumi.Input[str]
    namespace: pulumi.Input[str]
    port: int
    """Service port."""
    target_port: int | None = None
    """Container port behind `port` (NetworkPolicies match pod ports); default `port`."""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels of the backend pods, to narrow allow rules in their namespace."""

    @property
    def pod_port(self) -> int:
        return self.target_port or self.port


@dataclass(frozen=True)
class ObjectStoreInfo:
    """An S3 bucket another component (Loki) may use; namespace-agnostic: the caller
    puts the credentials into a Secret in its own namespace under the keys it needs."""

    endpoint: str | None
    """S3 endpoint URL; None = AWS S3 in `region`."""
    region: str
    bucket: str
    force_path_style: bool
    insecure: bool
    """True for the plain-HTTP embedded dev store."""
    access_key_id: pulumi.Output[str] | None
    """Pulumi secret; None = use IRSA / the node instance profile."""
    secret_access_key: pulumi.Output[str] | None


@dataclass(frozen=True)
class BackupMonitoring:
    """What the observability stack needs to scrape Velero and alert on it."""

    namespace: pulumi.Output[str]
    pod_labels: Mapping[str, str]
    metrics_port: int
    prometheus_rule_spec: Mapping[str, Any]
    """`spec` of a monitoring.coreos.com/v1 PrometheusRule."""


@dataclass(frozen=True)
class WorkloadAccess:
    """How a resource hook reaches a CAPI workload cluster when it runs: through the
    `<cluster>-kubeconfig` Secret on the management cluster, read by the hook itself.

    Plain values known before anything is registered: a before_update hook on the
    control plane runs before that update, so it may depend on none of its outputs.
    """

    management_kubeconfig: str | None
    """Path of the management kubeconfig; None = $KUBECONFIG or ~/.kube/config."""
    management_context: str | None
    namespace: str
    """Namespace of the Cluster object on the management cluster."""
    cluster: str

    @property
    def kubeconfig_secret(self) -> str:
        """Cluster API's workload kubeconfig Secret (key `value`)."""
        return f"{self.cluster}-kubeconfig"


HookFactory = Callable[[WorkloadAccess], pulumi.ResourceHook]
"""Makes a hook for a cluster's control plane, given how to reach that cluster."""


@dataclass(frozen=True)
class ExposedTenant:
    """A tenant namespace published through the shared Gateway (SecurityBaseline ->
    EdgeGateway): its listeners admit HTTPRoutes from this namespace only."""

    namespace: pulumi.Input[str]
    name: str
    hostnames: tuple[str, ...]
    port: int
    """Container port of the tenant's pods Envoy may reach."""


@dataclass(frozen=True)
class KubeletServingCerts:
    """HAControlPlane -> SecurityBaseline: the kubelets ask the cluster CA for serving
    certificates (serverTLSBootstrap), so an approver must check and approve each CSR
    against what a node of this cluster may be called and where its addresses lie."""

    node_name_regex: str
    """Every DNS name in a CSR must match (kubelet-csr-approver providerRegex)."""
    ip_prefixes: tuple[str, ...]
    """Every IP in a CSR must lie in one of these (providerIpPrefixes); () = not checked."""
    resolve_dns: bool
    """The node names resolve to their IPs through the cluster's DNS (VPC DNS on AWS)."""


@dataclass(frozen=True)
class ApiServerAuditLog:
    """HAControlPlane -> ObservabilityStack: where kube-apiserver writes its audit log on
    every control-plane node (`--audit-log-path`), and how long the node keeps it."""

    path: str
    max_age_days: int
    max_backups: int
    max_size_mb: int

    @property
    def directory(self) -> str:
        return self.path.rsplit("/", 1)[0]
