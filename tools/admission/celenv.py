"""CEL for admission rules, on the Rust-backed `common-expression-language` engine.

The engine (cel-rust) parses CEL and evaluates the core spec, the macros and
optional *values* (`optional.of/none`, `.orValue`, `.hasValue`), but its parser
rejects the optional *field selection* syntax `x.?f` that Kubernetes and Kyverno
policies use. We rewrite `recv.?f` into `_optsel(recv, 'f')`, a function with the
same meaning (an optional of the field when present, none otherwise; none stays
none). Anything else the engine cannot do (an unknown function, `[?k]`,
a plain select after `.?`) is a compile error: an expression is never skipped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

import cel
from cel.stdlib import add_stdlib_to_context

# cel-rust built-ins (core spec + macros + optional value methods).
_NATIVE = frozenset(
    {
        "size",
        "has",
        "all",
        "exists",
        "exists_one",
        "map",
        "filter",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "orValue",
        "hasValue",
        "value",
        "or",
        "optional.of",
        "optional.none",
        "optional.ofNonZeroValue",
        "getFullYear",
        "getMonth",
        "getDayOfMonth",
        "getDayOfYear",
        "getDayOfWeek",
        "getDate",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)


class CelCompileError(ValueError):
    """The expression cannot be evaluated faithfully by this engine."""


class CelEvalError(RuntimeError):
    """Evaluation failed (no such key, type error ...): the policy's failurePolicy applies."""


def _optsel(receiver: Any, field: str) -> cel.OptionalValue:
    if isinstance(receiver, cel.OptionalValue):
        if not receiver.has_value():
            return receiver
        receiver = receiver.value()
    if isinstance(receiver, Mapping) and field in receiver:
        return cel.OptionalValue.of(receiver[field])
    if isinstance(receiver, Mapping) or receiver is None:
        return cel.OptionalValue.none()
    raise CelEvalError(f"optional select .?{field} on {type(receiver).__name__}")


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


# Kubernetes CEL library functions we provide (k8s "lists" library). The other
# Kubernetes libraries (regex find/findAll, url, ip/cidr, quantity, semver,
# format, authorizer) are NOT provided: a policy using them fails to compile.
_K8S_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "_optsel": _optsel,
    "isSorted": _is_sorted,
}


def _string_mask(src: str) -> list[bool]:
    """True for every character inside a string literal (quotes included)."""
    mask = [False] * len(src)
    i = 0
    while i < len(src):
        ch = src[i]
        if ch in "'\"":
            quote = src[i : i + 3] if src[i : i + 3] in ("'''", '"""') else ch
            j = i + len(quote)
            while j < len(src) and not src.startswith(quote, j):
                j += 2 if src[j] == "\\" else 1
            end = min(j + len(quote), len(src))
            for k in range(i, end):
                mask[k] = True
            i = end
        else:
            i += 1
    return mask


def _chain_start(src: str, mask: list[bool], pos: int) -> int:
    """Start of the member chain that ends just before `pos`."""
    j = pos
    while True:
        if j > 0 and src[j - 1] in ")]" and not mask[j - 1]:
            close, opener, depth = src[j - 1], "(" if src[j - 1] == ")" else "[", 0
            k = j - 1
            while k >= 0:
                if not mask[k]:
                    if src[k] == close:
                        depth += 1
                    elif src[k] == opener:
                        depth -= 1
                        if depth == 0:
                            break
                k -= 1
            if k < 0:
                raise CelCompileError(f"unbalanced {close!r} in {src!r}")
            j = k
        while j > 0 and (src[j - 1].isalnum() or src[j - 1] == "_") and not mask[j - 1]:
            j -= 1
        if j > 0 and src[j - 1] == "." and not mask[j - 1]:
            j -= 1
            continue
        return j


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def rewrite_optional_select(src: str) -> str:
    """Rewrite every `recv.?field` into `_optsel(recv, 'field')`."""
    while True:
        mask = _string_mask(src)
        pos = next((i for i in range(len(src) - 1) if src[i : i + 2] == ".?" and not mask[i]), -1)
        if pos < 0:
            break
        ident = _IDENT.match(src, pos + 2)
        if ident is None:
            raise CelCompileError(f"unsupported optional syntax at {pos} in {src!r}")
        start = _chain_start(src, mask, pos)
        after = src[ident.end() :]
        # cel-go: a plain `.g` after `.?f` selects inside the optional; refuse it.
        nxt = re.match(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\(?)", after)
        if nxt and not nxt.group(2) and nxt.group(1) not in ("orValue", "hasValue"):
            raise CelCompileError(f"plain select after optional select in {src!r}")
        src = f"{src[:start]}_optsel({src[start:pos]}, '{ident.group()}'){after}"
    mask = _string_mask(src)
    if any(src[i : i + 2] == "[?" and not mask[i] for i in range(len(src) - 1)):
        raise CelCompileError(f"optional index [?k] is not supported: {src!r}")
    return src


def _base_context() -> cel.Context:
    ctx = cel.Context()
    add_stdlib_to_context(ctx)
    for name, fn in _K8S_FUNCTIONS.items():
        ctx.add_function(name, fn)
    return ctx


_KNOWN_FUNCTIONS = frozenset(_NATIVE | set(_base_context().functions))


class Activation:
    """The variables one admission request binds. Converting an object into CEL values is
    the engine's main cost, so the request's context is built once and shared by every
    expression of a policy; `set` rebinds one name (the policy's `variables` map)."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.ctx = _base_context()
        self.ctx.update(dict(variables))

    def set(self, name: str, value: Any) -> None:
        self.ctx.update({name: value})


class Expression:
    """One compiled CEL expression; compile errors raise at construction."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rewritten = rewrite_optional_select(source)
        try:
            self._program = cel.compile(self.rewritten)
        except ValueError as exc:
            raise CelCompileError(f"{source!r}: {exc}") from exc
        unknown = [
            f
            for f in self._program.functions()
            if not f.startswith(("_", "@", "!")) and f not in _KNOWN_FUNCTIONS
        ]
        if unknown:
            raise CelCompileError(f"{source!r}: functions not available: {sorted(unknown)}")

    def evaluate(self, variables: Mapping[str, Any] | Activation) -> Any:
        act = variables if isinstance(variables, Activation) else Activation(variables)
        try:
            return self._program.execute(act.ctx)
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise CelEvalError(f"{self.source!r}: {type(exc).__name__}: {exc}") from exc


class LazyVariables:
    """The VAP `variables` map: each evaluated in order, visible to later ones."""

    def __init__(self, specs: list[Mapping[str, Any]]) -> None:
        self.specs = [(str(v["name"]), Expression(str(v["expression"]))) for v in specs]

    def resolve(self, act: Activation) -> dict[str, Any]:
        values: dict[str, Any] = {}
        act.set("variables", values)
        for name, expr in self.specs:
            values[name] = expr.evaluate(act)
            act.set("variables", values)
        return values
