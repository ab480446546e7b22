"""Kyverno ClusterPolicy validate rules: match/exclude, preconditions, pattern,
anyPattern, deny conditions, failureAction, and autogen (validate.podSecurity is not
modelled: a rule using it fails loudly, as any other unknown validate key does).

Autogen (kyverno.io/docs/policy-types/cluster-policy/autogen; kyverno
pkg/autogen/v1 CanAutoGen): a policy whose rules match only Pod (no names,
selector or annotations in any match/exclude, no mixed kinds) also applies to
DaemonSet, Deployment, Job, StatefulSet, ReplicaSet, ReplicationController and
CronJob, with the pattern moved under the pod template. We evaluate the pod rule
on the template seen as a Pod, which is what the moved pattern checks.

Scope of the Kyverno webhooks (kyverno chart 3.9.0 defaults, not overridden by
our values): namespace kube-system and the Kyverno namespace are excluded
(webhooks.namespaceSelector, excludeKyvernoNamespace) and config.resourceFilters
skip kube-public, kube-node-lease and kinds Event, Node, APIService, Binding,
ReplicaSet, *Review and (Cluster)EphemeralReport.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import jmespath

from .pattern import GlobalSkip, match
from .request import TEMPLATE_PATHS, Obj, Request, group_version, labels_match, pod_template
from .result import Finding

AUTOGEN_KINDS = frozenset(TEMPLATE_PATHS)
KYVERNO_SKIP_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
KYVERNO_SKIP_KINDS = frozenset(
    {
        "Event",
        "Node",
        "APIService",
        "TokenReview",
        "SubjectAccessReview",
        "SelfSubjectAccessReview",
        "Binding",
        "ReplicaSet",
        "EphemeralReport",
        "ClusterEphemeralReport",
    }
)


def in_kyverno_scope(req: Request, kyverno_namespace: str) -> bool:
    if req.kind in KYVERNO_SKIP_KINDS:
        return False
    return req.namespace not in KYVERNO_SKIP_NAMESPACES | {kyverno_namespace}


def _kind_hit(entry: str, req: Request) -> bool:
    parts = entry.split("/")
    kind = parts[-1]
    if not fnmatch.fnmatchcase(req.kind, kind):
        return False
    g, v = group_version(str(req.obj.get("apiVersion", "")))
    if len(parts) == 2:
        return parts[0] in ("*", v)
    if len(parts) == 3:
        return parts[0] in ("*", g) and parts[1] in ("*", v)
    return True


def _description_hit(rd: Obj, req: Request, kind_override: bool) -> bool:
    kinds = rd.get("kinds") or []
    if kinds and not kind_override and not any(_kind_hit(k, req) for k in kinds):
        return False
    name = str((req.obj.get("metadata") or {}).get("name", ""))
    names = list(rd.get("names") or []) + ([rd["name"]] if rd.get("name") else [])
    if names and not any(fnmatch.fnmatchcase(name, n) for n in names):
        return False
    namespaces = rd.get("namespaces") or []
    if namespaces and not any(fnmatch.fnmatchcase(req.namespace, n) for n in namespaces):
        return False
    if "selector" in rd and not labels_match(rd["selector"], req.labels):
        return False
    if "namespaceSelector" in rd:
        ns_labels = ((req.namespace_obj or {}).get("metadata") or {}).get("labels") or {}
        if req.namespace_obj is None or not labels_match(rd["namespaceSelector"], ns_labels):
            return False
    ops = rd.get("operations") or []
    if ops and req.operation not in ops:
        return False
    if rd.get("annotations"):
        ann = (req.obj.get("metadata") or {}).get("annotations") or {}
        if not all(
            fnmatch.fnmatchcase(str(ann.get(k, "")), v) for k, v in rd["annotations"].items()
        ):
            return False
    return True


def _filter_hit(flt: Obj, req: Request, kind_override: bool) -> bool:
    for key in ("subjects", "roles", "clusterRoles"):
        if flt.get(key):
            raise NotImplementedError(f"match/exclude by {key}")
    return _description_hit(flt.get("resources") or {}, req, kind_override)


def _block_hit(block: Obj | None, req: Request, kind_override: bool, empty: bool) -> bool:
    if not block:
        return empty
    if block.get("any"):
        return any(_filter_hit(f, req, kind_override) for f in block["any"])
    if block.get("all"):
        return all(_filter_hit(f, req, kind_override) for f in block["all"])
    return _filter_hit(block, req, kind_override)


def _descriptions(rule: Obj) -> list[Obj]:
    out = []
    for block in (rule.get("match"), rule.get("exclude")):
        if block:
            out += [
                f.get("resources") or {}
                for f in (block.get("any") or []) + (block.get("all") or [])
            ]
            if block.get("resources"):
                out.append(block["resources"])
    return out


def can_autogen(policy: Obj) -> bool:
    ann = (policy.get("metadata") or {}).get("annotations") or {}
    if ann.get("pod-policies.kyverno.io/autogen-controllers") == "none":
        return False
    needed = False
    for rule in (policy.get("spec") or {}).get("rules") or []:
        for rd in _descriptions(rule):
            kinds = rd.get("kinds") or []
            if (
                rd.get("name")
                or rd.get("names")
                or rd.get("selector") is not None
                or rd.get("annotations")
            ):
                return False
            if len(kinds) > 1 and "Pod" in kinds:
                return False
            needed = needed or bool(set(kinds) & (AUTOGEN_KINDS | {"Pod"}))
    return needed


_VAR = re.compile(r"\{\{\s*(.+?)\s*\}\}")


def substitute(value: Any, data: Obj) -> Any:
    """Kyverno `{{ jmespath }}` variables; a whole-string variable keeps its type."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value.strip())
        if whole:
            return jmespath.search(whole.group(1), data)
        return _VAR.sub(lambda m: str(jmespath.search(m.group(1), data)), value)
    if isinstance(value, list):
        return [substitute(v, data) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, data) for k, v in value.items()}
    return value


