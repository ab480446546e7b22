"""Pure builders for the Cluster API objects of HAControlPlane's `capi` mode: each returns
the `spec` (plain data) of one object, so tests check shapes and hashes without Pulumi. The
infrastructure provider's kinds and specs (AWS* for CAPA, Dev* for CAPD) are in
capi_infra. Version pins live here
only (docs/capi.md); their minors are rows of kernel/compatibility.yaml (a test checks)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from kernel.contracts import ApiServerAuditLog

# ---- pins ----------------------------------------------------------------------------
CAPI_VERSION = "v1.14.2"
"""Cluster API core + kubeadm bootstrap/control-plane providers on the management cluster."""
CAPA_VERSION = "v2.13.0"
"""Cluster API Provider AWS. Declares contract v1beta1 and is built against CAPI v1.13.4;
runs on a v1beta2 core through the temporary v1beta1 compatibility (removed in CAPI v1.16,
which settings refuse: kernel.compat.contract_problem)."""

CLUSTER_API = "cluster.x-k8s.io/v1beta2"
CONTROL_PLANE_API = "controlplane.cluster.x-k8s.io/v1beta2"
BOOTSTRAP_API = "bootstrap.cluster.x-k8s.io/v1beta2"
INFRA_API = "infrastructure.cluster.x-k8s.io/v1beta2"
"""CAPA's own v1beta2 (AWSCluster, AWSMachineTemplate) and CAPD's Dev* kinds."""

AWS = "aws"
DOCKER = "docker"
INFRASTRUCTURES = (AWS, DOCKER)

# Paths on control-plane nodes.
ENC_DIR = "/etc/kubernetes/enc"
ENC_FILE = f"{ENC_DIR}/encryption-config.yaml"
ENC_KEY = "encryption-config.yaml"
AUDIT_DIR = "/etc/kubernetes/audit"
AUDIT_POLICY = f"{AUDIT_DIR}/policy.yaml"
# kubeadm patches (target "kubeletconfiguration", kubeadm >= 1.25): the kubelet asks the
# cluster CA for its serving certificate (serverTLSBootstrap) instead of signing its own,
# so metrics-server and the API server can verify kubelets. kube-controller-manager
# never approves kubelet-serving CSRs (kubernetes/kubernetes#73356; kubeadm docs,
# "Enabling signed kubelet serving certificates"): SecurityBaseline installs an approver
# (docs/observability.md, "Kubelet serving certificates").
KUBEADM_PATCHES = "/etc/kubernetes/patches"
KUBELET_PATCH = f"{KUBEADM_PATCHES}/kubeletconfiguration+strategic.yaml"
KUBELET_SERVING_PATCH = (
    "apiVersion: kubelet.config.k8s.io/v1beta1\n"
    "kind: KubeletConfiguration\n"
    "serverTLSBootstrap: true\n"
)


def kubelet_patch_file() -> dict[str, Any]:
    return {
        "path": KUBELET_PATCH,
        "owner": "root:root",
        "permissions": "0644",
        "content": KUBELET_SERVING_PATCH,
    }


AUDIT_LOG_DIR = "/var/log/kubernetes/audit"
AUDIT_LOG = ApiServerAuditLog(
    path=f"{AUDIT_LOG_DIR}/audit.log", max_age_days=30, max_backups=10, max_size_mb=100
)
"""Kept on each control-plane node for 30 days, at most 10 rotated files of 100 MB;
ObservabilityStack ships it to Loki (docs/observability.md, "API server audit log")."""
POOL_LABEL = "k8s-platform.io/pool"
AUTOSCALER_MIN = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
AUTOSCALER_MAX = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"


def spec_hash(spec: Any) -> str:
    """Short content hash: a template's name changes whenever its spec changes, because
    CAPI machine templates are immutable (CAPA rejects in-place edits)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]


def ref(api_version: str, kind: str, name: str) -> dict[str, str]:
    """v1beta2 object reference: apiGroup, never apiVersion/namespace."""
    return {"apiGroup": api_version.split("/", maxsplit=1)[0], "kind": kind, "name": name}


def args(**pairs: str) -> list[dict[str, str]]:
    """v1beta2 `extraArgs`: a list of {name, value}; keyword underscores become dashes."""
    return [{"name": k.replace("_", "-"), "value": v} for k, v in pairs.items()]


# ---- files delivered to control-plane nodes -----------------------------------------


