"""Kyverno validate `pattern` / `anyPattern` semantics (kyverno.io/docs, "Validate
Rules: Patterns"): anchors `=()` conditional-if-present, `X()` negation (key must be
absent), `()` condition (element/map skipped unless it matches), `^()` existence
(some list element matches), `<()` global (whole rule skipped unless it matches);
string values: `*`/`?` wildcards, `|` OR, `&` AND, `!` negation, `>` `>=` `<` `<=`
on numbers and quantities, `a-b` / `!a-b` ranges. A one-element list pattern
applies to every element of the resource list."""

from __future__ import annotations

import fnmatch
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_ANCHOR = re.compile(r"^(=|X|\^|<|\+)?\((.+)\)$")
_SUFFIX: dict[str, Decimal | int] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


class GlobalSkip(Exception):
    """A `<()` global anchor did not match: the rule does not apply."""


def quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    m = re.fullmatch(
        r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)", str(value).strip()
    )
    if not m:
        return None
    try:
        return Decimal(m.group(1)) * Decimal(str(_SUFFIX[m.group(2)]))
    except InvalidOperation:
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _operand(value: Any, pat: str) -> bool:
    pat = pat.strip()
    for op in (">=", "<=", ">", "<"):
        if pat.startswith(op):
            a, b = quantity(value), quantity(pat[len(op) :])
            if a is None or b is None:
                return False
            return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]
    rng = re.fullmatch(r"(!?)([0-9.]+[A-Za-z]*)-([0-9.]+[A-Za-z]*)", pat)
    if rng:
        a, lo, hi = quantity(value), quantity(rng.group(2)), quantity(rng.group(3))
        inside = a is not None and lo is not None and hi is not None and lo <= a <= hi
        return inside != bool(rng.group(1))
    if pat.startswith("!"):
        return not _operand(value, pat[1:])
    if isinstance(value, dict | list):
        return pat == "*" or (pat == "?*" and bool(value))
    if value is None:
        return False
    a, b = quantity(value), quantity(pat)
    if a is not None and b is not None and not any(c in pat for c in "*?"):
        return a == b
    return fnmatch.fnmatchcase(_text(value), pat.replace("[", "[[]"))


def match_scalar(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, str):
        return any(all(_operand(value, p) for p in alt.split("&")) for alt in pattern.split("|"))
    if pattern is None:
        return value is None
    if isinstance(pattern, bool) or isinstance(value, bool):
        return value is pattern
    if isinstance(pattern, int | float):
        q = quantity(value)
        return q is not None and q == Decimal(str(pattern))
    return bool(value == pattern)


def match(value: Any, pattern: Any, path: str = "/") -> str | None:
    """None when `value` matches `pattern`, else the path of the first mismatch."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return path
        return _match_map(value, pattern, path)
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return path
        if len(pattern) != 1:
            raise NotImplementedError(f"list pattern with {len(pattern)} elements at {path}")
        for i, item in enumerate(value):
            if (err := match(item, pattern[0], f"{path}{i}/")) is not None:
                return err
        return None
    return None if match_scalar(value, pattern) else path


def _match_map(value: dict[str, Any], pattern: dict[str, Any], path: str) -> str | None:
    # condition and global anchors first: they decide whether the rest applies
    for key, pat in pattern.items():
        m = _ANCHOR.match(key)
        if m and m.group(1) in (None, "<"):
            name = m.group(2)
            if name not in value or match(value[name], pat, f"{path}{name}/") is not None:
                if m.group(1) == "<":
                    raise GlobalSkip(path + name)
                return None  # condition not met: this map is not checked
    for key, pat in pattern.items():
        m = _ANCHOR.match(key)
        kind, name = (m.group(1), m.group(2)) if m else ("plain", key)
        sub = f"{path}{name}/"
        if kind in (None, "<"):
            continue
        if kind == "X":
            if name in value:
                return sub
        elif kind == "=":
            if name in value and (err := match(value[name], pat, sub)) is not None:
                return err
        elif kind == "^":
            items = value.get(name)
            if (
                not isinstance(items, list)
                or not isinstance(pat, list)
                or not any(match(i, pat[0], sub) is None for i in items)
            ):
                return sub
        elif kind == "+":
            raise NotImplementedError(f"add anchor +() in a validate pattern at {sub}")
        else:
            if name not in value:
                return sub if pat is not None else None
            if (err := match(value[name], pat, sub)) is not None:
                return err
    return None