def _condition(cond: Obj, data: Obj) -> bool:
    key, op, val = (
        substitute(cond.get("key"), data),
        cond["operator"],
        substitute(cond.get("value"), data),
    )
    as_list = key if isinstance(key, list) else [key]
    vals = val if isinstance(val, list) else [val]
    ops: dict[str, Any] = {
        "Equals": lambda: key == val,
        "NotEquals": lambda: key != val,
        "In": lambda: all(k in vals for k in as_list),
        "AnyIn": lambda: any(k in vals for k in as_list),
        "AllIn": lambda: all(k in vals for k in as_list),
        "NotIn": lambda: all(k not in vals for k in as_list),
        "AnyNotIn": lambda: any(k not in vals for k in as_list),
        "AllNotIn": lambda: all(k not in vals for k in as_list),
        "GreaterThan": lambda: float(key) > float(val),
        "GreaterThanOrEquals": lambda: float(key) >= float(val),
        "LessThan": lambda: float(key) < float(val),
        "LessThanOrEquals": lambda: float(key) <= float(val),
    }
    if op not in ops:
        raise NotImplementedError(f"condition operator {op}")
    return bool(ops[op]())


def conditions_hold(block: Any, data: Obj) -> bool:
    if not block:
        return True
    if isinstance(block, list):
        return all(_condition(c, data) for c in block)
    ok_any = any(_condition(c, data) for c in block["any"]) if block.get("any") else True
    return ok_any and all(_condition(c, data) for c in block.get("all") or [])


class ClusterPolicy:
    def __init__(self, policy: Obj) -> None:
        self.obj = policy
        self.name = str(policy["metadata"]["name"])
        spec = policy.get("spec") or {}
        self.rules = [r for r in spec.get("rules") or [] if "validate" in r]
        self.default_action = str(spec.get("validationFailureAction", "Audit"))
        self.autogen = can_autogen(policy)

    def evaluate(self, req: Request) -> list[Finding]:
        out: list[Finding] = []
        for rule in self.rules:
            out += self._rule(rule, req)
        return out

    def _rule(self, rule: Obj, req: Request) -> list[Finding]:
        obj = req.obj
        if not _block_hit(rule.get("match"), req, False, empty=False):
            if not (
                self.autogen
                and req.kind in AUTOGEN_KINDS
                and _block_hit(rule.get("match"), req, True, False)
            ):
                return []
            tpl = pod_template(req.obj) or {}
            md = {**(tpl.get("metadata") or {}), "namespace": req.namespace}
            obj = {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": tpl.get("spec") or {}}
        if _block_hit(rule.get("exclude"), req, obj is not req.obj, empty=False):
            return []
        validate = rule["validate"]
        action = str(validate.get("failureAction", self.default_action))
        source = f"Kyverno ClusterPolicy {self.name}/{rule['name']}"
        deny = action.lower() == "enforce"
        if rule.get("context"):
            if deny:
                raise NotImplementedError(f"{source}: context entries in an Enforce rule")
            return [
                Finding(
                    req.obj, source, "not evaluated: rule needs API context (Audit only)", False
                )
            ]
        data = {
            "request": {
                "object": obj,
                "oldObject": None,
                "operation": req.operation,
                "namespace": req.namespace,
                "userInfo": {"username": req.username},
            }
        }
        if not conditions_hold(rule.get("preconditions"), data):
            return []
        message = str(substitute(validate.get("message", ""), data) or "validation failed")
        failed = self._validate(validate, obj, data)
        return [Finding(req.obj, source, f"{message} ({failed})", deny)] if failed else []

    def _validate(self, validate: Obj, obj: Obj, data: Obj) -> str | None:
        try:
            if "pattern" in validate:
                return match(obj, validate["pattern"])
            if "anyPattern" in validate:
                errs = [match(obj, p) for p in validate["anyPattern"]]
                return None if any(e is None for e in errs) else ", ".join(str(e) for e in errs)
        except GlobalSkip:
            return None
        if "deny" in validate:
            return (
                "deny conditions met"
                if conditions_hold((validate["deny"] or {}).get("conditions"), data)
                else None
            )
        raise NotImplementedError(f"validate keys {sorted(validate)}")


def load_cluster_policies(objects: list[Obj]) -> list[ClusterPolicy]:
    return [ClusterPolicy(o) for o in objects if o.get("kind") == "ClusterPolicy"]
