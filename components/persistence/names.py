"""Names, images and ports PersistenceLayer's objects share."""

from __future__ import annotations

from kernel import namespaces as ns

EBS_DRIVER = "ebs.csi.aws.com"
# At least v1.14.3 (the plugin line for Velero 1.18): before it, `checksumAlgorithm: ""` (the
# dev store) still let the SDK add trailing checksums and checksum framing: 400 errors and
# corrupted backups (velero#9804, velero#9951). v1.14.3 computes checksums only when required
# (velero-plugin-for-aws@v1.14.3 config.go newS3Client; PR #313 in its release notes).
# Tag only: the release notes give no digest and no other upstream record of one was found;
# pin it (`crane digest velero/velero-plugin-for-aws:v1.14.3`) when a registry is reachable.
VELERO_PLUGIN_AWS = "velero/velero-plugin-for-aws:v1.14.3"
# The amazon/aws-cli image uploads etcd snapshots and creates the embedded buckets.
# Pinned by digest: a tag can be re-pushed, a digest cannot (see the Trivy incident).
AWS_CLI_IMAGE = (
    "amazon/aws-cli:2.17.0@sha256:643507c10ada7964ca6157b3d799f030b90577643da9955d319a77399ed80d73"
)
# etcdctl for the snapshot job; match the cluster's etcd minor.
ETCD_IMAGE = (
    "registry.k8s.io/etcd:3.6.5-0"
    "@sha256:042ef9c02799eb9303abf1aa99b09f09d94b8ee3ba0c2dd3f42dc4e1d3dce534"
)
# SeaweedFS (Apache-2.0), the embedded dev object store; see docs/persistence.md.
SEAWEEDFS_IMAGE = (
    "chrislusf/seaweedfs:3.85"
    "@sha256:49312939c00c01e5ee6afbd7d728b18027821d3764c35a797a72acd4fdf3296a"
)
SEAWEEDFS = "seaweedfs"
SEAWEEDFS_S3_PORT = 8333
EMBEDDED_REGION = "us-east-1"
BSL_NAME = "default"
# etcd snapshots live at <bucket>/etcd-snapshots/<cluster>/, beside Velero's prefix and
# never under it: Velero marks a location Unavailable when its prefix holds any folder
# but its own (velero pkg/persistence/object_store.go, IsValid).
ETCD_SNAPSHOT_ROOT = "etcd-snapshots"
VELERO_METRICS_PORT = 8085
VELERO_POD_LABELS = {"app.kubernetes.io/name": "velero"}
SEAWEEDFS_LABELS = {"app.kubernetes.io/name": SEAWEEDFS, "app.kubernetes.io/component": "s3"}
NONROOT = 65532

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
VELERO_SNAPSHOT_CLASS_LABEL = "velero.io/csi-volumesnapshot-class"


def etcd_snapshot_prefix(cluster: str) -> str:
    return f"{ETCD_SNAPSHOT_ROOT}/{cluster}"


def embedded_endpoint() -> str:
    return f"http://{SEAWEEDFS}.{ns.VELERO}.svc.cluster.local:{SEAWEEDFS_S3_PORT}"
