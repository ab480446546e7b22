"""Read checkov's JSON report and fail with a readable list of failed checks.

    python tools/checkov_report.py checkov.json [--rendered DIR...]

Fails when any check failed, when checkov reported parsing errors, or when it scanned
nothing (checkov exits 0 on an empty directory or on YAML it cannot parse). checkov runs
no check on Namespaces, NetworkPolicies or custom resources, so with `--rendered` the
floor is the number of rendered objects of kinds it does check (workloads, Services,
RBAC, ServiceAccounts...): scanning fewer means it silently skipped some.
Skipped checks are listed with their written reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def reports(data: Any) -> list[dict[str, Any]]:
    """One framework -> an object; several -> a list; nothing scanned -> a bare summary."""
    items = data if isinstance(data, list) else [data]
    return [r for r in items if isinstance(r, dict) and "results" in r]


def load(text: str) -> list[Any]:
    """checkov prints one JSON document per `-d` directory, back to back."""
    decoder, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(text, i)
        docs.extend(doc if isinstance(doc, list) else [doc])
    return docs


def summarise(data: Any) -> tuple[list[str], list[str], int]:
    failed: list[str] = []
    skipped: list[str] = []
    scanned = 0
    for rep in reports(data):
        scanned += int(rep.get("summary", {}).get("resource_count", 0))
        results = rep["results"]
        for r in results.get("failed_checks", []):
            failed.append(f"{r['check_id']} {r['resource']} ({r['file_path']}): {r['check_name']}")
        for r in results.get("skipped_checks", []):
            reason = (r.get("check_result") or {}).get("suppress_comment") or "no reason given"
            skipped.append(f"{r['check_id']} {r['resource']}: {reason}")
        for p in results.get("parsing_errors", []):
            failed.append(f"parsing error: {p}")
    return failed, skipped, scanned


CHECKED_KINDS = {
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Service",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ServiceAccount",
    "Ingress",
}


def checkable(dirs: list[str]) -> int:
    import yaml

    count = 0
    for d in dirs:
        for f in Path(d).rglob("*.yaml"):
            for doc in yaml.safe_load_all(f.read_text()):
                count += isinstance(doc, dict) and doc.get("kind") in CHECKED_KINDS
    return count


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: checkov_report.py CHECKOV_JSON [--rendered DIR...]", file=sys.stderr)
        return 2
    rendered = argv[2:] if argv[1:2] == ["--rendered"] else []
    expected = checkable(rendered) if rendered else 1
    failed, skipped, scanned = summarise(load(Path(argv[0]).read_text()))
    for s in skipped:
        print(f"SKIPPED {s}")
    for f in failed:
        print(f"FAILED  {f}")
    if scanned < expected:
        print(f"FAILED  checkov scanned {scanned} resources; {expected} checkable were rendered")
        return 1
    if scanned == 0:
        print("checkov: no checkable object rendered (Namespaces/NetworkPolicies only)")
    print(f"checkov: {scanned} resources, {len(failed)} failed, {len(skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
