"""ObservabilityStack's logging: Loki (filesystem or S3) and Alloy chart values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.observability.names import (
    LOKI,
    LOKI_GATEWAY_PODS,
    LOKI_PODS,
    svc_url,
)
from components.observability.settings import LokiSettings, ObservabilitySettings
from components.observability.values import _double, _double_memory, spread
from kernel import data, kube


@dataclass(frozen=True)
class LokiObjectStore:
    """Where Loki keeps chunks and index (S3 API).

    Built from `observability.loki.objectStore` or PersistenceLayer's ObjectStoreInfo.
    The credentials Secret lives in the logging namespace with keys AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY. No Secret name = the AWS default chain (EKS Pod Identity,
    IRSA through `role_arn`, instance profile).
    """

    bucket: pulumi.Input[str]
    region: pulumi.Input[str]
    endpoint: pulumi.Input[str] | None = None
    credentials_secret_name: pulumi.Input[str] | None = None
    insecure: bool = False
    role_arn: pulumi.Input[str] | None = None


def alloy_config(cluster: str, push_url: str) -> str:
    """data/alloy.alloy with this cluster's label and Loki's push URL."""
    template = data.text(__file__, "alloy.alloy")
    return template.replace("CLUSTER", cluster).replace("PUSH_URL", push_url)


def endpoint_port(store: LokiObjectStore | None) -> list[int]:
    """An S3-compatible endpoint on a custom port (e.g. https://s3.lan:9000) needs it open."""
    endpoint = store.endpoint if store is not None else None
    if isinstance(endpoint, str):
        from urllib.parse import urlparse

        port = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}").port
        if port and port != 443:
            return [port]
    return []


def _loki_storage(
    store: LokiObjectStore | None,
) -> tuple[dict[str, Any], list[str], list[dict[str, Any]], dict[str, Any]]:
    """storage values, extra args, env sources and ServiceAccount for Loki's store."""
    kind = "s3" if store is not None else "filesystem"
    storage: dict[str, Any] = {"type": kind}
    extra_args: list[str] = []
    env_from: list[dict[str, Any]] = []
    service_account: dict[str, Any] = {}
    if store is not None:
        s3: dict[str, Any] = {
            "region": store.region,
            "insecure": store.insecure,
            "s3ForcePathStyle": store.endpoint is not None,
        }
        if store.endpoint is not None:
            s3["endpoint"] = store.endpoint
        if store.credentials_secret_name is not None:
            # Keys come from the Secret as env vars, expanded by Loki at startup:
            # the values (and Pulumi state of this chart) only hold the variable names.
            s3["accessKeyId"] = "${AWS_ACCESS_KEY_ID}"
            s3["secretAccessKey"] = "${AWS_SECRET_ACCESS_KEY}"
            extra_args.append("-config.expand-env=true")
            env_from.append({"secretRef": {"name": store.credentials_secret_name}})
        if store.role_arn is not None:
            service_account = {"annotations": {"eks.amazonaws.com/role-arn": store.role_arn}}
        storage["s3"] = s3
        storage["bucketNames"] = {"chunks": store.bucket, "ruler": store.bucket}
    return storage, extra_args, env_from, service_account


