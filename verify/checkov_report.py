"""Read checkov's JSON reports and fail with a readable list of failed checks.

    python -m verify.checkov_report [--skips SKIPS.yaml] checkov.json [--rendered DIR...] ...

Several reports (one per stack, each followed by its own --rendered directories) are read
in one call, so a skip is stale only when it matches a failure in none of them.

Fails when any check failed, when checkov reported parsing errors, or when it scanned
nothing (checkov exits 0 on an empty directory or on YAML it cannot parse). checkov runs
no check on Namespaces, NetworkPolicies or custom resources, so with `--rendered` the
floor is the number of rendered objects of kinds it does check (workloads, Services,
RBAC, ServiceAccounts...): scanning fewer means it silently skipped some.
Skipped checks are listed with their written reason.

SKIPS (verify/checkov_skips.yaml) waives failed checks on objects we do not write (chart
objects whose upstream needs what the check forbids): check id -> a list of
{objects: [glob on checkov's resource name "Kind.namespace.name"], reason: text}.
A waived failure is printed with its reason; a skip entry whose globs match no failure
is an error (stale: the chart changed or the fix landed, so the waiver must go).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

USED: set[Skip] = set()


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


@dataclass(frozen=True)
class Skip:
    check: str
    objects: tuple[str, ...]
    reason: str

    def covers(self, check: str, resource: str) -> bool:
        return check == self.check and any(fnmatchcase(resource, g) for g in self.objects)


def load_skips(path: Path) -> list[Skip]:
    """The skip file, checked: every entry names objects and gives a reason."""
    data = yaml.safe_load(path.read_text()) or {}
    out: list[Skip] = []
    for check, entries in data.items():
        for e in entries or []:
            objects, reason = e.get("objects") or [], str(e.get("reason") or "").strip()
            if not objects or not reason or set(e) - {"objects", "reason"}:
                raise SystemExit(f"{path}: {check}: each skip needs objects and a reason: {e}")
            out.append(Skip(str(check), tuple(map(str, objects)), reason))
    return out


def summarise(data: Any, skips: Sequence[Skip] = ()) -> tuple[list[str], list[str], int]:
    failed: list[str] = []
    skipped: list[str] = []
    scanned = 0
    for rep in reports(data):
        scanned += int(rep.get("summary", {}).get("resource_count", 0))
        results = rep["results"]
        for r in results.get("failed_checks", []):
            waiver = next((s for s in skips if s.covers(r["check_id"], r["resource"])), None)
            if waiver is not None:
                USED.add(waiver)
                skipped.append(f"{r['check_id']} {r['resource']}: {waiver.reason}")
                continue
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
    count = 0
    for d in dirs:
        for f in Path(d).rglob("*.yaml"):
            if "hooks" in f.parts:  # Helm hooks are never applied, and not scanned
                continue
            for doc in yaml.safe_load_all(f.read_text()):
                count += isinstance(doc, dict) and doc.get("kind") in CHECKED_KINDS
    return count


def _groups(argv: list[str]) -> tuple[Path | None, list[tuple[str, list[str]]]]:
    """[--skips FILE] REPORT [--rendered DIR...] [REPORT [--rendered DIR...]]..."""
    skips: Path | None = None
    groups: list[tuple[str, list[str]]] = []
    args, rendered = iter(argv), False
    for a in args:
        if a == "--skips":
            skips = Path(next(args))
        elif a == "--rendered":
            rendered = True
        elif a.startswith("-"):
            raise SystemExit(f"checkov_report.py: unknown option {a}")
        elif rendered and not a.endswith(".json"):
            groups[-1][1].append(a)
        else:
            groups.append((a, []))
            rendered = False
    return skips, groups


def main(argv: list[str]) -> int:
    skips_file, groups = _groups(argv)
    if not groups:
        print("usage: checkov_report.py [--skips F] JSON [--rendered DIR...]...", file=sys.stderr)
        return 2
    skips = load_skips(skips_file) if skips_file else []
    USED.clear()
    status = 0
    for report, rendered in groups:
        status |= _one(report, rendered, skips)
    for s in skips:
        if s not in USED:
            print(f"FAILED  stale skip in {skips_file}: {s.check} {list(s.objects)} waives nothing")
            status = 1
    return status


def _one(report: str, rendered: list[str], skips: list[Skip]) -> int:
    expected = checkable(rendered) if rendered else 1
    failed, skipped, scanned = summarise(load(Path(report).read_text()), skips)
    for s in skipped:
        print(f"SKIPPED {s}")
    for f in failed:
        print(f"FAILED  {f}")
    if scanned < expected:
        print(f"FAILED  checkov scanned {scanned} resources; {expected} checkable were rendered")
        return 1
    if scanned == 0:
        print("checkov: no checkable object rendered (Namespaces/NetworkPolicies only)")
    print(f"checkov {report}: {scanned} resources, {len(failed)} failed, {len(skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
