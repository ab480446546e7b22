"""Render a stack offline to YAML: for review, GitOps export and scanning.

    python tools/render.py --stack dev|prod --out DIR
    python tools/render.py --stacks dev prod --out ROOT   (one process: ROOT/<stack>)
    python tools/render.py --snapshot OUT.json
    python tools/render.py --check SNAPSHOT.json

Writes every Kubernetes object the program creates itself, one file per object:
DIR/k8s/<Kind>-<namespace>-<name>.yaml for built-in kinds, DIR/crs/... for custom
resources, and DIR/charts/<name>.yaml with each chart's repo, name, version and values.
Secret data and every value the program marks secret are replaced by "<redacted>".
Prints a summary and the footprint report (CPU/memory requests per workload).

--snapshot writes the full evaluation of both stacks (every resource's type, name,
parent, provider, options and inputs, and the stack outputs) as sorted JSON; --check
renders again and prints a unified diff when anything differs, so a change to what
the program registers is always made on purpose (`make snapshot` to accept it).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import difflib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernel import footprint
from settings import preflights_off
from tools import urn_history
from tools.fullrender import PROGRAM, full_render
from tools.offline import ROOT, Evaluation, Resource, evaluate, manifest, stack_config, stack_names

REDACTED = "<redacted>"
# API groups served by the API server itself; anything else is a custom resource.
BUILTIN_GROUPS = re.compile(
    r"^(core|apps|batch|policy|autoscaling|networking\.k8s\.io|rbac\.authorization\.k8s\.io|"
    r"storage\.k8s\.io|scheduling\.k8s\.io|coordination\.k8s\.io|discovery\.k8s\.io|"
    r"node\.k8s\.io|admissionregistration\.k8s\.io|apiextensions\.k8s\.io|"
    r"certificates\.k8s\.io|flowcontrol\.apiserver\.k8s\.io|resource\.k8s\.io|"
    r"apiregistration\.k8s\.io)/"
)


def is_builtin(r: Resource) -> bool:
    return bool(BUILTIN_GROUPS.match(r.type.split(":")[1]))


def _tokens(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return out


def redact(doc: Any, path: str) -> None:
    """Replace the value at a secret path ('values.grafana.adminPassword', 'data[0]')."""
    if path == "<root>":
        return
    *parents, leaf = _tokens(path)
    node = doc
    for t in parents:
        try:
            node = node[t]
        except (KeyError, IndexError, TypeError):
            return
    inside_list = isinstance(node, list) and isinstance(leaf, int) and leaf < len(node)
    if inside_list or (isinstance(node, dict) and leaf in node):
        node[leaf] = _blank(node[leaf])


def _blank(value: Any) -> Any:
    """Keep the shape (a map stays a map with its keys) so the object still validates."""
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return REDACTED


def object_doc(r: Resource) -> dict[str, Any]:
    doc = manifest(r)
    if "<root>" in r.secret_paths:
        return {**doc, "spec": REDACTED}
    for path in r.secret_paths:
        top = _tokens(path)[0]
        # inputs are the body; manifest() moved metadata etc. to the same top level.
        if top in doc:
            redact(doc, path)
    return doc


def chart_doc(r: Resource) -> dict[str, Any]:
    inputs = {k: v for k, v in r.inputs.items()}
    for path in r.secret_paths:
        redact(inputs, path)
    repo = (inputs.get("repositoryOpts") or {}).get("repo")
    chart = str(inputs.get("chart", ""))
    return {
        "release": r.name,
        "chart": chart.rsplit("/", 1)[-1],
        "repo": repo or chart.rsplit("/", 1)[0],
        "version": inputs.get("version"),
        "namespace": inputs.get("namespace"),
        "values": inputs.get("values") or {},
    }


def _filename(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    parts = [doc["kind"], meta.get("namespace") or "", meta.get("name") or "unnamed"]
    return "-".join(p for p in parts if p) + ".yaml"


def stack_footprint(ev: Evaluation) -> dict[str, Any]:
    """Same method as the program's `footprint` output, computed from what was rendered."""
    workloads: list[footprint.Workload] = []
    for c in ev.charts():
        chart = str(c.inputs.get("chart", "")).rsplit("/", 1)[-1]
        label = footprint.release_label(chart, c.name)
        workloads += footprint.from_values(chart, c.inputs.get("values") or {}, label=label)
    for r in ev.k8s_objects():
        workloads += footprint.from_object(r.kind, str(r.k8s_name), r.inputs)
    profile = str(ev.outputs.get("profile", ev.stack))
    return footprint.summarise(workloads, footprint.ASSUMED_NODES.get(profile, 1))


