"""Bad stack configuration: every case fails with a SettingsError naming its key.

Table-driven so adding a case is one row: (overrides on top of a stack file, the key
path that must be named, the stack). No case may escape as a library exception
(KeyError, TypeError, AttributeError...) or print a traceback.
"""

from __future__ import annotations

from typing import Any

import pytest

from settings import SettingsError, load
from tools.offline import DELETE, apply_overrides, stack_config

# The fixture kubeconfig (tests/conftest.py): settings read it at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")

TEN = "security.tenants"
MS = "observability.metricsServer.replicas"

# (overrides, key that must be named, stack)
CASES: list[tuple[dict[str, Any], str, str]] = [
    # wrong types
    ({"profile": 1}, "profile", "dev"),
    ({"profile": ["prod"]}, "profile", "dev"),
    ({"profile": {"name": "prod"}}, "profile", "dev"),
    ({"acceptRisks": "all"}, "acceptRisks", "prod"),
    ({"acceptRisks": [1]}, "acceptRisks", "prod"),
    ({"acceptRisks": {MS: True}}, "acceptRisks", "prod"),
    ({"secrets": ["a"]}, "secrets", "dev"),
    ({"secrets": "x"}, "secrets", "dev"),
    ({"cluster": "kind"}, "cluster", "dev"),
    ({"cluster": ["kind"]}, "cluster", "dev"),
    ({"cluster.name": 7}, "cluster.name", "dev"),
    ({"cluster.mode": True}, "cluster.mode", "dev"),
    ({"cluster.kubernetesVersion": 1.35}, "cluster.kubernetesVersion", "dev"),
    ({"cluster.kubeconfig": ["a", "b"]}, "cluster.kubeconfig", "dev"),
    ({"cluster.context": {"name": "x"}}, "cluster.context", "dev"),
    ({"security": ["tenants"]}, "security", "dev"),
    ({TEN: "demo"}, TEN, "dev"),
    ({TEN: {"name": "demo"}}, TEN, "dev"),
    ({TEN: ["demo"]}, f"{TEN}[0]", "dev"),
    ({TEN: [["demo"]]}, f"{TEN}[0]", "dev"),
    ({TEN: [{"name": 5}]}, f"{TEN}[0].name", "dev"),
    ({"persistence": 3}, "persistence", "dev"),
    ({"persistence.existingStorageClass": ["standard"]}, "persistence.existingStorageClass", "dev"),
    ({"observability": []}, "observability", "dev"),
    ({"observability.metricsServer": 2}, "observability.metricsServer", "dev"),
    ({MS: "2"}, MS, "dev"),
    ({MS: 2.5}, MS, "dev"),
    ({MS: True}, MS, "dev"),
    ({MS: None}, MS, "dev"),
    # enums and formats
    ({"profile": "staging"}, "profile", "dev"),
    ({"cluster.mode": "eks"}, "cluster.mode", "dev"),
    ({"cluster.name": "Prod_1"}, "cluster.name", "dev"),
    ({"cluster.name": "a" * 64}, "cluster.name", "dev"),
    ({"cluster.kubernetesVersion": "1.35.0"}, "cluster.kubernetesVersion", "dev"),
    ({"cluster.kubernetesVersion": "v2.0.0"}, "cluster.kubernetesVersion", "dev"),
    ({"persistence.existingStorageClass": "Fast SSD"}, "persistence.existingStorageClass", "dev"),
    ({TEN: [{"name": "-bad"}]}, f"{TEN}[0].name", "dev"),
    # ranges
    ({"cluster.kubernetesVersion": "v1.20.0"}, "cluster.kubernetesVersion", "dev"),
    ({"cluster.kubernetesVersion": "v1.99.0"}, "cluster.kubernetesVersion", "dev"),
    ({MS: 0}, MS, "dev"),
    ({MS: 6}, MS, "dev"),
    ({MS: -1}, MS, "prod"),
    # cross-field rules and references
    ({TEN: [{"name": "a"}, {"name": "a"}]}, f"{TEN}[1].name", "dev"),
    ({TEN: [{"name": "default"}]}, f"{TEN}[0].name", "dev"),
    ({TEN: [{"name": "kube-public"}]}, f"{TEN}[0].name", "dev"),
    ({TEN: [{"name": "gateway"}]}, f"{TEN}[0].name", "dev"),
    ({TEN: [{}]}, f"{TEN}[0].name", "dev"),
    ({"cluster.context": "no-such-context"}, "cluster.context", "dev"),
    ({"cluster.kubeconfig": "/nonexistent/kubeconfig"}, "cluster.kubeconfig", "dev"),
    ({"secrets": {"orphan": "s3cr3t"}}, "secrets.orphan", "dev"),
    ({"acceptRisks": ["cluster.name"]}, "acceptRisks[0]", "prod"),
    # prod weakened without an explicit acceptRisks entry
    ({MS: 1}, MS, "prod"),
    ({MS: 1, "acceptRisks": ["observability.metricsServer.replica"]}, MS, "prod"),
    # unknown keys at every level
    ({"replicas": 3}, "replicas", "dev"),
    ({"clster": {}}, "clster", "dev"),
    ({"cluster.nodes": 3}, "cluster.nodes", "dev"),
    ({"security.tenant": []}, "security.tenant", "dev"),
    ({TEN: [{"name": "x", "quota": "1"}]}, f"{TEN}[0].quota", "dev"),
    ({"persistence.storageClass": "gp3"}, "persistence.storageClass", "dev"),
    ({"observability.grafna": {}}, "observability.grafna", "dev"),
    ({"observability.metricsServer.replica": 2}, "observability.metricsServer.replica", "dev"),
    # a key the stack file sets, removed: still valid (defaults), so pair it with a bad one
    ({"security": DELETE, "cluster.mode": "gke"}, "cluster.mode", "prod"),
    # --- HAControlPlane capi mode (prod) ---
    ({"cluster.capi.controlPlane.replicas": 4}, "cluster.capi.controlPlane.replicas", "prod"),
    ({"cluster.capi.controlPlane.replicas": 1}, "cluster.capi.controlPlane.replicas", "prod"),
    ({"cluster.capi.controlPlane.replicas": "3"}, "cluster.capi.controlPlane.replicas", "prod"),
    ({"cluster.capi.infrastructure": "azure"}, "cluster.capi.infrastructure", "prod"),
    ({"cluster.capi.aws.region": "Europe"}, "cluster.capi.aws.region", "prod"),
    ({"cluster.capi.aws.amiId": "ubuntu-22.04"}, "cluster.capi.aws.amiId", "prod"),
    (
        {"cluster.capi.aws.apiAllowedCidrs": ["0.0.0.0/0"]},
        "cluster.capi.aws.apiAllowedCidrs",
        "prod",
    ),
    (
        {"cluster.capi.aws.apiAllowedCidrs": ["10.0.0.1/8"]},
        "cluster.capi.aws.apiAllowedCidrs[0]",
        "prod",
    ),
    (
        {"cluster.capi.aws.managementEgressCidrs": []},
        "cluster.capi.aws.managementEgressCidrs",
        "prod",
    ),
    (
        {"cluster.capi.aws.availabilityZones": ["eu-west-1a", "eu-west-1b"]},
        "cluster.capi.aws.availabilityZones",
        "prod",
    ),
    ({"cluster.capi.workers.maxUnhealthy": "100%"}, "cluster.capi.workers.maxUnhealthy", "prod"),
    ({"cluster.capi.workers.instanceType": "large"}, "cluster.capi.workers.instanceType", "prod"),
    ({"cluster.capi.managementContext": DELETE}, "cluster.capi.managementContext", "prod"),
    ({"cluster.kubernetesVersion": "v1.30.4"}, "cluster.kubernetesVersion", "prod"),
    ({"cluster.capi.aws.bastion": "yes"}, "cluster.capi.aws.bastion", "prod"),
    # --- SecurityBaseline ---
    ({"security.admission.mode": "Warn"}, "security.admission.mode", "dev"),
    ({"security.admission.mode": "Audit"}, "security.admission.mode", "prod"),
    ({"security.admission.replicas": 2}, "security.admission.replicas", "prod"),
    ({"cluster.cni.nodeCidrs": ["not-a-cidr"]}, "cluster.cni.nodeCidrs[0]", "dev"),
    ({"cluster.cni.name": "flannel"}, "cluster.cni.name", "dev"),
    ({"cluster.cni.operatorReplicas": 0}, "cluster.cni.operatorReplicas", "dev"),
    ({"cluster.cni.operatorReplicas": 1}, "cluster.cni.operatorReplicas", "prod"),
    (
        {"cluster.capi.aws.network.vpcCidr": "10.0.0.0/33"},
        "cluster.capi.aws.network.vpcCidr",
        "prod",
    ),
    ({"security.trivy.replicas": 0}, "security.trivy.replicas", "dev"),
    ({"security.trivy.replicas": "two"}, "security.trivy.replicas", "dev"),
    ({"security.trivy.replicas": 1}, "security.trivy.replicas", "prod"),
    (
        {
            "cluster.capi.aws.network.subnets": [
                {"zone": "eu-west-1a", "private": "10.1.0.0/18", "public": "10.0.0.0/20"}
            ]
        },
        "cluster.capi.aws.network.subnets",
        "prod",
    ),
    ({"security.tls.issuer": "vault"}, "security.tls.issuer", "dev"),
    ({"security.tls.acme.email": "platform-team"}, "security.tls.acme.email", "prod"),
    ({"security.trivy.scannerDigest": "latest"}, "security.trivy.scannerDigest", "dev"),
    ({"security.rbac.platformAdminGroups": ["*"]}, "security.rbac.platformAdminGroups[0]", "dev"),
    (
        {TEN: [{"name": "x", "quota": {"requestsMemory": "4GB"}}]},
        f"{TEN}[0].quota.requestsMemory",
        "dev",
    ),
    ({TEN: [{"name": "x", "quota": {"pods": -1}}]}, f"{TEN}[0].quota.pods", "dev"),
    # --- ObservabilityStack ---
    ({"observability.prometheus.replicas": 1}, "observability.prometheus.replicas", "prod"),
    ({"observability.alerting.replicas": 2}, "observability.alerting.replicas", "prod"),
    ({"observability.grafana.replicas": 2}, "observability.grafana.replicas", "prod"),
    (
        {"observability.prometheus.retention": "two weeks"},
        "observability.prometheus.retention",
        "dev",
    ),
    (
        {
            "observability.prometheus.volumeSize": "10Gi",
            "observability.prometheus.retentionSize": "10Gi",
        },
        "observability.prometheus.retentionSize",
        "dev",
    ),
    (
        {"observability.loki.replicas": 3, "observability.loki.replicationFactor": 5},
        "observability.loki.replicationFactor",
        "prod",
    ),
    ({"observability.loki.replicas": 1}, "observability.loki.replicas", "prod"),
    (
        {"observability.alerting.receivers": [{"name": "x", "type": "sms", "secret": "s"}]},
        "observability.alerting.receivers[0].type",
        "prod",
    ),
    (
        {
            "observability.alerting.receivers": [
                {"name": "oncall", "type": "pagerduty", "secret": "pd"}
            ]
        },
        "observability.alerting.receivers[0].secret",
        "prod",
    ),
    (
        {"observability.metricsServer.kubeletInsecureTls": True},
        "observability.metricsServer.kubeletInsecureTls",
        "prod",
    ),
    # --- EdgeGateway ---
    ({"edge.domain": "Not A Domain"}, "edge.domain", "dev"),
    ({"edge.domain": DELETE}, "edge.domain", "prod"),
    ({"edge.replicas": 1}, "edge.replicas", "prod"),
    ({"edge.serviceType": "ClusterIP"}, "edge.serviceType", "dev"),
    ({"edge.publicHttpsPort": 70000}, "edge.publicHttpsPort", "dev"),
    ({"edge.hostnames.grafana": "grafana_example"}, "edge.hostnames.grafana", "dev"),
    # object stores: one validator wherever a bucket is named (kernel/objectstore.py)
    (
        {"observability.loki.objectStore.bucket": "Prod_Loki"},
        "observability.loki.objectStore.bucket",
        "prod",
    ),
    (
        {"observability.loki.objectStore.region": "Ireland"},
        "observability.loki.objectStore.region",
        "prod",
    ),
    (
        {"observability.loki.objectStore.endpoint": "s3.example.com"},
        "observability.loki.objectStore.endpoint",
        "prod",
    ),
    (
        {"observability.loki.objectStore.roleArn": "loki-role"},
        "observability.loki.objectStore.roleArn",
        "prod",
    ),
    (
        {"persistence.backups.objectStore.bucket": "192.168.1.10"},
        "persistence.backups.objectStore.bucket",
        "prod",
    ),
    (
        {"persistence.backups.objectStore.bucket": "acme..backups"},
        "persistence.backups.objectStore.bucket",
        "prod",
    ),
    (
        {"persistence.backups.objectStore.bucket": "xn--backups"},
        "persistence.backups.objectStore.bucket",
        "prod",
    ),
    (
        {"persistence.backups.objectStore.lokiBucket": "loki-s3alias"},
        "persistence.backups.objectStore.lokiBucket",
        "dev",
    ),
    (
        {"persistence.backups.objectStore.region": "EU-WEST-1"},
        "persistence.backups.objectStore.region",
        "prod",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "key", "stack"), CASES, ids=[f"{i}-{c[1]}" for i, c in enumerate(CASES)]
)
def test_bad_input_is_a_settings_error_naming_its_key(
    overrides: dict[str, Any], key: str, stack: str
) -> None:
    raw = apply_overrides(stack_config(stack), overrides)
    try:
        load(raw, stack)
    except SettingsError as err:
        keys = [p.key for p in err.problems]
        assert key in keys, f"{key} not named; problems: {keys}"
        assert "Traceback" not in str(err)
        assert "s3cr3t" not in str(err)
    except Exception as exc:  # a library exception escaped: that is the bug
        pytest.fail(f"{type(exc).__name__} instead of SettingsError: {exc}")
    else:
        pytest.fail("accepted")


def test_the_table_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