def loki_values(
    s: ObservabilitySettings, store: LokiObjectStore | None, storage_class: pulumi.Input[str]
) -> dict[str, Any]:
    """Loki monolithic: object storage when there is a bucket, else its filesystem."""
    lk = s.loki
    if lk.replicas > 1 and store is None:
        raise ValueError(
            f"observability.loki.replicas={lk.replicas} needs object storage: set "
            "observability.loki.objectStore or let PersistenceLayer provide a bucket"
        )
    kind = "s3" if store is not None else "filesystem"
    storage, extra_args, env_from, service_account = _loki_storage(store)
    ha = lk.replicas > 1
    cache = _cache(lk.caches, lk.chunks_cache_mb)
    values: dict[str, Any] = {
        "deploymentMode": "Monolithic",
        "loki": _loki_config(lk, storage, kind),
        "serviceAccount": service_account,
        "singleBinary": _single_binary(s, extra_args, env_from, storage_class),
        "backend": {"replicas": 0},
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "gateway": _loki_gateway(s, ha),
        "chunksCache": cache,
        "resultsCache": _cache(lk.caches, max(64, lk.chunks_cache_mb // 8)),
        "memcachedExporter": {
            "resources": kube.resources("10m", "32Mi", cpu_limit="50m", memory_limit="64Mi")
        },
        # The canary DaemonSet and the Helm test pod (a hook Chart v4 drops) are off;
        # the platform's own alerts watch ingestion instead.
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "minio": {"enabled": False},
        # No rules sidecar (singleBinary.sidecar is off): without this the chart still binds
        # Loki to a ClusterRole reading every Secret (templates/backend/clusterrole.yaml).
        # Namespaced RBAC with the sidecar off renders no Role at all.
        "sidecar": {"rules": {"enabled": False}},
        "rbac": {"namespaced": True},
        "monitoring": {
            "serviceMonitor": {"enabled": True},
            "dashboards": {"enabled": False},
        },
    }
    return values


def _loki_config(lk: LokiSettings, storage: dict[str, Any], kind: str) -> dict[str, Any]:
    """Loki's own configuration: one tenant, TSDB index on `kind` storage, retention."""
    return {
        # One tenant ("fake"): the platform's logs, no X-Scope-OrgID to manage.
        "auth_enabled": False,
        "commonConfig": {"replication_factor": lk.replication_factor},
        "storage": storage,
        "schemaConfig": {
            "configs": [
                {
                    "from": "2024-04-01",
                    "store": "tsdb",
                    "object_store": kind,
                    "schema": "v13",
                    "index": {"prefix": "loki_index_", "period": "24h"},
                }
            ]
        },
        "limits_config": {
            "retention_period": lk.retention,
            "allow_structured_metadata": True,
            "volume_enabled": True,
        },
        # Retention is applied by the compactor (a singleton inside the binary).
        "compactor": {
            "retention_enabled": True,
            "delete_request_store": kind,
            "retention_delete_delay": "2h",
            "compaction_interval": "10m",
        },
        "pattern_ingester": {"enabled": False},
    }


def _loki_gateway(s: ObservabilitySettings, ha: bool) -> dict[str, Any]:
    return {
        "replicas": 2 if ha else 1,
        "podDisruptionBudget": {"enabled": ha, "maxUnavailable": 1},
        "topologySpreadConstraints": spread(2 if ha else 1, s.zone_spread, LOKI_GATEWAY_PODS),
        "resources": kube.resources("10m", "32Mi", cpu_limit="200m", memory_limit="128Mi"),
        # The access-log exporter sidecar has no resources by default.
        "metrics": {
            "resources": kube.resources("5m", "16Mi", cpu_limit="50m", memory_limit="64Mi")
        },
    }


def _single_binary(
    s: ObservabilitySettings,
    extra_args: list[str],
    env_from: list[dict[str, Any]],
    storage_class: pulumi.Input[str],
) -> dict[str, Any]:
    lk = s.loki
    ha = lk.replicas > 1
    return {
        "replicas": lk.replicas,
        "extraArgs": extra_args,
        "extraEnvFrom": env_from,
        # The rules sidecar watches ConfigMaps for Loki ruler rules; unused here.
        "sidecar": False,
        # A pre-upgrade hook Job (never run by Chart v4): resizing the volume
        # means recreating the StatefulSet by hand (docs/observability.md).
        "statefulSetRecreateJob": {"enabled": False},
        "podDisruptionBudget": {"enabled": ha, "maxUnavailable": 1},
        "topologySpreadConstraints": spread(lk.replicas, s.zone_spread, LOKI_PODS),
        "persistence": {
            "enabled": True,
            "size": lk.volume_size,
            "storageClass": storage_class,
        },
        "resources": kube.resources(
            lk.cpu,
            lk.memory,
            cpu_limit=_double(lk.cpu),
            memory_limit=_double_memory(lk.memory),
        ),
    }


ALLOY_UID = 473
ALLOY_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsUser": ALLOY_UID,
    "runAsGroup": ALLOY_UID,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
ALLOY_POD_SECURITY_CONTEXT: dict[str, Any] = {
    "fsGroup": ALLOY_UID,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


_READ = ["get", "list", "watch"]
ALLOY_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["", "discovery.k8s.io"],
        "resources": ["endpoints", "endpointslices", "pods", "services"],
        "verbs": _READ,
    },
    {"apiGroups": [""], "resources": ["pods", "pods/log", "namespaces", "events"], "verbs": _READ},
]


def alloy_values(s: ObservabilitySettings, logging_namespace: pulumi.Input[str]) -> dict[str, Any]:
    push = svc_url(f"{LOKI}-gateway", logging_namespace, 80, "/loki/api/v1/push")
    return {
        # PodLogs CRD is only for the operator-style pipeline; we tail through the API.
        "crds": {"create": False},
        "controller": {"type": "daemonset"},
        "alloy": {
            "configMap": {
                "create": True,
                "content": push.apply(lambda url: alloy_config(s.cluster_name, url)),
            },
            # loki.source.kubernetes reads logs through the API server: no hostPath.
            "mounts": {"varlog": False, "dockercontainers": False},
            "enableReporting": False,
            "resources": kube.resources("50m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
            # PSS restricted (logging enforces it). The image runs as root by default and
            # ships the user alloy, UID/GID 473 (grafana.com/docs/alloy/latest/configure/
            # nonroot); our pipeline needs no root: API log tailing, no host mounts.
            "securityContext": ALLOY_SECURITY_CONTEXT,
        },
        "global": {"podSecurityContext": ALLOY_POD_SECURITY_CONTEXT},
        # The chart's rules minus what our pipeline never uses: above all `remote.kubernetes.*`
        # (ConfigMaps and Secrets in every namespace) and the operator CRDs. Discovery and log
        # tailing need pods, pods/log and namespaces; the rest of the default stays listed.
        "rbac": {"rules": ALLOY_RULES},
        "configReloader": {
            "resources": kube.resources("10m", "32Mi", cpu_limit="50m", memory_limit="64Mi")
        },
        "serviceMonitor": {"enabled": True},
    }


def _cache(enabled: bool, memory_mb: int) -> dict[str, Any]:
    """A memcached cache; one replica (tests/contract/test_ha_contract.py says why)."""
    # The chart's own sizing (templates/memcached/_memcached-statefulset.tpl: memory
    # allocatedMemory * 1.2, no CPU limit), with the CPU limit every container sets.
    memory = f"{(memory_mb * 12 + 5) // 10}Mi"
    cache: dict[str, Any] = {
        "enabled": enabled,
        "allocatedMemory": memory_mb,
        "allocatedCPU": "100m",
        "replicas": 1,
    }
    if enabled:  # requests of a cache that is off would count in the footprint
        cache["resources"] = kube.resources("100m", memory, cpu_limit="1")
    return cache