def encryption_config(key_base64: str) -> str:
    """EncryptionConfiguration: secretbox first (writes), identity last (reads old data)."""
    doc = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [
                    {"secretbox": {"keys": [{"name": "key1", "secret": key_base64}]}},
                    {"identity": {}},
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


HEALTH_PATHS = ["/healthz*", "/readyz*", "/livez*", "/version", "/metrics"]
WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"]


def audit_policy() -> str:
    """First matching rule wins, so secrets are logged at Metadata even on writes (their
    content never reaches the audit log) before the generic Request rule for writes."""
    doc = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "nonResourceURLs": HEALTH_PATHS},
            # Watch streams from kube-proxy, kubelets and controllers: volume, no signal.
            {"level": "None", "verbs": ["watch"]},
            {
                "level": "None",
                "users": ["system:kube-scheduler", "system:kube-controller-manager"],
                "verbs": ["get", "update"],
                "resources": [
                    {"group": "coordination.k8s.io", "resources": ["leases"]},
                    {"group": "", "resources": ["endpoints"]},
                ],
            },
            {"level": "None", "resources": [{"group": "", "resources": ["events"]}]},
            {
                "level": "Metadata",
                "resources": [
                    {"group": "", "resources": ["secrets", "configmaps"]},
                    {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
                ],
            },
            {"level": "Request", "verbs": WRITE_VERBS},
            {"level": "Metadata"},
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


# ---- control plane -----------------------------------------------------------------


def kubeadm_control_plane_spec(
    *,
    replicas: int,
    version: str,
    infra_kind: str,
    template_name: str,
    encryption_secret: str,
    external_cloud: bool,
    extra_sans: tuple[str, ...] = (),
) -> dict[str, Any]:
    cloud = args(cloud_provider="external") if external_cloud else []
    node_registration: dict[str, Any] = {"kubeletExtraArgs": cloud} if cloud else {}
    patches = {"patches": {"directory": KUBEADM_PATCHES}} if external_cloud else {}
    if external_cloud:
        # CAPA: the node name must match the EC2 private DNS name.
        node_registration["name"] = "{{ ds.meta_data.local_hostname }}"
    return {
        "replicas": replicas,
        "version": version,
        "machineTemplate": {
            "spec": {"infrastructureRef": ref(INFRA_API, infra_kind, template_name)}
        },
        # One new machine at a time, etcd member removed before the old one goes: quorum
        # holds throughout. Machines are also renewed 21 days before certificates expire.
        "rollout": {
            "before": {"certificatesExpiryDays": 21},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        },
        "remediation": {
            "maxRetry": 3,
            "retryPeriodSeconds": 300,
            "minHealthyPeriodSeconds": 3600,
        },
        "kubeadmConfigSpec": {
            "files": _kubeadm_files(encryption_secret)
            + ([kubelet_patch_file()] if external_cloud else []),
            "clusterConfiguration": {
                "apiServer": _api_server(extra_sans),
                # Metrics for Prometheus: bind to all interfaces (HTTPS + authn/authz for
                # controller-manager and scheduler; etcd's plain-HTTP metrics port only).
                "controllerManager": {"extraArgs": args(bind_address="0.0.0.0") + cloud},
                "scheduler": {"extraArgs": args(bind_address="0.0.0.0")},
                "etcd": {
                    "local": {
                        "extraArgs": args(
                            listen_metrics_urls="http://0.0.0.0:2381",
                            quota_backend_bytes=str(8 * 2**30),
                        )
                    }
                },
            },
            # CAPD needs no node registration tweaks (and the CRD rejects an empty one).
            **(
                {
                    "initConfiguration": {"nodeRegistration": node_registration, **patches},
                    "joinConfiguration": {"nodeRegistration": node_registration, **patches},
                }
                if node_registration
                else {}
            ),
        },
    }


def _api_server(extra_sans: tuple[str, ...]) -> dict[str, Any]:
    """API server flags and mounts: encryption at rest and audit logging."""
    api_server: dict[str, Any] = {
        "extraArgs": args(
            encryption_provider_config=ENC_FILE,
            audit_policy_file=AUDIT_POLICY,
            audit_log_path=AUDIT_LOG.path,
            audit_log_maxage=str(AUDIT_LOG.max_age_days),
            audit_log_maxbackup=str(AUDIT_LOG.max_backups),
            audit_log_maxsize=str(AUDIT_LOG.max_size_mb),
            profiling="false",
            # kubeadm's default (NodeRestriction) plus CVE-2020-8554's fix: no Service may
            # set externalIPs (an admission policy says the same in every mode).
            enable_admission_plugins="NodeRestriction,DenyServiceExternalIPs",
        ),
        "extraVolumes": [
            {
                "name": "encryption-config",
                "hostPath": ENC_DIR,
                "mountPath": ENC_DIR,
                "readOnly": True,
                "pathType": "DirectoryOrCreate",
            },
            {
                "name": "audit-policy",
                "hostPath": AUDIT_DIR,
                "mountPath": AUDIT_DIR,
                "readOnly": True,
                "pathType": "DirectoryOrCreate",
            },
            {
                "name": "audit-logs",
                "hostPath": AUDIT_LOG_DIR,
                "mountPath": AUDIT_LOG_DIR,
                "readOnly": False,
                "pathType": "DirectoryOrCreate",
            },
        ],
    }
    if extra_sans:
        api_server["certSANs"] = list(extra_sans)
    return api_server


def _kubeadm_files(encryption_secret: str) -> list[dict[str, Any]]:
    return [
        {
            "path": ENC_FILE,
            "owner": "root:root",
            "permissions": "0600",
            "contentFrom": {"secret": {"name": encryption_secret, "key": ENC_KEY}},
        },
        {
            "path": AUDIT_POLICY,
            "owner": "root:root",
            "permissions": "0600",
            "content": audit_policy(),
        },
    ]


def kubeadm_config_template_spec(*, external_cloud: bool) -> dict[str, Any]:
    if not external_cloud:
        # CAPD: the docker host's disk usage must not evict pods.
        registration = {
            "kubeletExtraArgs": args(eviction_hard="nodefs.available<0%,imagefs.available<0%")
        }
        return {"template": {"spec": {"joinConfiguration": {"nodeRegistration": registration}}}}
    join = {
        "nodeRegistration": {
            "name": "{{ ds.meta_data.local_hostname }}",
            "kubeletExtraArgs": args(cloud_provider="external"),
        },
        "patches": {"directory": KUBEADM_PATCHES},
    }
    return {"template": {"spec": {"files": [kubelet_patch_file()], "joinConfiguration": join}}}


def machine_deployment_spec(
    *,
    cluster: str,
    pool: str,
    version: str,
    failure_domain: str,
    bootstrap_template: str,
    infra_kind: str,
    infra_template: str,
) -> dict[str, Any]:
    labels = {"cluster.x-k8s.io/cluster-name": cluster, POOL_LABEL: pool}
    # No `replicas`: CAPI defaults it from the autoscaler min-size annotation and the
    # autoscaler owns it afterwards; Pulumi must never reset it.
    return {
        "clusterName": cluster,
        "selector": {"matchLabels": labels},
        "rollout": {
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            }
        },
        "template": {
            "metadata": {"labels": {**labels, "k8s-platform.io/node-group": "workers"}},
            "spec": {
                "clusterName": cluster,
                "version": version,
                "failureDomain": failure_domain,
                "bootstrap": {
                    "configRef": ref(BOOTSTRAP_API, "KubeadmConfigTemplate", bootstrap_template)
                },
                "infrastructureRef": ref(INFRA_API, infra_kind, infra_template),
            },
        },
    }


