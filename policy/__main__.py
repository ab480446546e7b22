"""The policy pack `pulumi preview --policy-pack policy` runs. Keep it thin: the rules
live in rules.py (tested without a server). Never import this file: constructing a
PolicyPack starts a gRPC server and blocks forever."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The rules read the exemption list from kernel/namespaces.py in the repo root.
sys.path[:0] = [str(HERE.parent)]

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.rules import ALL_POLICIES  # noqa: E402

# Mandatory unless the pack config says otherwise: dev passes policy/config/dev.json
# ({"all": "advisory"}), prod passes policy/config/prod.json.
PolicyPack(
    name="k8s-platform-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
    description="Guardrails for the k8s-platform Pulumi program (see docs/guardrails.md).",
)
