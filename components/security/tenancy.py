"""Tenant limits that hold whatever a tenant writes: object counts, the priority classes a
tenant may not use, and admission rules for Services and monitors."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.security.policies import TENANT_LABEL
from components.security.rbac import as_input
from components.security.settings import TenantSettings
from kernel import data, kube

OBJECT_COUNTS = {
    "count/configmaps": "100",
    "count/secrets": "100",
    "count/services": "50",
    "count/persistentvolumeclaims": "20",
    "count/deployments.apps": "50",
    "count/statefulsets.apps": "20",
    "count/replicasets.apps": "500",
    "count/jobs.batch": "100",
    "count/cronjobs.batch": "20",
    "count/serviceaccounts": "50",
    "count/roles.rbac.authorization.k8s.io": "20",
    "count/rolebindings.rbac.authorization.k8s.io": "20",
    "count/servicemonitors.monitoring.coreos.com": "20",
    "count/podmonitors.monitoring.coreos.com": "20",
    "count/httproutes.gateway.networking.k8s.io": "20",
    "count/horizontalpodautoscalers.autoscaling": "50",
    "count/poddisruptionbudgets.policy": "50",
}
"""Object counts per tenant (Kubernetes ResourceQuota "Object count quota"): every kind the
developer role may create is bounded, so one tenant cannot fill etcd. ReplicaSets count the
Deployments' revision history (10 per Deployment by default)."""

PLATFORM_CRITICAL = "k8s-platform-critical"
PLATFORM = "k8s-platform"
PRIORITY_CLASSES = {
    PLATFORM_CRITICAL: (1_000_000, "Fail-closed admission webhooks of the platform."),
    PLATFORM: (100_000, "Platform controllers and their data path."),
}
"""Below system-cluster-critical (2000000000), above every tenant pod (0)."""
RESERVED_CLASSES = ["system-node-critical", "system-cluster-critical", *PRIORITY_CLASSES]
"""Classes no tenant pod may use: Kubernetes lets any namespace use the system classes
(since 1.17), and a tenant pod at their priority preempts the platform."""


def quota_hard(q: Any) -> dict[str, str]:
    return {
        "requests.cpu": q.requests_cpu,
        "requests.memory": q.requests_memory,
        "limits.cpu": q.limits_cpu,
        "limits.memory": q.limits_memory,
        "pods": str(q.pods),
        "requests.storage": q.requests_storage,
        # No NodePort/LoadBalancer: tenants are exposed through the gateway.
        "services.nodeports": "0",
        "services.loadbalancers": "0",
        **OBJECT_COUNTS,
    }


def tenant_limits(t: TenantSettings, opts: pulumi.ResourceOptions) -> None:
    """The tenant's ResourceQuota (with the reserved priority classes at zero) and
    LimitRange: what the namespace may hold and each container's defaults and ceiling."""
    q = t.quota
    k8s.core.v1.ResourceQuota(
        f"{t.name}-quota",
        metadata={"name": "tenant-quota", "namespace": t.name, "labels": kube.MANAGED_BY},
        spec={"hard": quota_hard(q)},
        opts=opts,
    )
    reserved_priority_quota(t.name, opts)
    lim = t.limits
    k8s.core.v1.LimitRange(
        f"{t.name}-limits",
        metadata=as_input(
            {"name": "tenant-limits", "namespace": t.name, "labels": kube.MANAGED_BY}
        ),
        spec=as_input(
            {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {
                            "cpu": lim.default_request_cpu,
                            "memory": lim.default_request_memory,
                        },
                        "default": {
                            "cpu": lim.default_limit_cpu,
                            "memory": lim.default_limit_memory,
                        },
                        "max": {"cpu": lim.max_cpu, "memory": lim.max_memory},
                    }
                ]
            }
        ),
        opts=opts,
    )


def reserved_priority_quota(tenant: str, opts: pulumi.ResourceOptions) -> None:
    """No pod of the tenant at a reserved priority (a quota of 0 pods in that scope)."""
    spec: Any = {
        "hard": {"pods": "0"},
        "scopeSelector": {
            "matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": RESERVED_CLASSES}
            ]
        },
    }
    k8s.core.v1.ResourceQuota(
        f"{tenant}-reserved-priority",
        metadata={"name": "no-reserved-priority", "namespace": tenant, "labels": kube.MANAGED_BY},
        spec=spec,
        opts=opts,
    )


def priority_classes(opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    return [
        k8s.scheduling.v1.PriorityClass(
            name,
            metadata={"name": name, "labels": kube.MANAGED_BY},
            value=value,
            global_default=False,
            description=why,
            opts=opts,
        )
        for name, (value, why) in PRIORITY_CLASSES.items()
    ]


def admission_rules(opts: pulumi.ResourceOptions) -> None:
    """externalIPs refused everywhere; tenant monitors confined (data/*.yaml say why)."""
    tenants = {
        "namespaceSelector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
    }
    for name, match in (("deny-external-ips", None), ("tenant-monitors", tenants)):
        full = f"{name}.k8s-platform.io"
        metadata: Any = {"name": full, "labels": kube.MANAGED_BY}
        policy: Any = data.yaml_doc(__file__, f"{name}.yaml")
        vap = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            name, metadata=metadata, spec=policy, opts=opts
        )
        binding: Any = {"policyName": full, "validationActions": ["Deny"]}
        if match:
            binding["matchResources"] = match
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            name,
            metadata=metadata,
            spec=binding,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[vap])),
        )
