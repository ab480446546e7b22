"""Run the policy pack against an offline Evaluation, the way the engine would.

The Pulumi engine hands each registered resource to the analyzer as
ResourceValidationArgs and the whole stack as StackValidationArgs. Without a CLI we
build the same objects from `tools.offline` resources, apply a pack config file
(`policy/config/<stack>.json`, the `--policy-pack-config` format) and collect the
violations with their effective enforcement level.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policy.rules import ALL_POLICIES
from tools.offline import Evaluation, Resource

CONFIG_DIR = Path(__file__).resolve().parent / "config"
PACK_DEFAULT = EnforcementLevel.MANDATORY


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None
    level: EnforcementLevel

    def __str__(self) -> str:
        return f"[{self.level.value}] {self.policy}: {self.message}"


def pack_config(stack: str) -> dict[str, Any]:
    """The checked-in `--policy-pack-config` file for `stack` ({} when there is none)."""
    file = CONFIG_DIR / f"{stack}.json"
    return json.loads(file.read_text()) if file.exists() else {}


def _options(r: Resource | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=bool(r and r.protect),
        ignore_changes=list(r.ignore_changes) if r else [],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=r.parent if r else None,
    )


def resource_args(
    r: Resource, config: Mapping[str, Any] | None = None, *, stack_tags: Mapping[str, str] = {}
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        r.type,
        unknown_checking_proxy(r.inputs),
        r.urn,
        r.name,
        _options(r),
        provider=None,
        config=dict(config or {}),
        stack_tags=dict(stack_tags),
    )


def policy_resources(resources: list[Resource]) -> list[PolicyResource]:
    """Every resource with its parent and dependency edges, as a stack policy sees them."""
    out: dict[str, PolicyResource] = {}
    for r in resources:
        out[r.urn] = PolicyResource(
            r.type,
            unknown_checking_proxy(r.inputs),
            r.urn,
            r.name,
            _options(r),
            None,
            None,
            [],
            {},
        )
    for r in resources:
        pr = out[r.urn]
        pr.parent = out.get(r.parent)
        pr.dependencies = [out[d] for d in r.dependencies if d in out]
    return list(out.values())


def _level(name: str, config: Mapping[str, Any], default: EnforcementLevel) -> EnforcementLevel:
    own = config.get(name)
    if isinstance(own, str):
        return EnforcementLevel(own)
    if isinstance(own, Mapping) and "enforcementLevel" in own:
        return EnforcementLevel(own["enforcementLevel"])
    if "all" in config:
        return EnforcementLevel(config["all"])
    return default


def _policy_config(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    own = config.get(name)
    if not isinstance(own, Mapping):
        return {}
    return {k: v for k, v in own.items() if k != "enforcementLevel"}


def run_resource_policy(
    policy: ResourceValidationPolicy, args: ResourceValidationArgs
) -> list[str]:
    found: list[str] = []
    assert policy.validate is not None
    validators = policy.validate if isinstance(policy.validate, list) else [policy.validate]
    for validate in validators:
        validate(args, lambda message, urn=None: found.append(message))
    return found


def run_stack_policy(policy: StackValidationPolicy, args: StackValidationArgs) -> list[str]:
    found: list[str] = []
    assert policy.validate is not None
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def analyze(
    evaluation: Evaluation,
    config: Mapping[str, Any] | None = None,
    *,
    resources: list[Resource] | None = None,
    policies: list[ResourceValidationPolicy | StackValidationPolicy] | None = None,
) -> list[Violation]:
    """Every violation of `policies` (default: the whole pack) for the evaluated stack.

    `config` defaults to `policy/config/<stack>.json`; `resources` lets a test pass a
    mutated copy of `evaluation.resources`.
    """
    cfg = pack_config(evaluation.stack) if config is None else config
    items = evaluation.resources if resources is None else resources
    out: list[Violation] = []
    for policy in policies or ALL_POLICIES:
        level = _level(policy.name, cfg, policy.enforcement_level or PACK_DEFAULT)
        if level == EnforcementLevel.DISABLED:
            continue
        own = _policy_config(policy.name, cfg)
        if isinstance(policy, ResourceValidationPolicy):
            for r in items:
                for msg in run_resource_policy(policy, resource_args(r, own)):
                    out.append(Violation(policy.name, msg, r.urn, level))
        else:
            args = StackValidationArgs(policy_resources(items), own)
            for msg in run_stack_policy(policy, args):
                out.append(Violation(policy.name, msg, None, level))
    return out


def mandatory(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.level == EnforcementLevel.MANDATORY]
