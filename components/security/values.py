"""Chart values of SecurityBaseline: cert-manager, Kyverno and trivy-operator."""

from __future__ import annotations

from typing import Any

from components.security.settings import (
    HTTP01,
    AcmeSettings,
    AdmissionSettings,
    TlsSettings,
    TrivySettings,
)
from components.security.tenancy import PLATFORM_CRITICAL
from kernel import kube


def cert_manager_values(tls: TlsSettings, service_monitors: bool) -> dict[str, Any]:
    """cert-manager values: every tier HA with a PDB when replicas > 1."""
    n = tls.replicas
    ha = n > 1

    def tier(cpu: str, memory: str) -> dict[str, Any]:
        return {
            "replicaCount": n,
            "podDisruptionBudget": {"enabled": ha, "minAvailable": 1},
            "resources": kube.resources(cpu, memory, memory_limit=_double(memory)),
        }

    values: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        # Its webhook is failurePolicy Fail: no tenant pod may preempt it (tenancy.py).
        "global": {"priorityClassName": PLATFORM_CRITICAL},
        **tier("25m", "64Mi"),
        "topologySpreadConstraints": _spread("controller") if ha else [],
        "webhook": {
            **tier("10m", "32Mi"),
            "topologySpreadConstraints": _spread("webhook") if ha else [],
        },
        "cainjector": {
            **tier("10m", "64Mi"),
            "topologySpreadConstraints": _spread("cainjector") if ha else [],
        },
        # startupapicheck is a Helm hook Job (it waits until the webhook answers); Chart v4
        # never runs hooks, so it is off. Its replacement: Issuers and Certificates depend
        # on the Chart resource, which pulumi-kubernetes awaits until every object of it,
        # the webhook Deployment included, is ready (tests/contract/test_order_contract.py).
        "startupapicheck": {"enabled": False},
        "prometheus": {
            "enabled": True,
            # honorLabels keeps the certificate's own `namespace` label (the default
            # rewrites it to exported_namespace; chart values.yaml prometheus.servicemonitor).
            "servicemonitor": {"enabled": service_monitors, "honorLabels": True},
        },
    }
    if tls.gateway_api:
        values["config"] = {
            "apiVersion": "controller.config.cert-manager.io/v1alpha1",
            "kind": "ControllerConfiguration",
            "gatewayAPI": {"enabled": True},
        }
    return values


def kyverno_values(a: AdmissionSettings, service_monitors: bool) -> dict[str, Any]:
    monitor = {"enabled": service_monitors}

    def controller(replicas: int, cpu: str, memory: str) -> dict[str, Any]:
        return {
            "replicas": replicas,
            "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
            "resources": kube.resources(cpu, memory, memory_limit=_double(memory)),
            "serviceMonitor": monitor,
        }

    background = controller(a.controller_replicas, "50m", "64Mi")
    admission = controller(a.admission_replicas, "100m", "128Mi")
    # The admission controller nests its resources per container.
    admission_resources = admission.pop("resources")
    values: dict[str, Any] = {
        # Enforce webhooks that refuse pods when down: no tenant pod may preempt them.
        "global": {"priorityClassName": PLATFORM_CRITICAL},
        # Chart v4 drops Helm hooks: the CRD-migration post-upgrade Job and the
        # webhook-cleanup pre-delete Job would never run, so don't render them.
        # Pulumi applies CRD changes itself; see docs/security.md for uninstall.
        "crds": {"migration": {"enabled": False}},
        # Its replacement: --autoDeleteWebhooks (docs/runbooks/teardown.md).
        "webhooksCleanup": {"enabled": False},
        "admissionController": {
            **admission,
            "container": {
                "resources": admission_resources,
                "extraArgs": {"autoDeleteWebhooks": "true"},
            },
            "initContainer": {"resources": kube.resources("10m", "64Mi", memory_limit="256Mi")},
            "rbac": {"coreClusterRole": {"extraResources": webhook_cleanup_rules("admission")}},
            "annotations": KEEP_PODS_ON_DELETE,
        },
        "backgroundController": _with_selector(background, "background-controller"),
        "cleanupController": {
            **_with_selector(background, "cleanup-controller"),
            "extraArgs": {"autoDeleteWebhooks": "true"},
            "rbac": {"coreClusterRole": {"extraResources": webhook_cleanup_rules("cleanup")}},
            "annotations": KEEP_PODS_ON_DELETE,
        },
        "reportsController": _with_selector(background, "reports-controller"),
    }
    if a.admission_replicas > 1:
        values["admissionController"]["topologySpreadConstraints"] = _spread("admission-controller")
    return values


KEEP_PODS_ON_DELETE = {"pulumi.com/deletionPropagationPolicy": "background"}
"""Deleted in the background (pulumi-kubernetes#3011), as kubectl and Helm do: the pods keep
running while the Deployment waits on Kyverno's finalizer, so they can delete their webhooks.
Foreground deletion would stop the pods first."""


