"""The platform's own Kyverno ClusterPolicies for tenant workloads.

They are built, not literal: the failure action follows `security.admission.mode` and
the exemptions come from kernel.namespaces.
"""

from __future__ import annotations

from typing import Any

from components.security.settings import AUDIT
from kernel.namespaces import POLICY_EXEMPT_NAMESPACES

TENANT_LABEL = "k8s-platform/tenant"


def _tenant_match(kinds: list[str]) -> dict[str, Any]:
    return {
        "any": [
            {
                "resources": {
                    "kinds": kinds,
                    "namespaceSelector": {
                        "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
                    },
                }
            }
        ]
    }


def _policy(name: str, title: str, description: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "annotations": {
                "policies.kyverno.io/title": title,
                "policies.kyverno.io/description": description,
                "policies.kyverno.io/severity": "medium",
            },
        },
        "spec": {"background": True, "rules": rules},
    }


def cluster_policies(mode: str, require_ha: bool) -> list[dict[str, Any]]:
    """The platform's own admission rules (Kyverno auto-generates the Deployment/Job/...
    variants from each Pod rule)."""
    policies = [
        _latest_tag_policy(mode),
        _requests_limits_policy(mode),
        _probes_policy(mode),
        _privileged_policy(mode),
    ]
    if require_ha:
        policies.append(_ha_policy())
    return policies


CONTAINERS = ["containers", "=(initContainers)"]
LONG_RUNNING_CONTROLLERS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]


def _validate(action: str, message: str, pattern: dict[str, Any]) -> dict[str, Any]:
    return {"failureAction": action, "message": message, "pattern": pattern}


def _latest_tag_policy(mode: str) -> dict[str, Any]:
    """Tenant images carry a tag other than latest."""
    return _policy(
        "disallow-latest-tag",
        "Disallow latest and untagged images",
        "Tenant images must carry an explicit tag other than latest (or a digest).",
        [
            {
                "name": "require-image-tag",
                "match": _tenant_match(["Pod"]),
                "validate": _validate(
                    mode,
                    "An image tag is required (e.g. app:1.4.2 or app@sha256:...).",
                    {"spec": {c: [{"image": "*:*"}] for c in CONTAINERS}},
                ),
            },
            {
                "name": "disallow-latest",
                "match": _tenant_match(["Pod"]),
                "validate": _validate(
                    mode,
                    "The 'latest' tag is mutable; pin a version or digest.",
                    {"spec": {c: [{"image": "!*:latest"}] for c in CONTAINERS}},
                ),
            },
        ],
    )


def _requests_limits_policy(mode: str) -> dict[str, Any]:
    """Tenant containers state requests and limits."""
    return _policy(
        "require-requests-limits",
        "Require CPU and memory requests and limits",
        "Every tenant container states CPU and memory requests and limits.",
        [
            {
                "name": "require-requests-limits",
                "match": _tenant_match(["Pod"]),
                "validate": _validate(
                    mode,
                    "CPU and memory requests and limits are required.",
                    {
                        "spec": {
                            c: [
                                {
                                    "resources": {
                                        "requests": {"cpu": "?*", "memory": "?*"},
                                        "limits": {"cpu": "?*", "memory": "?*"},
                                    }
                                }
                            ]
                            for c in CONTAINERS
                        }
                    },
                ),
            }
        ],
    )


