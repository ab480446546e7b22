"""Rendered objects of PersistenceLayer (pure, so tests and checkov see exactly what is
applied): the embedded object store, its bucket Job and the etcd snapshot CronJob."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.persistence.names import (
    AWS_CLI_IMAGE,
    EMBEDDED_REGION,
    NONROOT,
    SEAWEEDFS,
    SEAWEEDFS_IMAGE,
    SEAWEEDFS_LABELS,
    SEAWEEDFS_S3_PORT,
    embedded_endpoint,
)
from components.persistence.settings import EtcdSnapshotSettings
from kernel import data, kube


def restricted_container_security(run_as_root: bool = False) -> dict[str, Any]:
    sc: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if not run_as_root:
        sc.update({"runAsNonRoot": True, "runAsUser": NONROOT, "runAsGroup": NONROOT})
    return sc


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NONROOT,
        "runAsGroup": NONROOT,
        "fsGroup": NONROOT,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def seaweedfs_identities(access_key: str, secret_key: str) -> dict[str, Any]:
    """SeaweedFS S3 identity file: one admin identity, used by Velero, Loki and etcd."""
    return {
        "identities": [
            {
                "name": "platform",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _seaweedfs_container() -> dict[str, Any]:
    """Master, volume, filer and S3 gateway in one process."""
    return {
        "name": SEAWEEDFS,
        "image": SEAWEEDFS_IMAGE,
        "imagePullPolicy": "Always",
        "command": ["weed"],
        "args": [
            "server",
            "-dir=/data",
            "-ip=127.0.0.1",  # every SeaweedFS role lives in this one pod
            "-ip.bind=0.0.0.0",
            "-master.volumeSizeLimitMB=1024",
            "-volume.max=0",
            "-filer",
            "-s3",
            f"-s3.port={SEAWEEDFS_S3_PORT}",
            "-s3.config=/etc/seaweedfs/s3.json",
        ],
        "ports": [{"name": "s3", "containerPort": SEAWEEDFS_S3_PORT, "protocol": "TCP"}],
        "readinessProbe": {
            "tcpSocket": {"port": "s3"},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "livenessProbe": {
            "tcpSocket": {"port": "s3"},
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
        "resources": kube.resources("100m", "256Mi", cpu_limit="500m", memory_limit="512Mi"),
        "securityContext": restricted_container_security(),
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "config", "mountPath": "/etc/seaweedfs", "readOnly": True},
        ],
    }


def seaweedfs_manifests(size: str) -> dict[str, dict[str, Any]]:
    labels: dict[str, str] = {**kube.MANAGED_BY, **SEAWEEDFS_LABELS}
    meta: dict[str, Any] = {"name": SEAWEEDFS, "labels": labels}
    container = _seaweedfs_container()
    return {
        "pvc": {
            "metadata": {**meta, "name": f"{SEAWEEDFS}-data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            },
        },
        "deployment": {
            "metadata": meta,
            "spec": {
                "replicas": 1,
                # One RWO volume: never two pods at once.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": dict(SEAWEEDFS_LABELS)},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security(),
                        "containers": [container],
                        "volumes": [
                            {
                                "name": "data",
                                "persistentVolumeClaim": {"claimName": f"{SEAWEEDFS}-data"},
                            },
                            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                            {
                                "name": "config",
                                "secret": {
                                    "secretName": "object-store-credentials",
                                    "items": [{"key": "s3.json", "path": "s3.json"}],
                                },
                            },
                        ],
                    },
                },
            },
        },
        "service": {
            "metadata": meta,
            "spec": {
                "selector": dict(SEAWEEDFS_LABELS),
                "ports": [
                    {"name": "s3", "port": SEAWEEDFS_S3_PORT, "targetPort": "s3", "protocol": "TCP"}
                ],
            },
        },
    }


def _aws_cli_container(
    name: str, script: str, env: list[dict[str, Any]], *, root: bool, credentials: bool
) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if credentials:
        mounts.append({"name": "credentials", "mountPath": "/credentials", "readOnly": True})
        env = [*env, {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/credentials/cloud"}]
    return {
        "name": name,
        "image": AWS_CLI_IMAGE,
        "imagePullPolicy": "Always",
        "command": ["/bin/sh", "-ec", script],
        "env": [{"name": "HOME", "value": "/tmp"}, *env],
        "resources": kube.resources("50m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
        "securityContext": restricted_container_security(run_as_root=root),
        "volumeMounts": mounts,
    }


def bucket_job(buckets: Sequence[str]) -> dict[str, Any]:
    """Creates the embedded store's buckets once it answers (idempotent, retried).

    A plain Job instead of a Helm hook: Chart v4 never runs hooks, and Pulumi waits
    for the Job to complete before Velero starts.
    """
    container = _aws_cli_container(
        "create-buckets",
        data.text(__file__, "create-buckets.sh"),
        [
            {"name": "ENDPOINT", "value": embedded_endpoint()},
            {"name": "BUCKETS", "value": " ".join(buckets)},
            {"name": "AWS_REGION", "value": EMBEDDED_REGION},
        ],
        root=False,
        credentials=True,
    )
    return {
        "metadata": {
            "name": "object-store-buckets",
            "labels": {**kube.MANAGED_BY, "app.kubernetes.io/name": "object-store-buckets"},
        },
        "spec": {
            "backoffLimit": 12,  # the server may still be starting
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "object-store-buckets"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [container],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        {
                            "name": "credentials",
                            "secret": {
                                "secretName": "object-store-credentials",
                                "items": [{"key": "cloud", "path": "cloud"}],
                            },
                        },
                    ],
                },
            },
        },
    }


ETCD_PKI = "/etc/kubernetes/pki/etcd"
# The only node files the job reads: kubeadm's etcd CA and its healthcheck client pair.
ETCD_CLIENT_FILES = {
    "etcd-ca": "ca.crt",
    "etcd-client-cert": "healthcheck-client.crt",
    "etcd-client-key": "healthcheck-client.key",
}
# A live etcd answers `endpoint health` in milliseconds; a dead, hung or refusing one
# would otherwise keep etcdctl retrying until activeDeadlineSeconds.
ETCD_HEALTH_TIMEOUT = "5s"
# Bounds `snapshot save` as a whole (the transfer included): generous for a large db.
ETCD_SNAPSHOT_TIMEOUT = "10m"


def _etcdctl_container(
    etcd: EtcdSnapshotSettings, name: str, command: list[str], timeout: str
) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [
        {"name": volume, "mountPath": f"{ETCD_PKI}/{file}", "readOnly": True}
        for volume, file in ETCD_CLIENT_FILES.items()
    ]
    return {
        "name": name,
        "image": etcd.etcd_image,
        "imagePullPolicy": "Always",
        "command": command,
        "env": [
            {"name": "ETCDCTL_ENDPOINTS", "value": "https://127.0.0.1:2379"},
            {"name": "ETCDCTL_CACERT", "value": f"{ETCD_PKI}/ca.crt"},
            {"name": "ETCDCTL_CERT", "value": f"{ETCD_PKI}/healthcheck-client.crt"},
            {"name": "ETCDCTL_KEY", "value": f"{ETCD_PKI}/healthcheck-client.key"},
            # The image has no shell (no timeout(1)): etcdctl bounds each call itself.
            {"name": "ETCDCTL_DIAL_TIMEOUT", "value": "3s"},
            {"name": "ETCDCTL_COMMAND_TIMEOUT", "value": timeout},
        ],
        "resources": kube.resources("100m", "128Mi", cpu_limit="500m", memory_limit="512Mi"),
        # The etcd client key is root-owned 0600 on the node.
        "securityContext": restricted_container_security(run_as_root=True),
        "volumeMounts": [*mounts, {"name": "backup", "mountPath": "/backup"}],
    }


def _etcd_init_containers(etcd: EtcdSnapshotSettings) -> list[dict[str, Any]]:
    """A fast health check first (fails in seconds), then the bounded snapshot."""
    return [
        _etcdctl_container(
            etcd, "etcd-health", ["etcdctl", "endpoint", "health"], ETCD_HEALTH_TIMEOUT
        ),
        _etcdctl_container(
            etcd,
            "snapshot",
            ["etcdctl", "snapshot", "save", "/backup/snapshot.db"],
            ETCD_SNAPSHOT_TIMEOUT,
        ),
    ]


def _etcd_volumes(credentials_secret: str | None) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": volume, "hostPath": {"path": f"{ETCD_PKI}/{file}", "type": "File"}}
        for volume, file in ETCD_CLIENT_FILES.items()
    ]
    volumes += [
        {"name": "backup", "emptyDir": {"sizeLimit": "10Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    if credentials_secret:
        volumes.append(
            {
                "name": "credentials",
                "secret": {
                    "secretName": credentials_secret,
                    "items": [{"key": "cloud", "path": "cloud"}],
                },
            }
        )
    return volumes


def _etcd_uploader(
    etcd: EtcdSnapshotSettings,
    *,
    bucket: str,
    prefix: str,
    region: str,
    endpoint: str | None,
    credentials_secret: str | None,
) -> dict[str, Any]:
    """The aws CLI container that uploads the node's snapshot and prunes old ones."""
    env: list[dict[str, Any]] = [
        {"name": "BUCKET", "value": bucket},
        {"name": "PREFIX", "value": prefix},
        {"name": "KEEP", "value": str(etcd.keep)},
        {"name": "AWS_REGION", "value": region},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    if endpoint:
        env.append({"name": "ENDPOINT", "value": endpoint})
    upload = _aws_cli_container(
        "upload",
        data.text(__file__, "etcd-snapshot-upload.sh"),
        env,
        root=True,
        credentials=credentials_secret is not None,
    )
    # The snapshot file is written 0600 by root; the uploader reads it as root.
    upload["volumeMounts"].append({"name": "backup", "mountPath": "/backup", "readOnly": True})
    return upload


def etcd_snapshot_cronjob(
    etcd: EtcdSnapshotSettings,
    *,
    bucket: str,
    prefix: str,
    region: str,
    endpoint: str | None,
    credentials_secret: str | None,
) -> dict[str, Any]:
    """etcdctl snapshot on a control-plane node, then upload and prune (cluster-api.md §10)."""
    upload = _etcd_uploader(
        etcd,
        bucket=bucket,
        prefix=prefix,
        region=region,
        endpoint=endpoint,
        credentials_secret=credentials_secret,
    )
    volumes = _etcd_volumes(credentials_secret)
    why = (
        "etcd listens on 127.0.0.1 of control-plane nodes and its client certs are root-only files"
    )
    return {
        "metadata": {
            "name": "etcd-snapshot",
            "labels": {**kube.MANAGED_BY, "app.kubernetes.io/name": "etcd-snapshot"},
            "annotations": {
                "checkov.io/skip1": f"CKV_K8S_19=hostNetwork: {why}",
                "checkov.io/skip2": f"CKV_K8S_23=runs as root: {why}",
                "checkov.io/skip3": f"CKV_K8S_40=runs as root: {why}",
            },
        },
        "spec": {
            "schedule": etcd.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 3600,
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "etcd-snapshot"}},
                        "spec": {
                            "hostNetwork": True,
                            "dnsPolicy": "ClusterFirstWithHostNet",
                            "automountServiceAccountToken": False,
                            "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
                            "tolerations": [
                                {
                                    "key": "node-role.kubernetes.io/control-plane",
                                    "operator": "Exists",
                                    "effect": "NoSchedule",
                                }
                            ],
                            "restartPolicy": "OnFailure",
                            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                            "initContainers": _etcd_init_containers(etcd),
                            "containers": [upload],
                            "volumes": volumes,
                        },
                    },
                }
            },
        },
    }
