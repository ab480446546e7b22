"""ValidatingAdmissionPolicy (+Binding) and Kyverno ValidatingPolicy, evaluated with CEL.

Semantics follow the Kubernetes "Validating Admission Policy" reference: the policy's
matchConstraints and the binding's matchResources must both match; all matchConditions
must be true (an error applies failurePolicy); every validation that is false is a
violation; the binding's validationActions decide Deny vs Warn/Audit.

A Kyverno ValidatingPolicy is the same shape with validationActions in its spec and
no binding. Kyverno autogenerates rules for pod controllers when the policy matches
only `pods` without selectors (kyverno pkg/cel/autogen: canAutoGen); the generated
rule rewrites `object.spec` -> `object.spec.template.spec` (CronJob:
`object.spec.jobTemplate.spec.template.spec`) and `object.metadata` likewise. We get
the same result by binding `object` to the pod template seen as a Pod.
"""

from __future__ import annotations

from dataclasses import dataclass

from .celenv import Activation, CelEvalError, Expression, LazyVariables
from .request import TEMPLATE_PATHS, Obj, Request, match_resources, plural, pod_template
from .result import Finding

_AUTOGEN_CONTROLLERS = frozenset(
    {"DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "CronJob"}
)


@dataclass(frozen=True)
class _Validation:
    expr: Expression
    message: str | None
    message_expr: Expression | None


class CelPolicy:
    """One compiled policy; `source` names it in findings."""

    def __init__(
        self, policy: Obj, actions: list[str], binding_match: Obj | None, source: str
    ) -> None:
        spec = policy.get("spec") or {}
        self.source = source
        self.name = str(policy["metadata"]["name"])
        self.actions = actions
        self.failure_policy = str(spec.get("failurePolicy", "Fail"))
        self.match = spec.get("matchConstraints") or {}
        self.binding_match = binding_match
        self.conditions = [
            (str(c["name"]), Expression(str(c["expression"])))
            for c in spec.get("matchConditions") or []
        ]
        self.variables = LazyVariables(spec.get("variables") or [])
        self.validations = [
            _Validation(
                Expression(str(v["expression"])),
                v.get("message"),
                Expression(str(v["messageExpression"])) if v.get("messageExpression") else None,
            )
            for v in spec.get("validations") or []
        ]
        if spec.get("paramKind"):
            raise ValueError(f"{source}: paramKind is not supported")
        self.autogen = policy.get("kind") == "ValidatingPolicy" and _can_autogen(self.match)

    def applies(self, req: Request) -> tuple[bool, Obj]:
        """Whether the policy matches, and the `object` the expressions see."""
        if match_resources(self.match, req) and match_resources(self.binding_match, req):
            return True, req.obj
        if self.autogen and req.kind in _AUTOGEN_CONTROLLERS:
            tpl = pod_template(req.obj)
            ops = {
                o for r in self.match.get("resourceRules") or [] for o in r.get("operations") or []
            }
            if tpl is not None and (req.operation in ops or "*" in ops):
                md = dict(tpl.get("metadata") or {})
                owner = req.obj.get("metadata") or {}
                md["name"], md["namespace"] = owner.get("name"), owner.get("namespace")
                return True, {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": md,
                    "spec": tpl.get("spec") or {},
                }
        return False, req.obj

    def evaluate(self, req: Request) -> list[Finding]:
        applies, obj = self.applies(req)
        if not applies:
            return []
        env = Activation(
            {
                "object": obj,
                "oldObject": None,
                "request": req.cel_request(),
                "namespaceObject": req.namespace_obj,
                "params": None,
            }
        )
        try:
            for _name, cond in self.conditions:
                if cond.evaluate(env) is not True:
                    return []
            self.variables.resolve(env)
        except CelEvalError as exc:
            return self._failure(req, f"matchCondition/variable error: {exc}")
        out: list[Finding] = []
        for v in self.validations:
            try:
                ok = v.expr.evaluate(env)
            except CelEvalError as exc:
                out += self._failure(req, f"expression error: {exc}")
                continue
            if ok is not True:
                out.append(self._finding(req, self._message(v, env)))
        return out

    def _message(self, v: _Validation, env: Activation) -> str:
        if v.message_expr is not None:
            try:
                text = v.message_expr.evaluate(env)
                if isinstance(text, str) and text.strip():
                    return text
            except CelEvalError:
                pass
        return (v.message or f"failed expression: {v.expr.source}").strip()

    def _failure(self, req: Request, message: str) -> list[Finding]:
        if self.failure_policy == "Ignore":
            return []
        return [self._finding(req, message)]

    def _finding(self, req: Request, message: str) -> Finding:
        return Finding(req.obj, self.source, message, deny="Deny" in self.actions)


def _can_autogen(match: Obj) -> bool:
    for sel in ("namespaceSelector", "objectSelector"):
        s = match.get(sel) or {}
        if s.get("matchLabels") or s.get("matchExpressions"):
            return False
    rules = match.get("resourceRules") or []
    return bool(rules) and all(
        not r.get("resourceNames") and (r.get("resources") or []) == ["pods"] for r in rules
    )


def load_cel_policies(objects: list[Obj]) -> list[CelPolicy]:
    """Every VAP with each of its bindings, and every Kyverno ValidatingPolicy."""
    vaps = {
        o["metadata"]["name"]: o for o in objects if o.get("kind") == "ValidatingAdmissionPolicy"
    }
    out: list[CelPolicy] = []
    for b in (o for o in objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"):
        spec = b.get("spec") or {}
        policy = vaps.get(spec.get("policyName"))
        if policy is None:
            continue  # a binding to a missing policy has no effect
        if spec.get("paramRef"):
            raise ValueError(f"binding {b['metadata']['name']}: paramRef is not supported")
        src = f"ValidatingAdmissionPolicy {policy['metadata']['name']}"
        out.append(
            CelPolicy(
                policy, list(spec.get("validationActions") or []), spec.get("matchResources"), src
            )
        )
    for p in (o for o in objects if o.get("kind") == "ValidatingPolicy"):
        spec = p.get("spec") or {}
        actions = list(spec.get("validationActions") or ["Deny"])
        out.append(CelPolicy(p, actions, None, f"Kyverno ValidatingPolicy {p['metadata']['name']}"))
    return out


__all__ = ["TEMPLATE_PATHS", "CelPolicy", "load_cel_policies", "plural"]
