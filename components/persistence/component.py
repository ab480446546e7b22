"""PersistenceLayer: storage classes, volume snapshots, backups and etcd snapshots.

prod (AWS): the EBS CSI driver, an encrypted gp3 default class that keeps its
volumes (Retain) and a Delete class for scratch data, CSI snapshots, Velero
writing to an existing S3 bucket that this program never owns.
dev (kind): the cluster's own `standard` class, no snapshots (local-path has none),
Velero writing to a single-replica SeaweedFS inside the cluster.
Also: etcd snapshots to object storage (capi mode) and the backup taken before a
Kubernetes version upgrade (`pre_upgrade_backup_hook`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.persistence.formats import aws_ini, parse_aws_ini
from components.persistence.monitoring import velero_alert_rules
from components.persistence.names import (
    BSL_NAME,
    DEFAULT_CLASS_ANNOTATION,
    EBS_DRIVER,
    EMBEDDED_REGION,
    SEAWEEDFS,
    SEAWEEDFS_LABELS,
    SEAWEEDFS_S3_PORT,
    VELERO_METRICS_PORT,
    VELERO_POD_LABELS,
    VELERO_SNAPSHOT_CLASS_LABEL,
    embedded_endpoint,
    etcd_snapshot_prefix,
)
from components.persistence.objects import (
    bucket_job,
    etcd_snapshot_cronjob,
    seaweedfs_identities,
    seaweedfs_manifests,
)
from components.persistence.settings import (
    EMBEDDED,
    EXTERNAL,
    BackupSettings,
    ObjectStoreSettings,
    PersistenceSettings,
    SnapshotSettings,
    StorageSettings,
)
from components.persistence.values import (
    ebs_csi_values,
    snapshot_controller_values,
    velero_values,
)
from kernel import footprint, kube
from kernel import namespaces as ns
from kernel import network as net
from kernel.catalogue import chart
from kernel.contracts import BackupMonitoring, ObjectStoreInfo

TYPE_TOKEN = "k8splatform:persistence:PersistenceLayer"


@dataclass(frozen=True)
class PersistenceLayerArgs:
    settings: PersistenceSettings
    provider: k8s.Provider
    velero_namespace: pulumi.Input[str]
    storage_namespace: pulumi.Input[str]
    etcd_backup_namespace: pulumi.Input[str]
    etcd_snapshots: bool = False
    """True when etcd runs on control-plane nodes we own (capi mode)."""
    network: net.Network = field(default_factory=net.Network)
    """The CNI the policies are written for (HAControlPlane.network)."""


class PersistenceLayer(pulumi.ComponentResource):
    default_storage_class: pulumi.Output[str]
    scratch_storage_class: pulumi.Output[str]
    snapshot_class: pulumi.Output[str | None]
    backup_location: pulumi.Output[dict[str, Any] | None]
    backup_schedules: pulumi.Output[list[dict[str, Any]]]
    object_store: ObjectStoreInfo | None
    backup_monitoring: BackupMonitoring | None

    def __init__(
        self, name: str, args: PersistenceLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._args = args
        s = args.settings
        self._child = kube.child_opts(self, args.provider)
        # Stateful objects: `pulumi destroy` must not take them (prod).
        self._keep = pulumi.ResourceOptions.merge(
            self._child,
            pulumi.ResourceOptions(protect=s.protect_stateful, retain_on_delete=s.protect_stateful),
        )
        self._snapshots_etcd = args.etcd_snapshots and s.backups.enabled
        self._storage(s.storage, s.snapshots.enabled)
        snapshots_ready = self._snapshots(s.snapshots)
        self.object_store = None
        self.backup_monitoring = None
        self.backup_location = pulumi.Output.from_input(None)
        self.backup_schedules = pulumi.Output.from_input([])
        if s.backups.enabled:
            self._backups(s.backups, s.snapshots.enabled, snapshots_ready)
        if self._snapshots_etcd:
            self._etcd_snapshots(s)
        self.register_outputs(
            {
                "default_storage_class": self.default_storage_class,
                "scratch_storage_class": self.scratch_storage_class,
                "snapshot_class": self.snapshot_class,
                "backup_location": self.backup_location,
                "backup_schedules": self.backup_schedules,
            }
        )

    # -- storage classes --

    def _storage(self, st: StorageSettings, snapshots: bool) -> None:
        if st.existing_class is not None:
            # dev: kind's `standard` (local-path) is already the default; install nothing.
            self.default_storage_class = pulumi.Output.from_input(st.existing_class)
            self.scratch_storage_class = self.default_storage_class
            return
        kube.helm_chart(
            "aws-ebs-csi-driver",
            chart("aws-ebs-csi-driver"),
            # kube-system: the node plugin is privileged with hostPath /var/lib/kubelet and
            # /dev, and uses the system-node-critical priority class, like the EKS add-on.
            "kube-system",
            ebs_csi_values(st.ebs_controller_replicas, snapshots),
            self._child,
        )
        params: dict[str, str] = {
            "type": "gp3",
            "encrypted": "true",
            "csi.storage.k8s.io/fstype": st.fs_type,
        }
        if st.kms_key_id:
            params["kmsKeyId"] = st.kms_key_id
        default = self._storage_class(
            st.default_class, params, reclaim="Retain", default=True, opts=self._keep
        )
        scratch = self._storage_class(
            st.scratch_class, params, reclaim="Delete", default=False, opts=self._child
        )
        self.default_storage_class = default.metadata.name
        self.scratch_storage_class = scratch.metadata.name

    def _storage_class(
        self,
        name: str,
        params: Mapping[str, str],
        *,
        reclaim: str,
        default: bool,
        opts: pulumi.ResourceOptions,
    ) -> k8s.storage.v1.StorageClass:
        # Plain dicts typed Any: mypy's matching of literals against the SDK's
        # TypedDict unions is exponential.
        metadata: Any = {
            "name": name,
            "labels": kube.MANAGED_BY,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true" if default else "false"},
        }
        parameters: Any = dict(params)
        return k8s.storage.v1.StorageClass(
            f"{name}-storageclass",
            metadata=metadata,
            provisioner=EBS_DRIVER,
            parameters=parameters,
            reclaim_policy=reclaim,
            volume_binding_mode="WaitForFirstConsumer",  # volume in the pod's zone
            allow_volume_expansion=True,
            opts=opts,
        )

    # -- snapshots --

    def _snapshots(self, sn: SnapshotSettings) -> list[pulumi.Resource]:
        if not sn.enabled:
            # dev: local-path has no snapshot support; Velero backs up objects only.
            self.snapshot_class = pulumi.Output.from_input(None)
            return []
        controller = kube.helm_chart(
            "snapshot-controller",
            chart("snapshot-controller"),
            self._args.storage_namespace,
            snapshot_controller_values(sn.controller_replicas),
            self._child,
        )
        # API-server egress: SecurityBaseline's per-namespace allow (an entity).
        vsc = kube.KubeObject(
            f"{sn.class_name}-volumesnapshotclass",
            "snapshot.storage.k8s.io/v1",
            "VolumeSnapshotClass",
            {
                "metadata": {
                    "name": sn.class_name,
                    "labels": {**kube.MANAGED_BY, VELERO_SNAPSHOT_CLASS_LABEL: "true"},
                    "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"},
                },
                "driver": sn.driver,
                "deletionPolicy": sn.deletion_policy,
            },
            # The CRD comes with the controller chart.
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[controller])
            ),
        )
        self.snapshot_class = vsc.name_output()
        return [controller, vsc]

    # -- backups --

    def _backups(
        self, b: BackupSettings, csi: bool, snapshots_ready: list[pulumi.Resource]
    ) -> None:
        a = self._args
        store = b.object_store
        depends: list[pulumi.Resource] = list(snapshots_ready)
        access: pulumi.Output[str] | None = None
        secret_key: pulumi.Output[str] | None = None
        secret_name: str | None = None
        if store.mode == EMBEDDED:
            access, secret_key, ready = self._embedded_store(store)
            secret_name = "object-store-credentials"
            depends += ready
            endpoint: str | None = embedded_endpoint()
        else:
            endpoint = store.endpoint
            if store.credentials is not None:
                pair = store.credentials.output().apply(_keys_or_fail)
                access = pulumi.Output.secret(pair.apply(lambda p: p[0]))
                secret_key = pulumi.Output.secret(pair.apply(lambda p: p[1]))
                secret_name = "velero-cloud-credentials"
                depends.append(
                    self._credentials_secret(
                        secret_name, a.velero_namespace, store.credentials.output()
                    )
                )
        self._credentials = (access, secret_key)
        values = velero_values(
            b,
            csi=csi,
            endpoint=endpoint,
            credentials_secret=secret_name,
            force_path_style=store.mode == EMBEDDED or store.endpoint is not None,
        )
        kube.helm_chart(
            "velero",
            chart("velero"),
            a.velero_namespace,
            values,
            pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=depends)),
        )
        # API-server egress and Prometheus scraping come from SecurityBaseline's
        # per-namespace allows; the embedded store is in this namespace.
        target = net.s3_hosts(store.region, store.endpoint) if store.mode == EXTERNAL else None
        if target is not None:
            net.fqdn_policy(
                "allow-object-store-egress",
                a.velero_namespace,
                a.network,
                self._child,
                pod_selector=VELERO_POD_LABELS,
                hosts=target[0],
                ports=target[1],
                # No keys and no role: the node's instance profile, through IMDS.
                imds=store.credentials is None and store.role_arn is None,
                resource_name="velero-allow-object-store-egress",
            )
        self._publish(b, endpoint, secret_name, access, secret_key)

    def _publish(
        self,
        b: BackupSettings,
        endpoint: str | None,
        secret_name: str | None,
        access: pulumi.Output[str] | None,
        secret_key: pulumi.Output[str] | None,
    ) -> None:
        """The outputs: backup location and schedules, Loki's bucket, Velero's metrics."""
        a = self._args
        store = b.object_store
        region = EMBEDDED_REGION if store.mode == EMBEDDED else store.region
        self.backup_location = pulumi.Output.from_input(
            {
                "name": BSL_NAME,
                "provider": "aws",
                "bucket": store.bucket,
                "prefix": store.prefix,
                "region": region,
                "endpoint": endpoint,
                "credentials": "secret" if secret_name else "irsa-or-instance-profile",
            }
        )
        self.backup_schedules = pulumi.Output.from_input(
            [
                {
                    "name": s.name,
                    "schedule": s.schedule,
                    "ttl": s.ttl,
                    "includedNamespaces": list(s.included_namespaces),
                }
                for s in b.schedules
            ]
        )
        if store.loki_bucket:
            self.object_store = ObjectStoreInfo(
                endpoint=endpoint,
                region=region,
                bucket=store.loki_bucket,
                force_path_style=store.mode == EMBEDDED or store.endpoint is not None,
                insecure=store.mode == EMBEDDED,
                access_key_id=access,
                secret_access_key=secret_key,
            )
        self.backup_monitoring = BackupMonitoring(
            namespace=pulumi.Output.from_input(a.velero_namespace),
            pod_labels=VELERO_POD_LABELS,
            metrics_port=VELERO_METRICS_PORT,
            prometheus_rule_spec=velero_alert_rules(
                b.schedules, self._args.settings.etcd if self._snapshots_etcd else None
            ),
        )

    def _credentials_secret(
        self,
        name: str,
        namespace: pulumi.Input[str],
        ini: pulumi.Input[str],
        extra: Mapping[str, pulumi.Input[str]] | None = None,
        resource_name: str | None = None,
    ) -> k8s.core.v1.Secret:
        """Key `cloud` holds the AWS INI profile (what Velero and aws-cli read)."""
        metadata: Any = {"name": name, "namespace": namespace, "labels": kube.MANAGED_BY}
        data: Any = {"cloud": pulumi.Output.secret(ini), **(extra or {})}
        return k8s.core.v1.Secret(
            resource_name or name,
            metadata=metadata,
            type="Opaque",
            string_data=data,
            opts=self._child,
        )

    def _embedded_credentials(
        self, namespace: pulumi.Input[str]
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], k8s.core.v1.Secret]:
        """Generated keys for the embedded store, in the Secret SeaweedFS, Velero and the
        bucket Job read."""
        access_r = random.RandomString(
            "object-store-access-key",
            length=20,
            special=False,
            lower=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        secret_r = random.RandomPassword(
            "object-store-secret-key",
            length=40,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        access: pulumi.Output[str] = access_r.result.apply(pulumi.Output.secret)
        secret_key: pulumi.Output[str] = secret_r.result.apply(pulumi.Output.secret)
        ini = pulumi.Output.all(access, secret_key).apply(lambda p: aws_ini(p[0], p[1]))
        s3_json = pulumi.Output.all(access, secret_key).apply(
            lambda p: json.dumps(seaweedfs_identities(p[0], p[1]))
        )
        creds = self._credentials_secret(
            "object-store-credentials",
            namespace,
            ini,
            {
                "s3.json": pulumi.Output.secret(s3_json),
                "AWS_ACCESS_KEY_ID": access,
                "AWS_SECRET_ACCESS_KEY": secret_key,
            },
        )
        return access, secret_key, creds

    def _embedded_store(
        self, store: ObjectStoreSettings
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], list[pulumi.Resource]]:
        """SeaweedFS in one pod (master, volume, filer and S3 gateway in one process)."""
        a = self._args
        namespace = a.velero_namespace
        access, secret_key, creds = self._embedded_credentials(namespace)
        objs = seaweedfs_manifests(store.embedded_size)
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{SEAWEEDFS}-data",
            metadata=_in(objs["pvc"]["metadata"], namespace),
            spec=objs["pvc"]["spec"],
            # The default class of the cluster; WaitForFirstConsumer binds on first pod.
            opts=self._keep,
        )
        footprint.record(footprint.from_object("Deployment", SEAWEEDFS, objs["deployment"]))
        deployment = k8s.apps.v1.Deployment(
            SEAWEEDFS,
            metadata=_in(objs["deployment"]["metadata"], namespace),
            spec=objs["deployment"]["spec"],
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[creds, pvc])
            ),
        )
        service = k8s.core.v1.Service(
            f"{SEAWEEDFS}-service",
            metadata=_in(objs["service"]["metadata"], namespace),
            spec=objs["service"]["spec"],
            opts=self._child,
        )
        kube.network_policy(
            "allow-object-store-clients",
            namespace,
            self._child,
            pod_selector=SEAWEEDFS_LABELS,
            # Loki (logging) and the etcd snapshot uploader; Velero is same-namespace.
            ingress_from=[
                kube.namespace_peer(ns.LOGGING),
                kube.namespace_peer(ns.ETCD_BACKUP),
            ],
            ingress_ports=kube.tcp(SEAWEEDFS_S3_PORT),
            resource_name="velero-allow-object-store-clients",
        )
        buckets = [store.bucket] + ([store.loki_bucket] if store.loki_bucket else [])
        job = bucket_job(buckets)
        footprint.record(footprint.from_object("Job", "object-store-buckets", job))
        bucket_job_r = k8s.batch.v1.Job(
            "object-store-buckets",
            metadata=_in(job["metadata"], namespace),
            spec=job["spec"],
            # Pulumi waits for the Job to complete: Velero starts with its bucket present.
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[deployment, service, creds])
            ),
        )
        return access, secret_key, [creds, bucket_job_r]

    # -- etcd snapshots --

    def _etcd_snapshots(self, s: PersistenceSettings) -> None:
        a = self._args
        store = s.backups.object_store
        secret_name = None
        if store.mode == EMBEDDED or store.credentials is not None:
            secret_name = "etcd-backup-credentials"
            access, secret_key = self._credentials
            ini = (
                pulumi.Output.all(access, secret_key).apply(lambda p: aws_ini(p[0], p[1]))
                if store.mode == EMBEDDED
                else store.credentials.output()  # type: ignore[union-attr]
            )
            self._credentials_secret(
                secret_name, a.etcd_backup_namespace, ini, resource_name="etcd-backup-credentials"
            )
        cron = etcd_snapshot_cronjob(
            s.etcd,
            bucket=store.bucket,
            prefix=etcd_snapshot_prefix(s.etcd.cluster_name),
            region=EMBEDDED_REGION if store.mode == EMBEDDED else store.region,
            endpoint=embedded_endpoint() if store.mode == EMBEDDED else store.endpoint,
            credentials_secret=secret_name,
        )
        footprint.record(footprint.from_object("CronJob", "etcd-snapshot", cron))
        k8s.batch.v1.CronJob(
            "etcd-snapshot",
            metadata=_in(cron["metadata"], a.etcd_backup_namespace),
            spec=cron["spec"],
            opts=self._child,
        )


def _in(metadata: Mapping[str, Any], namespace: pulumi.Input[str]) -> Any:
    """Rendered metadata placed in the (Output) namespace; typed Any for the SDK."""
    return {**metadata, "namespace": namespace}


def _keys_or_fail(ini: str) -> tuple[str, str]:
    pair = parse_aws_ini(ini)
    if pair is None:  # settings validated it already; never echo the value
        raise ValueError("object store credentials are not an AWS INI profile")
    return pair
