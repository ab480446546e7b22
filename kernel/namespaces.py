"""The namespaces the platform owns, their Pod Security level, and why.

This is the one place that lists Pod Security and admission-policy exemptions:
a namespace weaker than `restricted` must say which workload needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

RESTRICTED = "restricted"
PRIVILEGED = "privileged"


@dataclass(frozen=True)
class PlatformNamespace:
    name: str
    purpose: str
    pod_security: str = RESTRICTED
    reason: str = ""
    """Why this namespace needs less than `restricted` (required when it does)."""
    api_access: bool = True
    """Its pods talk to the Kubernetes API (operators, controllers, log/metric discovery)."""

    def __post_init__(self) -> None:
        if self.pod_security != RESTRICTED and not self.reason:
            raise ValueError(f"namespace {self.name}: a weaker Pod Security level needs a reason")

    @property
    def policy_exempt(self) -> bool:
        """Admission policies for privileged pods and hostPath skip this namespace."""
        return self.pod_security == PRIVILEGED


CERT_MANAGER = "cert-manager"
KYVERNO = "kyverno"
TRIVY = "trivy-system"
VELERO = "velero"
STORAGE = "storage"
MONITORING = "monitoring"
NODE_EXPORTER = "node-exporter"
LOGGING = "logging"
GATEWAY = "gateway"
ETCD_BACKUP = "etcd-backup"
KUBELET_CSR_APPROVER = "kubelet-csr-approver"
APISERVER_AUDIT = "apiserver-audit"

PLATFORM_NAMESPACES: tuple[PlatformNamespace, ...] = (
    PlatformNamespace(CERT_MANAGER, "cert-manager controller, webhook and CA injector"),
    PlatformNamespace(KYVERNO, "Kyverno admission, background, cleanup and reports controllers"),
    # restricted: SecurityBaseline turns off the node-collector scanners (infra assessment,
    # cluster compliance), the only trivy pods that need hostPath.
    PlatformNamespace(TRIVY, "trivy-operator and its image scan jobs"),
    PlatformNamespace(VELERO, "Velero backups and the embedded dev object store"),
    PlatformNamespace(STORAGE, "CSI snapshot controller"),
    PlatformNamespace(MONITORING, "Prometheus, Alertmanager, Grafana, kube-state-metrics"),
    PlatformNamespace(
        NODE_EXPORTER,
        "prometheus-node-exporter only",
        PRIVILEGED,
        "node-exporter needs hostNetwork, hostPID and read-only hostPath mounts of / and /proc",
        api_access=False,
    ),
    PlatformNamespace(LOGGING, "Loki and the Alloy log shipper"),
    PlatformNamespace(
        APISERVER_AUDIT,
        "Alloy shipping the API server's audit log to Loki (capi mode only)",
        PRIVILEGED,
        "Alloy runs as root on control-plane nodes to read the root-only (0600) audit log "
        "from a read-only hostPath mount of its directory; no capabilities, no API access",
        api_access=False,
    ),
    PlatformNamespace(
        KUBELET_CSR_APPROVER,
        "kubelet-csr-approver: approves kubelet serving certificates (capi mode on AWS only)",
    ),
    PlatformNamespace(GATEWAY, "Gateway API controller and data plane"),
    PlatformNamespace(
        ETCD_BACKUP,
        "etcd snapshot CronJob on control-plane nodes (capi mode only)",
        PRIVILEGED,
        "etcdctl needs hostNetwork (etcd listens on 127.0.0.1) and a hostPath mount of the "
        "root-only etcd client certificates in /etc/kubernetes/pki/etcd; kept out of kube-system, "
        "which is not ours",
    ),
)

BY_NAME = {ns.name: ns for ns in PLATFORM_NAMESPACES}

SYSTEM_NAMESPACES = ("kube-system",)
"""Created by Kubernetes, not by us: CNI and CSI node plugins run privileged there.
Kyverno's webhooks skip kube-system by default (`config.webhooks.namespaceSelector`)."""

POLICY_EXEMPT_NAMESPACES: tuple[str, ...] = SYSTEM_NAMESPACES + tuple(
    ns.name for ns in PLATFORM_NAMESPACES if ns.policy_exempt
)
"""The one list of namespaces where privileged pods and hostPath volumes are allowed."""
