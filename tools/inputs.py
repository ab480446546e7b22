"""Where the offline pipeline's inputs come from, on every runner: the chart sources, the
CRD schemas, and the Debian source for promtool and amtool. Standard library only: .ci/run
asks it before any venv exists.

    python3 tools/inputs.py crds-dir          # the CRD schemas the API server tier installs
    python3 tools/inputs.py missing           # make targets that fetch what is absent
    python3 tools/inputs.py apt-source trixie # the machine's Debian source, suite replaced

A reference tree beside the clone (`shared/` next to the repository, as on the project's
own CI) is used where it exists; elsewhere (GitHub's runners, a fork's laptop) `make
charts` and `make crds` pull the same pinned inputs into build/.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shared(root: Path = ROOT) -> Path | None:
    """The reference tree beside the clone, when there is one."""
    path = root.parent / "shared"
    return path if path.is_dir() else None


def crds_dir(root: Path = ROOT, env: Mapping[str, str] = os.environ) -> Path:
    """$CRDS_DIR, else the reference tree's CRDs, else build/crds (`make crds`)."""
    if env.get("CRDS_DIR"):
        return Path(env["CRDS_DIR"])
    ref = shared(root)
    if ref and (ref / "reference" / "crds").is_dir():
        return ref / "reference" / "crds"
    return root / "build" / "crds"


def chart_roots(root: Path = ROOT, env: Mapping[str, str] = os.environ) -> list[Path]:
    """Chart source directories, first match wins: $CHARTS_DIR, build/charts (`make
    charts`), the reference tree's charts."""
    paths = [Path(env["CHARTS_DIR"])] if env.get("CHARTS_DIR") else []
    paths.append(root / "build" / "charts")
    ref = shared(root)
    if ref and (ref / "charts").is_dir():
        paths.append(ref / "charts")
    return paths


def missing(root: Path = ROOT, env: Mapping[str, str] = os.environ) -> list[str]:
    """The make targets that would fetch the inputs this clone lacks."""
    targets = []
    if not any(p.is_dir() and any(p.glob("*/Chart.yaml")) for p in chart_roots(root, env)):
        targets.append("charts")
    crds = crds_dir(root, env)
    if not (crds.is_dir() and any(crds.glob("*.yaml"))):
        targets.append("crds")
    return targets


# ---- the machine's apt sources ----------------------------------------------------------

DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _deb822(text: str) -> Iterator[dict[str, str]]:
    """deb822 `.sources` format: stanzas of `Key: value` separated by blank lines."""
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                yield {
                    "uri": uri,
                    "suite": suite,
                    "components": fields.get("components", ""),
                    "signed-by": fields.get("signed-by", ""),
                }


def apt_entries(etc: Path = Path("/etc/apt")) -> list[dict[str, str]]:
    """Every `deb` entry of sources.list.d/*.sources (deb822, Debian's format since 12)."""
    found: list[dict[str, str]] = []
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        found += _deb822(path.read_text())
    return found


def debian_source(suite: str, etc: Path = Path("/etc/apt")) -> str:
    """A deb822 stanza for `suite` from the machine's own Debian archive entry (its main
    archive, not -security or -updates): only the suite changes."""
    for entry in apt_entries(etc):
        base = entry["suite"].split("-")[0].split("/")[0]
        is_debian = DEBIAN_KEYRING in entry["signed-by"] or entry["uri"].rstrip("/").endswith(
            "/debian"
        )
        if is_debian and base == entry["suite"] and "main" in entry["components"].split():
            fields = {"Types": "deb", "URIs": entry["uri"], "Suites": suite}
            fields |= {"Components": "main", "Signed-By": DEBIAN_KEYRING}
            return "".join(f"{k}: {v}\n" for k, v in fields.items())
    raise LookupError(
        f"no Debian archive among the apt sources under {etc}: run on a Debian machine or "
        "container, or set PROMTOOL and AMTOOL to the binaries"
    )


def main(argv: list[str]) -> int:
    what = argv[0] if argv else ""
    if what == "crds-dir":
        print(crds_dir())
    elif what == "missing":
        print(" ".join(missing()))
    elif what == "apt-source" and len(argv) == 2:
        try:
            print(debian_source(argv[1]), end="")
        except LookupError as exc:
            print(f"tools/inputs.py: {exc}", file=sys.stderr)
            return 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
