"""Generated parts of the docs from the compatibility matrix (kernel/compatibility.yaml):
the full table in docs/compatibility.md and the README's supported-versions block.

    python tools/compat_docs.py --write   # rewrite both blocks after a matrix change
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernel.compat import Matrix, load, minor_of, show

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "compatibility.md"
README = ROOT / "README.md"
MATRIX_MARKERS = ("<!-- compatibility-matrix:begin -->", "<!-- compatibility-matrix:end -->")
README_MARKERS = ("<!-- supported-versions:begin -->", "<!-- supported-versions:end -->")
WHEN = {
    "always": "always",
    "capi": "capi mode",
    "aws": "capi on aws",
    "edge": "`edge.enabled`",
    "backups": "`persistence.backups.enabled`",
    "snapshots": "`persistence.snapshots.enabled`",
    "ebs": "no `persistence.storage.existingClass`",
    "trivy": "`security.trivy.enabled`",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def support_rows(m: Matrix) -> list[str]:
    """Each minor's upstream support window, judged on the review date."""
    rows = [
        f"Upstream support windows (reviewed {m.reviewed}; source: {m.support_source}):",
        "",
        "| Minor | Released | Maintenance mode | End of life | On " + str(m.reviewed) + " |",
        "|---|---|---|---|---|",
    ]
    for minor, s in sorted(m.support.items()):
        rows.append(
            f"| {show(minor)} | {s.released} | {s.maintenance} | {s.eol} | {s.status(m.reviewed)} |"
        )
    return rows


def matrix_block(m: Matrix) -> str:
    rows = [
        "| Component | Pinned | Installed when | Supported minors | Statement | Source | Note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in m.rows:
        minors = str(r.stated)
        if r.management is not None:
            minors += f" (management {r.management})"
        rows.append(
            f"| {r.name} | {r.version} | {WHEN[r.when]} | {minors} | {r.statement}"
            f"{' (flagged)' if r.flagged else ''} | {_cell(r.source)} | {_cell(r.note)} |"
        )
    existing = m.window(set())
    docker = m.window({"capi", "edge", "backups", "snapshots", "trivy"})
    aws = m.window({"capi", "aws", "edge", "backups", "snapshots", "ebs", "trivy"})
    rows += [
        "",
        "Allowed `cluster.kubernetesVersion` minors with every component enabled: "
        f"existing {existing}, capi/docker {docker}, capi/aws {aws}. "
        f"Default: **{m.default_version}**. Management cluster: {m.management_range()}.",
        "",
        *support_rows(m),
        "",
        "| Minor-matched image | Minor | Tag | Digest |",
        "|---|---|---|---|",
    ]
    for img in m.images.values():
        for minor, (tag, digest) in sorted(img.tags.items()):
            rows.append(f"| {img.repository} | {show(minor)} | {tag} | {digest or '—'} |")
    c = m.contract
    rows += [
        "",
        f"Contract pairing: core contract {c.core_contract}; {c.provider} declares "
        f"{c.provider_contract} and is built against Cluster API {c.provider_built_against}; "
        f"the v1beta1 compatibility is removed in Cluster API {c.removed_in}. Move when: "
        f"{c.move_when}. Source: {c.source}.",
        "",
        f"kind {m.kind_cli} node images ({m.kind_source}):",
        "",
    ]
    rows += [f"- {show(minor)}: `{image}`" for minor, image in sorted(m.kind_images.items())]
    return "\n".join(rows)


def readme_block(m: Matrix) -> str:
    """A short summary: the window per mode, the rows that bound it, the flagged rows."""
    modes = {
        "existing cluster": ("edge", "backups", "trivy"),
        "Cluster API on AWS": ("capi", "aws", "edge", "backups", "snapshots", "ebs", "trivy"),
    }
    default = m.support[minor_of(m.default_version)]
    supported = [show(x) for x, s in sorted(m.support.items()) if s.eol >= m.reviewed]
    lines = [
        f"Default Kubernetes version **{m.default_version}**; management cluster "
        f"{m.management_range()} (kind {m.kind_cli}). Upstream support (as of {m.reviewed}): "
        f"{', '.join(supported)}; {show(default.minor)} enters maintenance mode on "
        f"{default.maintenance} and reaches end of life on {default.eol}. staging and prod "
        "refuse a minor past its end of life unless `acceptRisks` names "
        "`cluster.kubernetesVersion`; dev warns. `make versions` shows newer releases and each "
        "minor's status today. Sources and the upgrade order: "
        "[docs/compatibility.md](docs/compatibility.md).",
        "",
    ]
    for mode, features in modes.items():
        w = m.window(features)
        limits = [
            f"{r.name} {r.version} ({r.stated})"
            for r in m.active(features)
            if w.low == r.bound.low or w.high == r.bound.high
        ]
        lines.append(f"- {mode}: **{w}**, bounded by {', '.join(limits)}.")
    flagged = ", ".join(f"{r.name} {r.version} ({r.statement})" for r in m.rows if r.flagged)
    lines.append(f"- No upstream statement, so not a bound (check before upgrading): {flagged}.")
    return "\n".join(lines)


def sync(text: str, markers: tuple[str, str], body: str) -> str:
    """`text` with the part between the markers replaced by `body`."""
    begin, end = markers
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def has_markers(text: str, markers: tuple[str, str]) -> bool:
    return all(marker in text for marker in markers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the generated blocks")
    write = parser.parse_args().write
    m = load()
    stale = []
    for path, markers, body in (
        (DOC, MATRIX_MARKERS, matrix_block(m)),
        (README, README_MARKERS, readme_block(m)),
    ):
        text = path.read_text(encoding="utf-8")
        if not has_markers(text, markers):
            print(f"{path.name}: no {markers[0]} markers", file=sys.stderr)
            continue
        new = sync(text, markers, body)
        if new != text:
            stale.append(path.name)
            if write:
                path.write_text(new, encoding="utf-8")
    if stale and not write:
        print("stale: " + ", ".join(stale) + " (run: python tools/compat_docs.py --write)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
