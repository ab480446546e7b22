"""Every Helm chart the platform installs, pinned to an exact version.

An upgrade is a one-line diff here. The versions match the upstream `values.yaml`
files we wrote our values against (see README "Chart catalogue").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartRef:
    name: str
    version: str
    repo: str
    """An https Helm repository, or an `oci://` registry path (chart name appended)."""

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")

    @property
    def chart(self) -> str:
        return f"{self.repo.rstrip('/')}/{self.name}" if self.is_oci else self.name


PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
GRAFANA = "https://grafana.github.io/helm-charts"
GRAFANA_COMMUNITY = "https://grafana-community.github.io/helm-charts"

CHARTS: dict[str, ChartRef] = {
    c.name: c
    for c in (
        ChartRef("prometheus-operator-crds", "31.0.1", PROMETHEUS_COMMUNITY),
        ChartRef("kube-prometheus-stack", "88.5.3", PROMETHEUS_COMMUNITY),
        ChartRef("metrics-server", "3.13.1", "https://kubernetes-sigs.github.io/metrics-server/"),
        # Loki's OSS chart moved to grafana-community in 2026-03; grafana/loki 7.x is GEL only.
        ChartRef("loki", "18.11.0", GRAFANA_COMMUNITY),
        ChartRef("alloy", "1.11.1", GRAFANA),
        ChartRef("cert-manager", "v1.21.1", "https://charts.jetstack.io"),
        ChartRef("kyverno", "3.9.0", "https://kyverno.github.io/kyverno/"),
        ChartRef("kyverno-policies", "3.9.0", "https://kyverno.github.io/kyverno/"),
        ChartRef("trivy-operator", "0.34.0", "https://aquasecurity.github.io/helm-charts/"),
        ChartRef("velero", "12.1.0", "https://vmware-tanzu.github.io/helm-charts"),
        ChartRef(
            "aws-ebs-csi-driver", "2.64.0", "https://kubernetes-sigs.github.io/aws-ebs-csi-driver"
        ),
        ChartRef("snapshot-controller", "5.2.0", "https://piraeus.io/helm-charts/"),
        ChartRef("cilium", "1.20.0", "https://helm.cilium.io/"),
        # Verified: kubernetes/autoscaler tag cluster-autoscaler-chart-9.59.0 (2026-07-21),
        # app v1.35.0; chart now lives in cluster-autoscaler/charts/cluster-autoscaler.
        ChartRef("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler"),
        # Verified: kubernetes/cloud-provider-aws tag
        # helm-chart-aws-cloud-controller-manager-0.0.11 (AWS CCM for cloud-provider=external).
        ChartRef(
            "aws-cloud-controller-manager",
            "0.0.11",
            "https://kubernetes.github.io/cloud-provider-aws",
        ),
        ChartRef("gateway-helm", "v1.9.0", "oci://docker.io/envoyproxy"),
        # postfinance/kubelet-csr-approver tag v1.2.14 (charts/kubelet-csr-approver); its
        # source Chart.yaml says 0.0.1-dummy, the release workflow publishes 1.2.14.
        ChartRef(
            "kubelet-csr-approver",
            "1.2.14",
            "https://postfinance.github.io/kubelet-csr-approver",
        ),
    )
}


def chart(name: str) -> ChartRef:
    return CHARTS[name]
