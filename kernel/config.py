"""A small typed reader for structured Pulumi config.

It knows nothing about this platform: `settings.py` describes the keys. The reader
collects every problem instead of stopping at the first, rejects keys nobody asked
for, and records each key it reads so the README reference can be generated.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ByProfile(Generic[T]):
    """A default that differs between the dev and prod profiles."""

    dev: T
    prod: T


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        shown = "<missing>" if self.value is MISSING else repr(self.value)
        return f"{self.key}: got {shown}; {self.allowed}"


@dataclass(frozen=True)
class FieldDoc:
    key: str
    type: str
    default: Any
    doc: str


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()

Check = Callable[[Any], str | None]
"""Returns None when the value is fine, else a sentence saying what is allowed."""


@dataclass
class Context:
    profile: str
    problems: list[Problem] = field(default_factory=list)
    docs: list[FieldDoc] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(Problem(key, value, allowed))

    def warn(self, message: str) -> None:
        """Not an error: the program prints it at preview and up."""
        self.warnings.append(message)

    def resolve(self, default: Any) -> Any:
        if isinstance(default, ByProfile):
            return default.dev if self.profile == "dev" else default.prod
        return default

    def document(self, key: str, type_: str, default: Any, doc: str) -> None:
        if doc and not any(d.key == key for d in self.docs):
            self.docs.append(FieldDoc(key, type_, default, doc))


_TYPE_NAMES = {bool: "a boolean", int: "an integer", str: "a string"}


class Section:
    """One mapping in the config tree. Call `close()` once every key is read."""

    def __init__(self, ctx: Context, path: str, raw: Any) -> None:
        self.ctx = ctx
        self.path = path
        self._seen: set[str] = set()
        if raw is None or raw is MISSING:
            raw = {}
        if not isinstance(raw, Mapping):
            ctx.problem(path or "<root>", raw, "expected a mapping of keys to values")
            raw = {}
        self._raw: Mapping[str, Any] = raw

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def is_set(self, name: str) -> bool:
        return name in self._raw

    def raw(self, name: str) -> Any:
        """The value as given (MISSING if unset), marked as read; for custom handling."""
        return self._take(name)

    def _take(self, name: str) -> Any:
        self._seen.add(name)
        return self._raw.get(name, MISSING)

    def _scalar(
        self,
        name: str,
        type_: type,
        default: Any,
        *,
        doc: str,
        check: Check | None,
        type_label: str,
    ) -> Any:
        key = self.key(name)
        default = self.ctx.resolve(default)
        self.ctx.document(key, type_label, default, doc)
        value = self._take(name)
        if value is MISSING:
            if default is MISSING:
                self.ctx.problem(key, MISSING, f"this key is required ({type_label})")
            return None if default is MISSING else default
        # bool is an int in Python; a YAML `true` must never pass as a replica count.
        if not isinstance(value, type_) or (type_ is int and isinstance(value, bool)):
            self.ctx.problem(key, value, f"expected {_TYPE_NAMES.get(type_, type_label)}")
            return None if default is MISSING else default
        if check is not None:
            message = check(value)
            if message:
                self.ctx.problem(key, value, message)
                return None if default is MISSING else default
        return value

    def string(
        self,
        name: str,
        default: Any = MISSING,
        *,
        doc: str = "",
        choices: Sequence[str] | None = None,
        check: Check | None = None,
    ) -> Any:
        combined = check
        if choices is not None:
            combined = _all(one_of(choices), check)
        return self._scalar(name, str, default, doc=doc, check=combined, type_label="string")

    def integer(
        self,
        name: str,
        default: Any = MISSING,
        *,
        doc: str = "",
        minimum: int | None = None,
        maximum: int | None = None,
        check: Check | None = None,
    ) -> Any:
        return self._scalar(
            name,
            int,
            default,
            doc=doc,
            check=_all(in_range(minimum, maximum), check),
            type_label="integer",
        )

    def boolean(self, name: str, default: Any = MISSING, *, doc: str = "") -> Any:
        return self._scalar(name, bool, default, doc=doc, check=None, type_label="boolean")

    def strings(
        self,
        name: str,
        default: Any = (),
        *,
        doc: str = "",
        check: Check | None = None,
        min_items: int = 0,
    ) -> tuple[str, ...]:
        key = self.key(name)
        default = self.ctx.resolve(default)
        self.ctx.document(key, "list of strings", list(default), doc)
        value = self._take(name)
        if value is MISSING:
            return tuple(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.ctx.problem(key, value, "expected a list of strings")
            return tuple(default)
        if len(value) < min_items:
            self.ctx.problem(key, value, f"expected at least {min_items} item(s)")
        bad = False
        for i, item in enumerate(value):
            message = check(item) if check else None
            if message:
                self.ctx.problem(f"{key}[{i}]", item, message)
                bad = True
        return tuple(default) if bad else tuple(value)

    def mapping(self, name: str, *, doc: str = "") -> dict[str, str]:
        """A free-form string-to-string map (labels, annotations, tags)."""
        key = self.key(name)
        self.ctx.document(key, "map of strings", {}, doc)
        value = self._take(name)
        if value is MISSING:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.ctx.problem(key, value, "expected a mapping of strings to strings")
            return {}
        return dict(value)

    def section(self, name: str, *, doc: str = "") -> Section:
        key = self.key(name)
        self.ctx.document(key, "object", None, doc)
        return Section(self.ctx, key, self._take(name))

    def items(self, name: str, *, doc: str = "", default: Any = ()) -> Iterator[Section]:
        """A list of objects; yields one closed-on-exit Section per item."""
        key = self.key(name)
        self.ctx.document(key, "list of objects", None, doc)
        value = self._take(name)
        if value is MISSING:
            value = list(self.ctx.resolve(default))
        if not isinstance(value, list):
            self.ctx.problem(key, value, "expected a list of objects")
            return
        for i, item in enumerate(value):
            sub = Section(self.ctx, f"{key}[{i}]", item)
            yield sub
            sub.close()

    def close(self) -> None:
        """Every key that was set but never read is an error, with a suggestion."""
        for name in self._raw:
            if name in self._seen:
                continue
            near = difflib.get_close_matches(name, sorted(self._seen), n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            known = ", ".join(sorted(self._seen)) or "none"
            self.ctx.problem(
                self.key(name), self._raw[name], f"unknown key; {hint}known keys here: {known}"
            )


def problem_report(title: str, problems: Sequence[object], hint: str = "") -> str:
    """The one format for every "all problems at once" error: a count, then a line each."""
    n = len(problems)
    lines = "\n".join(f"  - {p}" for p in problems)
    hint = f" ({hint})" if hint else ""
    return f"{title} ({n} problem{'s' if n != 1 else ''}); nothing was changed{hint}:\n{lines}"


# ---- reusable checks -------------------------------------------------------------------


def _all(*checks: Check | None) -> Check | None:
    active = [c for c in checks if c is not None]
    if not active:
        return None

    def run(value: Any) -> str | None:
        for c in active:
            message = c(value)
            if message:
                return message
        return None

    return run


def one_of(choices: Sequence[str]) -> Check:
    return lambda v: None if v in choices else f"allowed: {', '.join(map(str, choices))}"


def in_range(minimum: int | None, maximum: int | None) -> Check | None:
    if minimum is None and maximum is None:
        return None

    def check(v: int) -> str | None:
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            lo = "-inf" if minimum is None else minimum
            hi = "inf" if maximum is None else maximum
            return f"allowed range: {lo}..{hi}"
        return None

    return check


def matches(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)
    return lambda v: None if compiled.fullmatch(v) else f"expected {what}"


DNS_LABEL = matches(
    r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", "a DNS-1123 label (lowercase a-z, 0-9, '-', max 63)"
)
DNS_NAME = matches(
    r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
    "a DNS name such as grafana.example.com",
)
K8S_VERSION = matches(r"v1\.(\d+)\.(\d+)", "a Kubernetes version such as v1.34.2")
CPU_QUANTITY = matches(r"\d+(\.\d+)?m?", "a CPU quantity such as 500m or 2")
MEMORY_QUANTITY = matches(r"\d+(Ki|Mi|Gi|Ti)", "a memory/storage quantity such as 512Mi or 10Gi")
DURATION = matches(r"\d+(s|m|h|d)", "a duration such as 30m, 72h or 15d")
EMAIL = matches(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address")
CRON = matches(
    r"(@(hourly|daily|weekly|monthly))|((\S+\s+){4}\S+)",
    "a 5-field cron expression such as '0 2 * * *' or @daily",
)


def cidr(value: str) -> str | None:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return "expected a CIDR block such as 203.0.113.0/24"
    return None


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def memory_bytes(quantity: str) -> int:
    """'10Gi' -> bytes. Only the binary suffixes MEMORY_QUANTITY allows."""
    return int(quantity[:-2]) * _UNITS[quantity[-2:]]


def cpu_millis(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def duration_hours(duration: str) -> float:
    n, unit = int(duration[:-1]), duration[-1]
    return n * {"s": 1 / 3600, "m": 1 / 60, "h": 1, "d": 24}[unit]
