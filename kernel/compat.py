"""The compatibility matrix (kernel/compatibility.yaml) as typed data, and the rules
settings and components apply with it.

`python -m kernel.compat management-range` prints the management cluster's supported
minors (e.g. `1.33-1.36`) for `make doctor`; `kind-image` prints the pinned kind node image;
`management-kind-image` the one a local management cluster runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

MATRIX_FILE = Path(__file__).resolve().with_name("compatibility.yaml")

FEATURES = ("always", "capi", "aws", "edge", "backups", "snapshots", "ebs", "trivy")
"""What installs a row: always; capi mode; capi on aws; edge.enabled; Velero; snapshots;
the EBS CSI driver (no existing StorageClass); trivy-operator."""
BOUNDING = ("stated", "tested", "transitive", "minor-matched")
FLOOR = "floor"
FLAGGED = ("none", "unverified")
STATEMENTS = (*BOUNDING, FLOOR, *FLAGGED)
_VERSION = re.compile(r"v(\d+)\.(\d+)(?:\.(\d+))?")


def minor_of(version: str) -> int:
    """'v1.34.11' or '1.34' -> 34."""
    m = _VERSION.fullmatch(version if version.startswith("v") else f"v{version}")
    if m is None or m.group(1) != "1":
        raise ValueError(f"not a Kubernetes 1.x version: {version!r}")
    return int(m.group(2))


def show(minor: int | None) -> str:
    return "any" if minor is None else f"v1.{minor}"


@dataclass(frozen=True)
class Span:
    low: int | None
    high: int | None
    """None: no bound on that side."""

    def __contains__(self, minor: object) -> bool:
        return isinstance(minor, int) and (
            (self.low is None or minor >= self.low) and (self.high is None or minor <= self.high)
        )

    def __str__(self) -> str:
        if self.low is None and self.high is None:
            return "no statement"
        if self.high is None:
            return f"{show(self.low)}+"
        return f"{show(self.low)}..{show(self.high)}"


@dataclass(frozen=True)
class Image:
    repository: str
    tags: Mapping[int, tuple[str, str | None]]
    """minor -> (tag, digest or None)."""
    source: str
    note: str


@dataclass(frozen=True)
class Row:
    name: str
    version: str
    statement: str
    when: str
    source: str
    note: str
    stated: Span
    """The minors as upstream states them (minor-matched: the minors with an image)."""
    management: Span | None = None
    chart: str | None = None
    pin: str | None = None
    bundled_by: str | None = None
    module: tuple[str, str] | None = None
    """(Go module path, the pinned release's version of it), for `make versions`."""

    @property
    def flagged(self) -> bool:
        return self.statement in FLAGGED

    @property
    def bound(self) -> Span:
        """What this row contributes to the allowed window."""
        if self.flagged:
            return Span(None, None)
        if self.statement == FLOOR:
            return Span(self.stated.low, None)
        return self.stated


@dataclass(frozen=True)
class Contract:
    core_contract: str
    provider: str
    provider_contract: str
    provider_built_against: str
    removed_in: str
    source: str
    move_when: str


@dataclass(frozen=True)
class Support:
    """One Kubernetes minor's upstream support window."""

    minor: int
    released: date
    maintenance: date
    """Maintenance mode starts: only critical fixes from then on."""
    eol: date
    """End of life: no patch release after this date."""

    def status(self, today: date) -> str:
        if today > self.eol:
            return f"end of life since {self.eol}"
        if today >= self.maintenance:
            return f"maintenance mode, end of life {self.eol}"
        return f"supported until {self.eol}"


@dataclass(frozen=True)
class Matrix:
    default_version: str
    rows: tuple[Row, ...]
    images: Mapping[str, Image]
    contract: Contract
    kind_cli: str
    kind_source: str
    kind_images: Mapping[int, str]
    reviewed: date = date.min
    """When the support windows were last checked against their sources."""
    support: Mapping[int, Support] = dataclasses.field(default_factory=dict)
    support_source: str = ""

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def window(self, features: Collection[str]) -> Span:
        """Minors every row installed under `features` supports."""
        low, high = 0, 999
        for r in self.active(features):
            b = r.bound
            low = max(low, b.low if b.low is not None else 0)
            high = min(high, b.high if b.high is not None else 999)
        return Span(low, high)

    def active(self, features: Collection[str]) -> list[Row]:
        return [r for r in self.rows if r.when == "always" or r.when in features]

    def management_range(self) -> Span:
        spans = [r.management for r in self.rows if r.management is not None]
        return Span(max(s.low or 0 for s in spans), min(s.high or 999 for s in spans))

    def past_eol(self, minor: int, today: date) -> str | None:
        """Why `minor` is outside upstream support on `today`; None while it is supported."""
        if minor in self.support:
            s = self.support[minor]
            return None if today <= s.eol else f"v1.{minor} reached upstream end of life on {s.eol}"
        known = sorted(self.support)
        if known and minor < known[0]:
            return f"v1.{minor} is older than v1.{known[0]}, itself out of support after " + str(
                self.support[known[0]].eol
            )
        return f"no upstream support window is recorded for v1.{minor}"

    def supported_minors(self, features: Collection[str], today: date) -> list[int]:
        """Minors inside the window of `features` and inside upstream support on `today`."""
        w = self.window(features)
        return [m for m in sorted(self.support) if m in w and self.past_eol(m, today) is None]

    def management_kind_image(self, today: date) -> str:
        """The kind node image of the newest management minor still supported upstream."""
        r = self.management_range()
        fit = [m for m in self.kind_images if m in r and self.past_eol(m, today) is None]
        if not fit:
            raise LookupError(f"no kind node image for a supported management minor ({r})")
        return self.kind_images[max(fit)]


def _span(raw: Mapping[str, Any] | None) -> Span:
    if not raw:
        return Span(None, None)
    low, high = raw.get("min"), raw.get("max")
    return Span(minor_of(low) if low else None, minor_of(high) if high else None)


def _row(raw: Mapping[str, Any], images: Mapping[str, Image]) -> Row:
    statement = raw["statement"]
    if statement not in STATEMENTS or raw["when"] not in FEATURES:
        raise ValueError(f"{raw['name']}: bad statement or when in {MATRIX_FILE.name}")
    stated = _span(raw.get("minors"))
    if statement == "minor-matched":
        minors = sorted(images[raw["name"]].tags)
        stated = Span(minors[0], minors[-1])
    management = raw.get("management")
    module = raw.get("module")
    return Row(
        module=(str(module["path"]), str(module["version"])) if module else None,
        name=raw["name"],
        version=str(raw["version"]),
        statement=statement,
        when=raw["when"],
        source=" ".join(str(raw["source"]).split()),
        note=" ".join(str(raw.get("note", "")).split()),
        stated=stated,
        management=_span(management) if management else None,
        chart=raw.get("chart"),
        pin=raw.get("pin"),
        bundled_by=raw.get("bundled_by"),
    )


def parse(doc: Mapping[str, Any]) -> Matrix:
    images = {
        name: Image(
            repository=img["repository"],
            tags={minor_of(k): (v["tag"], v.get("digest")) for k, v in img["minors"].items()},
            source=" ".join(str(img["source"]).split()),
            note=" ".join(str(img.get("note", "")).split()),
        )
        for name, img in doc["images"].items()
    }
    c = doc["contract"]
    k = doc["kubernetes"]
    return Matrix(
        default_version=k["default"],
        reviewed=_date(k["reviewed"]),
        support={
            minor_of(v): Support(
                minor_of(v), _date(w["released"]), _date(w["maintenance"]), _date(w["eol"])
            )
            for v, w in k["minors"].items()
        },
        support_source=" ".join(str(k["source"]).split()),
        rows=tuple(_row(r, images) for r in doc["components"]),
        images=images,
        contract=Contract(
            core_contract=c["core_contract"],
            provider=c["provider"],
            provider_contract=c["provider_contract"],
            provider_built_against=c["provider_built_against"],
            removed_in=c["v1beta1_removed_in"],
            source=" ".join(str(c["source"]).split()),
            move_when=c["move_when"],
        ),
        kind_cli=doc["kind"]["cli"],
        kind_source=doc["kind"]["source"],
        kind_images={minor_of(k): v for k, v in doc["kind"]["node_images"].items()},
    )


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@functools.cache
def load() -> Matrix:
    return parse(yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8")))


def version_problem(version: str, features: Collection[str], mode: str) -> str | None:
    """Why `version` is outside what the components installed under `features` support,
    naming each component that excludes it; None when it is inside."""
    matrix = load()
    minor = minor_of(version)
    window = matrix.window(features)
    if minor in window:
        return None
    limiting = [r for r in matrix.active(features) if minor not in r.bound]
    names = ", ".join(f"{r.name} {r.version} ({r.bound})" for r in limiting)
    return (
        f"supported minors in {mode} mode with the enabled components: {window}; "
        f"v1.{minor} is outside what {names} support (docs/compatibility.md)"
    )


def today() -> date:
    """The date end-of-life checks use (tests fix it)."""
    return date.today()


def eol_problem(version: str, features: Collection[str]) -> str | None:
    """Why `version`'s minor is past upstream end of life today, naming the minors both
    upstream and the components installed under `features` still support; None if supported."""
    matrix = load()
    problem = matrix.past_eol(minor_of(version), today())
    if problem is None:
        return None
    fit = ", ".join(f"v1.{m}" for m in matrix.supported_minors(features, today()))
    return (
        f"{problem} (kubernetes.io/releases), so it gets no more security fixes; "
        f"supported by upstream and the enabled components: {fit or 'none'} "
        "(docs/compatibility.md)"
    )


def image_tag(component: str, kubernetes_version: str) -> str:
    """The image tag (pinned by digest where the matrix has one) for the cluster's minor."""
    img = load().images[component]
    minor = minor_of(kubernetes_version)
    if minor not in img.tags:
        raise KeyError(f"{component} has no image for v1.{minor} in {MATRIX_FILE.name}")
    tag, digest = img.tags[minor]
    return f"{tag}@{digest}" if digest else tag


def contract_problem(capi_version: str) -> str | None:
    """Refuse a Cluster API core at or past the release that drops the v1beta1 contract
    while the infrastructure provider still declares it."""
    c = load().contract
    if c.provider_contract != "v1beta1":
        return None
    m, cut = _VERSION.fullmatch(capi_version), _VERSION.fullmatch(c.removed_in)
    if m is None or cut is None:
        return f"not a Cluster API version: {capi_version!r}"
    if (int(m.group(1)), int(m.group(2))) < (int(cut.group(1)), int(cut.group(2))):
        return None
    provider = load().row(c.provider)
    return (
        f"Cluster API {capi_version} drops the v1beta1 contract compatibility "
        f"(removed in {c.removed_in}), which {provider.name} {provider.version} still declares; "
        f"stay below {c.removed_in} until {c.move_when}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernel.compat", description=__doc__)
    parser.add_argument(
        "what",
        choices=(
            "management-range",
            "kind-image",
            "management-kind-image",
            "kind-version",
            "default-version",
        ),
    )
    what = parser.parse_args(argv).what
    m = load()
    if what == "management-range":
        r = m.management_range()
        print(f"1.{r.low}-1.{r.high}")
    elif what == "kind-image":
        print(m.kind_images[minor_of(m.default_version)])
    elif what == "management-kind-image":
        print(m.management_kind_image(today()))
    elif what == "kind-version":
        print(m.kind_cli)
    else:
        print(m.default_version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