class _Dumper(yaml.SafeDumper):
    """Indent list items under their key, as yamllint's default style expects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (configs, scripts) as a literal block: readable, and no escaped line
    # whose length depends on the values (a long URL in an Alloy config).
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


_FAST = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def _write_chart_object(folder: Path, doc: dict[str, Any]) -> None:
    """chart-objects/<release>/{k8s,crs,hooks}/<Kind>-<ns>-<name>.yaml; Secret data redacted."""
    if doc.get("kind") == "Secret":
        doc = {**doc, **{k: _blank(doc[k]) for k in ("data", "stringData") if doc.get(k)}}
    path = folder / _filename(doc)
    if path.exists():
        raise SystemExit(f"two objects of one chart render to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # libyaml's emitter: a third of the render time of Python's. Chart objects are upstream
    # text, not style-checked (yamllint reads only our own objects), so its layout is fine.
    path.write_text(yaml.dump(doc, Dumper=_FAST, sort_keys=False, width=120))


def _group_version(doc: dict[str, Any]) -> str:
    api = str(doc.get("apiVersion", ""))
    return (api if "/" in api else f"core/{api}") + "/"


def render(stack: str, out: Path) -> dict[str, Any]:
    # Offline by definition: the cloud preflights (which need credentials) are skipped.
    ev = evaluate(stack, preflights_off(stack_config(stack)))
    for sub in ("k8s", "crs", "charts", "chart-objects"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    counts = {"k8s": 0, "crs": 0, "charts": 0, "chart-objects": 0, "hooks": 0}
    for r in ev.k8s_objects():
        sub = "k8s" if is_builtin(r) else "crs"
        doc = object_doc(r)
        (out / sub / _filename(doc)).write_text(_dump(doc))
        counts[sub] += 1
    for c in ev.charts():
        (out / "charts" / f"{c.name}.yaml").write_text(_dump(chart_doc(c)))
        counts["charts"] += 1
    full = full_render(ev)
    for o in full.objects:
        if o.source != PROGRAM:
            sub = "k8s" if BUILTIN_GROUPS.match(_group_version(o.doc)) else "crs"
            _write_chart_object(out / "chart-objects" / o.source / sub, o.doc)
            counts["chart-objects"] += 1
    for o in full.hooks:
        _write_chart_object(out / "chart-objects" / o.source / "hooks", o.doc)
        counts["hooks"] += 1
    result = {
        "stack": stack,
        "kubernetesVersion": ev.outputs.get("kubernetesVersion"),
        "counts": counts,
        "sourceGaps": [f"{g.chart}/charts/{g.dependency}: {g.hides}" for g in full.gaps],
        "footprint": stack_footprint(ev),
    }
    # What the validators need to know about this render (the stack's Kubernetes version).
    (out / "render.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


SNAPSHOT_STACKS = ("dev", "prod")


def _resource_entry(r: Resource) -> dict[str, Any]:
    inputs = copy.deepcopy(r.inputs)
    for path in r.secret_paths:
        redact(inputs, path)
    return {
        "type": r.type,
        "name": r.name,
        "urn": r.urn,
        "aliases": sorted(r.aliases),
        "parent": r.parent,
        "custom": r.custom,
        "remote": r.remote,
        "read": r.read,
        "provider": r.provider,
        "dependencies": sorted(r.dependencies),
        "protect": r.protect,
        "retainOnDelete": r.retain_on_delete,
        "deletedWith": r.deleted_with,
        "deleteTimeout": r.delete_timeout,
        "ignoreChanges": sorted(r.ignore_changes),
        "secretPaths": sorted(r.secret_paths),
        "inputs": REDACTED if "<root>" in r.secret_paths else inputs,
    }


def snapshot_of(ev: Evaluation) -> dict[str, Any]:
    """Everything the program registered for one stack; secret values redacted."""
    resources = sorted(
        (_resource_entry(r) for r in ev.resources), key=lambda e: (e["urn"], e["read"])
    )
    outputs = {k: REDACTED if k in ev.secret_outputs else v for k, v in ev.outputs.items()}
    return {"resources": resources, "outputs": outputs, "secretOutputs": sorted(ev.secret_outputs)}


def snapshot() -> str:
    """Both stacks, as deterministic JSON text (the cloud preflights off, as in render)."""
    doc = {
        stack: snapshot_of(evaluate(stack, preflights_off(stack_config(stack))))
        for stack in SNAPSHOT_STACKS
    }
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    # The fixture kubeconfig's path names the checkout; the record must not.
    return text.replace(json.dumps(str(ROOT))[1:-1], "$ROOT")


def snapshot_diff(path: Path, current: str | None = None) -> str:
    """A unified diff from the recorded snapshot to the program as it is; "" if equal."""
    recorded = path.read_text() if path.exists() else ""
    current = snapshot() if current is None else current
    if current == recorded:
        return ""
    return "".join(
        difflib.unified_diff(
            recorded.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{path} (recorded)",
            tofile="render (now)",
        )
    )


def _close_loop() -> None:
    # Close the mocks' event loop now; left to interpreter shutdown it sometimes
    # prints a harmless "Invalid file descriptor" traceback.
    loop = asyncio.get_event_loop()
    if not loop.is_closed():
        loop.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stack", choices=stack_names(), help="any Pulumi.<stack>.yaml present")
    # One process for several stacks: the interpreter, Helm's library and the parse cache
    # of rendered templates are shared (most chart output is the same in dev and prod).
    mode.add_argument("--stacks", nargs="+", choices=stack_names())
    mode.add_argument("--snapshot", type=Path, metavar="OUT", help="record both stacks")
    mode.add_argument("--check", type=Path, metavar="SNAPSHOT", help="compare with a record")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.snapshot is not None:
        args.snapshot.parent.mkdir(parents=True, exist_ok=True)
        text = snapshot()
        args.snapshot.write_text(text)
        urn_history.record(json.loads(text))
        stacks = ", ".join(SNAPSHOT_STACKS)
        print(f"snapshot of {stacks} -> {args.snapshot}, {urn_history.HISTORY.name}")
        _close_loop()
        return 0
    if args.check is not None:
        diff = snapshot_diff(args.check)
        _close_loop()
        if diff:
            print(diff, end="")
            print(f"render differs from {args.check}; if intended, run `make snapshot`")
            return 1
        print(f"render matches {args.check}")
        return 0
    if args.out is None:
        parser.error("--stack/--stacks need --out")
    if args.stacks:
        return max(_render_stack(s, args.out / s, close=False) for s in args.stacks) or _closed()
    return _render_stack(args.stack, args.out)


def _closed() -> int:
    _close_loop()
    return 0


def _render_stack(stack: str, out: Path, *, close: bool = True) -> int:
    result = render(stack, out)
    c, fp = result["counts"], result["footprint"]
    print(
        f"{stack}: {c['k8s']} objects -> {out}/k8s, {c['crs']} custom resources -> "
        f"{out}/crs, {c['charts']} charts -> {out}/charts"
    )
    print(
        f"{stack}: {c['chart-objects']} objects of those charts (and {c['hooks']} Helm hooks, "
        f"never applied) rendered with Helm's engine -> {out}/chart-objects"
    )
    for gap in result["sourceGaps"]:
        print(f"  NOT RENDERED, missing from the chart source: {gap}")
    print(
        f"footprint ({stack}, DaemonSets x {fp['nodesAssumed']} nodes): "
        f"requests cpu={fp['cpu']} memory={fp['memory']}"
    )
    for name, w in sorted(fp["byWorkload"].items()):
        print(f"  {name:<50} {w['cpu']:>8} {w['memory']:>8}  x{w['replicas']}")
    if close:
        _close_loop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