def _probes_policy(mode: str) -> dict[str, Any]:
    """Long-running tenant containers declare probes.

    Written per kind, not left to autogen: Kyverno generates controller rules only when
    no rule of the policy matches or excludes by selector (kyverno.io/docs/policy-types/
    cluster-policy/autogen), and the Job exclusion below is a selector. Without the
    explicit rule a Deployment without probes is admitted and only its Pods are refused.
    """
    probes = {"readinessProbe": {"periodSeconds": ">0"}, "livenessProbe": {"periodSeconds": ">0"}}
    message = "readinessProbe and livenessProbe are required."
    policy = _policy(
        "require-probes",
        "Require readiness and liveness probes",
        "Long-running tenant containers declare readiness and liveness probes.",
        [
            {
                "name": "require-probes",
                "match": _tenant_match(["Pod"]),
                # Jobs finish on their own; probes make no sense there.
                "exclude": {
                    "any": [
                        {
                            "resources": {
                                "selector": {
                                    "matchExpressions": [
                                        {
                                            "key": "batch.kubernetes.io/job-name",
                                            "operator": "Exists",
                                        }
                                    ]
                                }
                            }
                        }
                    ]
                },
                "validate": _validate(mode, message, {"spec": {"containers": [probes]}}),
            },
            {
                "name": "require-probes-controllers",
                "match": _tenant_match(LONG_RUNNING_CONTROLLERS),
                "validate": _validate(
                    mode, message, {"spec": {"template": {"spec": {"containers": [probes]}}}}
                ),
            },
        ],
    )
    # Say what the selector implies anyway: Kyverno adds no controller rules here.
    policy["metadata"]["annotations"]["pod-policies.kyverno.io/autogen-controllers"] = "none"
    return policy


def _privileged_policy(mode: str) -> dict[str, Any]:
    """Privileged pods and hostPath only in the exempt namespaces."""
    exempt = {"any": [{"resources": {"namespaces": list(POLICY_EXEMPT_NAMESPACES)}}]}
    # The description names the list's old path; kept as deployed (a pure move changes
    # no object). The list lives in kernel/namespaces.py.
    return _policy(
        "disallow-privileged-and-host-path",
        "Disallow privileged containers and hostPath volumes",
        "Only the namespaces listed in components/namespaces.py may run privileged pods "
        "or mount host paths.",
        [
            {
                "name": "disallow-privileged",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "exclude": exempt,
                "validate": _validate(
                    mode,
                    "Privileged containers are not allowed here.",
                    {
                        "spec": {
                            f"=({c.strip('=()')})": [
                                {"=(securityContext)": {"=(privileged)": "false"}}
                            ]
                            for c in ("containers", "initContainers", "ephemeralContainers")
                        }
                    },
                ),
            },
            {
                "name": "disallow-host-path",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "exclude": exempt,
                "validate": _validate(
                    mode,
                    "hostPath volumes are not allowed here.",
                    {"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}},
                ),
            },
        ],
    )


def _ha_policy() -> dict[str, Any]:
    """Always Audit: single-replica Deployments and missing PDBs are reported."""
    ha = _policy(
        "require-ha-deployments",
        "Report single-replica Deployments and Deployments without a PDB",
        "In prod a tenant Deployment should run 2+ replicas behind a PodDisruptionBudget. "
        "Always Audit: it reports, it never blocks a rollout.",
        [
            {
                "name": "require-two-replicas",
                "match": _tenant_match(["Deployment"]),
                "validate": _validate(
                    AUDIT,
                    "Run at least 2 replicas so a node drain does not take the app down.",
                    {"spec": {"replicas": ">=2"}},
                ),
            },
            {
                "name": "require-pdb",
                "match": _tenant_match(["Deployment"]),
                "context": [
                    {
                        "name": "pdbs",
                        "apiCall": {
                            "urlPath": "/apis/policy/v1/namespaces/{{request.namespace}}"
                            "/poddisruptionbudgets",
                            "jmesPath": "items[?label_match(spec.selector.matchLabels, "
                            "`{{request.object.spec.template.metadata.labels}}`)]"
                            " | length(@)",
                        },
                    }
                ],
                "validate": {
                    "failureAction": AUDIT,
                    "message": "Add a PodDisruptionBudget that selects this Deployment.",
                    "deny": {
                        "conditions": {
                            "any": [{"key": "{{pdbs}}", "operator": "LessThan", "value": 1}]
                        }
                    },
                },
            },
        ],
    )
    # The PDB lookup reads the live namespace; background scans have no request.
    ha["spec"]["background"] = False
    return ha
