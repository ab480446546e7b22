"""The one test-only switch in the program, for the live suite's API server.

The live suite (tests/live, `make live`) runs `pulumi up` against a real kube-apiserver
whose nodes are simulated: no pod runs, so no webhook served by a pod can answer. With
K8S_PLATFORM_WEBHOOKS_FAIL_OPEN=true, every admission webhook the program or its charts
register fails open with a 1 s timeout; the API server's own admission (Pod Security,
ValidatingAdmissionPolicies, quotas) is untouched. Unset, as in every real deployment,
this does nothing (docs/guardrails.md, "What the live fixture cannot prove")."""

from __future__ import annotations

import os
from typing import Any

import pulumi

SWITCH = "K8S_PLATFORM_WEBHOOKS_FAIL_OPEN"
WEBHOOK_TYPES = (
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
)


def _fail_open(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ not in WEBHOOK_TYPES:
        return None
    props: dict[str, Any] = dict(args.props)
    props["webhooks"] = [
        {**w, "failurePolicy": "Ignore", "timeoutSeconds": 1} for w in props.get("webhooks") or []
    ]
    return pulumi.ResourceTransformResult(props=props, opts=args.opts)


def apply_test_switches() -> None:
    if os.environ.get(SWITCH) == "true":
        pulumi.runtime.register_resource_transform(_fail_open)