def webhook_cleanup_rules(controller: str) -> list[dict[str, Any]]:
    """What `--autoDeleteWebhooks` needs ("requires extra permissions", kyverno cmd flags).

    With the flag, the controller puts a finalizer on its Deployment, ServiceAccount, Role,
    RoleBinding and `:core` ClusterRole, and binds `:core` to itself through a temporary
    ClusterRoleBinding owned by that role (kyverno pkg/controllers/webhook/cleanup.go
    WebhookCleanupSetup). When `pulumi destroy` deletes its Deployment it deletes its webhook
    configurations, then removes the finalizers. The rules sit in `:core` so they outlive the
    chart's own binding while Pulumi deletes the chart objects in parallel. Create on roles
    and bindings cannot be narrowed by name; the API server's escalation check still limits
    them to permissions the controller holds.
    """
    role = f"kyverno:{controller}-controller"
    own = f"kyverno-{controller}-controller"
    rbac = "rbac.authorization.k8s.io"
    return [
        {
            "apiGroups": [rbac],
            "resources": ["clusterroles"],
            "resourceNames": [f"{role}:core"],
            "verbs": ["get", "update"],
        },
        {"apiGroups": [rbac], "resources": ["clusterrolebindings"], "verbs": ["create"]},
        {"apiGroups": [rbac], "resources": ["roles", "rolebindings"], "verbs": ["create"]},
        {
            "apiGroups": [rbac],
            "resources": ["roles", "rolebindings"],
            "resourceNames": [role],
            "verbs": ["get", "update"],
        },
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": [own],
            "verbs": ["get", "update"],
        },
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts"],
            "resourceNames": [own],
            "verbs": ["get", "update", "delete"],
        },
    ]


def trivy_values(t: TrivySettings, service_monitors: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        # Pinned by digest (tag kept for humans): Trivy's 2026-03 supply-chain compromise.
        "image": {"tag": f"0.32.0@{t.operator_digest}"},
        "trivy": {
            "image": {"tag": f"0.72.0@{t.scanner_digest}"},
            "resources": kube.resources("100m", "128Mi", cpu_limit="500m", memory_limit="512Mi"),
        },
        "resources": kube.resources("50m", "128Mi", memory_limit="256Mi"),
        # PSS restricted (trivy-system enforces it). The chart's container securityContext
        # already drops ALL and forbids escalation; the pod needs runAsNonRoot and seccomp.
        # UID 10000: the operator image's user (trivy-operator build/trivy-operator/
        # Dockerfile `USER 10000`; the chart's own alternateReportStorage uses it too).
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10000,
            "runAsGroup": 10000,
            "fsGroup": 10000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The chart has no topologySpreadConstraints value: spread the standby by affinity.
        "affinity": _zone_anti_affinity(TRIVY_PODS) if t.replicas > 1 else {},
        "operator": {
            "replicas": t.replicas,
            "scanJobsConcurrentLimit": t.concurrent_scans,
            # These two run the node-collector (hostPath on kubelet/etcd files), which
            # would force trivy-system to `privileged`. CIS node checks belong to the
            # node image pipeline instead.
            "infraAssessmentScannerEnabled": False,
            "clusterComplianceEnabled": False,
            "metricsFindingsEnabled": True,
        },
        "trivyOperator": {
            "scanJobPodTemplatePodSecurityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "serviceMonitor": {"enabled": service_monitors},
    }
    return values


def acme_spec(a: AcmeSettings) -> dict[str, Any]:
    if a.solver == HTTP01:
        solver: dict[str, Any] = {
            "http01": {
                "gatewayHTTPRoute": {
                    "parentRefs": [
                        {
                            "name": a.gateway_name,
                            "namespace": a.gateway_namespace,
                            "kind": "Gateway",
                            "group": "gateway.networking.k8s.io",
                        }
                    ]
                }
            }
        }
    else:
        # Ambient credentials (IRSA / instance role): no secret in state or values.
        route53: dict[str, Any] = {"region": a.route53_region}
        if a.route53_hosted_zone_id:
            route53["hostedZoneID"] = a.route53_hosted_zone_id
        solver = {"dns01": {"route53": route53}}
    return {
        "email": a.email,
        "server": a.server,
        "privateKeySecretRef": {"name": "letsencrypt-account-key"},
        "solvers": [solver],
    }


# The trivy-operator chart's pod labels (templates/_helpers.tpl selectorLabels).
TRIVY_PODS = {
    "app.kubernetes.io/name": "trivy-operator",
    "app.kubernetes.io/instance": "trivy-operator",
}


def _zone_anti_affinity(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "topology.kubernetes.io/zone",
                        "labelSelector": {"matchLabels": labels},
                    },
                }
            ]
        }
    }


def _spread(component: str) -> list[dict[str, Any]]:
    """Replicas across zones (soft) so one zone outage leaves a working webhook."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/component": component}},
        }
    ]


def _with_selector(values: dict[str, Any], component: str) -> dict[str, Any]:
    out = dict(values)
    if values["replicas"] > 1:
        out["topologySpreadConstraints"] = _spread(component)
    return out


def _double(memory: str) -> str:
    return f"{int(memory[:-2]) * 2}{memory[-2:]}"
