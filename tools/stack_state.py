"""Read a stack's state from `pulumi stack export` on stdin (Makefile: `urn`, `protected`).

    pulumi stack export --stack prod | python3 tools/stack_state.py protected
    pulumi stack export --stack prod | python3 tools/stack_state.py urn edge-basic-auth

`pulumi stack --show-urns` never prints whether a resource is protected; the exported
deployment does: each resource carries `"protect": true` (Pulumi's apitype.ResourceV3).
Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def resources(export: dict[str, Any]) -> list[dict[str, Any]]:
    deployment = export.get("deployment") or {}
    return list(deployment.get("resources") or [])


def protected(export: dict[str, Any]) -> list[str]:
    """URNs of the resources still protected."""
    return [r["urn"] for r in resources(export) if r.get("protect")]


def urns_named(export: dict[str, Any], name: str) -> list[str]:
    """URNs whose resource name (after the last `::`) is `name`."""
    return [r["urn"] for r in resources(export) if r["urn"].rsplit("::", 1)[-1] == name]


def main(argv: list[str]) -> int:
    text = sys.stdin.read()
    export = json.loads(text) if text.strip() else {}
    if "deployment" not in export:
        print("stack_state.py: no `pulumi stack export` document on stdin", file=sys.stderr)
        return 2
    if argv[:1] == ["protected"]:
        found = protected(export)
        print("\n".join(found) if found else "nothing is protected", file=sys.stdout)
        return 1 if found else 0
    if argv[:1] == ["urn"] and len(argv) == 2:
        found = urns_named(export, argv[1])
        if len(found) != 1:
            print(f"stack_state.py: {len(found)} resources named {argv[1]!r}", file=sys.stderr)
            print("\n".join(found), file=sys.stderr)
            return 1
        print(found[0])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