NODE_NOT_READY = [
    {"type": "Ready", "status": "Unknown", "timeoutSeconds": 300},
    {"type": "Ready", "status": "False", "timeoutSeconds": 300},
]


def machine_health_check_spec(
    *, cluster: str, selector: dict[str, str], max_unhealthy: str, startup_seconds: int
) -> dict[str, Any]:
    return {
        "clusterName": cluster,
        "selector": {"matchLabels": selector},
        "checks": {
            "nodeStartupTimeoutSeconds": startup_seconds,
            "unhealthyNodeConditions": NODE_NOT_READY,
        },
        "remediation": {"triggerIf": {"unhealthyLessThanOrEqualTo": max_unhealthy}},
    }


def cluster_spec(
    *, name: str, infra_kind: str, pods_cidr: str, services_cidr: str
) -> dict[str, Any]:
    return {
        "clusterNetwork": {
            "pods": {"cidrBlocks": [pods_cidr]},
            "services": {"cidrBlocks": [services_cidr]},
        },
        "controlPlaneRef": ref(CONTROL_PLANE_API, "KubeadmControlPlane", f"{name}-control-plane"),
        "infrastructureRef": ref(INFRA_API, infra_kind, name),
    }


def version_wait(version: str) -> str:
    """`pulumi.com/waitFor` JSONPath (RFC 9535) that holds once every control-plane machine
    runs `version`: the entry of `status.versions` (CAPI v1.14; `status.version` is
    deprecated) for it holds all `status.replicas`. During a rollout the list has one entry
    per version, and the provider compares only the first value a path selects, so "the
    target is listed" would end the wait early."""
    sel = f"?@.version == '{version}' && @.replicas == $.status.replicas"
    return f"jsonpath={{.status.versions[{sel}].version}}={version}"
