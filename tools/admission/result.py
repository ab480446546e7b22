"""Findings and denials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .request import ref


@dataclass(frozen=True)
class Finding:
    """A rule violated by an object; `deny` is False for Audit/Warn-only rules."""

    obj: dict[str, Any]
    source: str
    message: str
    deny: bool


@dataclass(frozen=True)
class Denial:
    """An object the API server would refuse. `via` says how it was reached:
    "" for the object itself, "pod" for the Pod its controller would create."""

    ref: str
    source: str
    message: str
    via: str = ""

    def __str__(self) -> str:
        how = " (its Pod)" if self.via == "pod" else ""
        return f"{self.ref}{how}: [{self.source}] {self.message}"


def to_denial(f: Finding, via: str = "", owner: dict[str, Any] | None = None) -> Denial:
    return Denial(
        ref(owner if owner is not None else f.obj), f.source, " ".join(f.message.split()), via
    )
