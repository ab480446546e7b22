"""Evaluate the whole Pulumi program for a stack offline, under Pulumi mocks.

No CLI, no cluster, no cloud: the program runs exactly as `pulumi preview` would run
it, against a fake engine that records every registered resource (type, name, inputs,
parent, provider, options, which inputs are secret) and the stack outputs.
Used by the tests and by `tools/render.py`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import ROOT as ROOT_RESOURCE
from pulumi.runtime.settings import SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools import inputs

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "k8s-platform"
FIXTURE_KUBECONFIG = ROOT / "tests" / "fixtures" / "kubeconfig.yaml"
FIXTURE_SECRETS = ROOT / "tests" / "fixtures" / "secrets.yaml"
"""Stand-in values for the secrets a stack file names (set with `--secret` in real use)."""
CRDS_DIR = inputs.crds_dir(ROOT)
"""CRD schemas to validate custom resources against (tools/inputs.py: CRDS_DIR, the
reference tree beside the clone, else build/crds from `make crds`)."""
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
DELETE = object()
"""Use as an override value to remove a key from the stack file."""

# Workload kubeconfig that a CAPI management cluster would hold in <cluster>-kubeconfig.
FAKE_WORKLOAD_KUBECONFIG = """apiVersion: v1
kind: Config
current-context: workload
clusters: [{name: workload, cluster: {server: 'https://api.workload.example:6443'}}]
contexts: [{name: workload, context: {cluster: workload, user: admin}}]
users: [{name: admin, user: {token: fake}}]
"""


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    remote: bool
    inputs: dict[str, Any]
    provider: str
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    deleted_with: str
    delete_timeout: str
    ignore_changes: list[str]
    secret_paths: list[str]
    read: bool = False
    aliases: list[str] = field(default_factory=list)
    """The URNs this resource answers to besides its own (its `aliases` option)."""

    @property
    def metadata(self) -> dict[str, Any]:
        return self.inputs.get("metadata") or {}

    @property
    def k8s_name(self) -> str | None:
        return self.metadata.get("name")

    @property
    def namespace(self) -> str | None:
        return self.metadata.get("namespace")

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def provider_urn(self) -> str:
        """Provider references are '<urn>::<id>'."""
        return self.provider.rsplit("::", 1)[0]


@dataclass
class Evaluation:
    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    raw_config: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise AssertionError(f"expected one {type_} named {name!r}, found {names}")
        return found[0]

    def named(self, name: str) -> Resource:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Resource | None:
        return next((r for r in self.resources if r.urn == urn), None)

    def ancestors(self, r: Resource) -> Iterator[Resource]:
        parent = self.by_urn(r.parent)
        while parent is not None:
            yield parent
            parent = self.by_urn(parent.parent)

    def component_of(self, r: Resource) -> Resource | None:
        """The nearest k8splatform component above `r`."""
        return next((a for a in self.ancestors(r) if a.type.startswith("k8splatform:")), None)

    def charts(self) -> list[Resource]:
        return self.of_type("kubernetes:helm.sh/v4:Chart") + self.of_type(
            "kubernetes:helm.sh/v3:Release"
        )

    def chart(self, name: str) -> Resource:
        found = [c for c in self.charts() if c.name == name]
        if len(found) != 1:
            raise AssertionError(f"no chart {name!r}; charts: {[c.name for c in self.charts()]}")
        return found[0]

    def k8s_objects(self) -> list[Resource]:
        """Kubernetes objects the program creates itself (not charts, not reads)."""
        return [
            r
            for r in self.resources
            if r.custom
            and not r.read
            and r.type.startswith("kubernetes:")
            and not r.type.startswith("kubernetes:helm.sh/")
            and not r.type.startswith("kubernetes:yaml/")
            and not r.type.startswith("kubernetes:kustomize/")
        ]


def manifest(r: Resource, *, redact: bool = True) -> dict[str, Any]:
    """The object as kubectl would see it: apiVersion, kind, metadata, then the rest."""
    body = {k: v for k, v in r.inputs.items() if k not in ("apiVersion", "kind", "metadata")}
    api_version = r.inputs.get("apiVersion") or _api_version_from_type(r.type)
    doc: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": r.inputs.get("kind") or r.kind,
        "metadata": r.metadata,
        **body,
    }
    if redact and doc["kind"] == "Secret":
        for key in ("data", "stringData"):
            if key in doc:
                doc[key] = {k: "<redacted>" for k in doc[key]}
    return doc


def _api_version_from_type(type_: str) -> str:
    group_version = type_.split(":")[1]
    return group_version.removeprefix("core/")


def _normalise(value: Any) -> Any:
    """Mocks deliver numbers as floats; YAML and validators want integers back."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _secret_paths(value: struct_pb2.Value | struct_pb2.Struct, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, struct_pb2.Struct):
        fields = value.fields
        sig = fields.get(SIG_KEY)
        if sig is not None and sig.string_value == SECRET_SIG:
            return [path or "<root>"]
        for key, item in fields.items():
            found += _secret_paths(item, f"{path}.{key}" if path else key)
        return found
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _secret_paths(value.struct_value, path)
    if kind == "list_value":
        for i, item in enumerate(value.list_value.values):
            found += _secret_paths(item, f"{path}[{i}]")
    return found


class PlatformMocks(pulumi_mocks.Mocks):
    """Just enough provider behaviour for the program to run end to end."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = copy.deepcopy(args.inputs)
        seed = hashlib.sha256(f"{args.typ}/{args.name}".encode()).digest()
        if args.typ in (
            "random:index/randomPassword:RandomPassword",
            "random:index/randomString:RandomString",
        ):
            length = int(args.inputs.get("length", 16))
            state["result"] = (seed.hex() * 4)[:length]
        elif args.typ == "random:index/randomBytes:RandomBytes":
            raw = (seed * 4)[: int(args.inputs.get("length", 32))]
            state["base64"] = base64.b64encode(raw).decode()
            state["hex"] = raw.hex()
        elif args.typ == "kubernetes:core/v1:Secret" and str(args.resource_id).endswith(
            "-kubeconfig"
        ):
            encoded = base64.b64encode(FAKE_WORKLOAD_KUBECONFIG.encode()).decode()
            state = {
                "metadata": {"name": str(args.resource_id).split("/")[-1]},
                "data": {"value": encoded},
            }
        return f"{args.name}-id", state

    def call(
        self, args: pulumi_mocks.MockCallArgs
    ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


ROOT_TYPE = "pulumi:pulumi:Stack"


def alias_urns(request: Any, urn: str) -> list[str]:
    """The URNs of a RegisterResource request's alias specs, as the engine resolves them:
    each unset part (name, type, parent, stack, project) is the resource's own; remote
    components honour whole URNs only. Specs that change the type alone are left out:
    pulumi-kubernetes declares one per old apiVersion."""
    head, project, types, name = _urn_parts(urn)
    own_type = types.rsplit("$", 1)[-1]
    out = list(getattr(request, "aliasURNs", []))
    for alias in request.aliases:
        if alias.urn:
            out.append(alias.urn)
            continue
        if request.remote:
            # A remote component (Chart v4) is built by its provider's Construct, which
            # receives alias URNs only: the engine passes a spec there as an empty URN.
            continue
        spec = alias.spec
        if not (spec.name or spec.parentUrn or spec.noParent or spec.stack or spec.project):
            continue
        stack = spec.stack or head.removeprefix("urn:pulumi:")
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        # The stack's own type never appears in its children's URNs.
        chain = _urn_parts(parent)[2] if parent else ROOT_TYPE
        chain = "" if chain == ROOT_TYPE else chain + "$"
        out.append(
            f"urn:pulumi:{stack}::{spec.project or project}::"
            f"{chain}{spec.type or own_type}::{spec.name or name}"
        )
    return out


def engine_urn(urn: str) -> str:
    """`urn` as the engine writes it: the SDK's mock monitor puts the stack's own type at the
    head of its direct children's chains, where the engine leaves it out."""
    return urn.replace(f"::{ROOT_TYPE}$", "::")


def _urn_parts(urn: str) -> tuple[str, str, str, str]:
    head, project, types, name = urn.split("::", 3)
    return head, project, types, name


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Resource] = []

    def _record(self, request: Any, urn: str, *, read: bool = False) -> None:
        urn = engine_urn(urn)
        obj = request.properties if read else request.object
        inputs = _normalise(rpc.deserialize_properties(obj))
        timeouts = getattr(request, "customTimeouts", None)
        self.recorded.append(
            Resource(
                type=request.type,
                name=request.name,
                urn=urn,
                parent=engine_urn(request.parent),
                custom=True if read else bool(request.custom),
                remote=False if read else bool(request.remote),
                inputs=inputs,
                provider=request.provider,
                dependencies=[] if read else [engine_urn(d) for d in request.dependencies],
                protect=False if read else bool(request.protect),
                retain_on_delete=False if read else bool(request.retainOnDelete),
                deleted_with="" if read else request.deletedWith,
                delete_timeout=timeouts.delete if timeouts is not None else "",
                ignore_changes=[] if read else list(request.ignoreChanges),
                secret_paths=_secret_paths(obj),
                read=read,
                aliases=[] if read else alias_urns(request, urn),
            )
        )

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, response.urn)
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)
        self._record(request, response.urn, read=True)
        return response


def stack_names() -> list[str]:
    """Every stack with a Pulumi.<stack>.yaml in the repository."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


STAND_IN = "offline-stand-in-"


def stack_config(stack: str) -> dict[str, Any]:
    """The project's config keys for `stack`: Pulumi.yaml defaults, then the stack file."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    raw: dict[str, Any] = {
        key: spec["default"]
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    stack_file = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    for key, value in (stack_file.get("config") or {}).items():
        namespace, _, name = key.partition(":")
        if namespace == PROJECT:
            raw[name] = value
    stand_ins = {ref: stand_in(ref) for ref in sorted(secret_refs(raw))}
    raw["secrets"] = {**stand_ins, **(raw.get("secrets") or {})}
    return raw


def stand_in(name: str) -> str:
    """The offline value of secret `name`: a shaped one where its setting parses the value
    (tests/fixtures/secrets.yaml, e.g. an AWS credentials file), else a marker string."""
    shaped = yaml.safe_load(FIXTURE_SECRETS.read_text()) or {}
    return str(shaped.get(name, f"{STAND_IN}{name}"))


def secret_refs(node: Any, key: str = "") -> Iterator[str]:
    """Names of `secrets` entries a config tree refers to (keys `secret` / `*Secret`).
    The values live encrypted in the real stack (`pulumi config set --secret`); offline
    evaluations get stand-ins, so a stack file that names its secrets still evaluates."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from secret_refs(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from secret_refs(item, key)
    elif isinstance(node, str) and (key == "secret" or key.endswith("Secret")):
        yield node


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Set dotted paths, e.g. {"observability.metricsServer.replicas": 1}."""
    out = copy.deepcopy(raw)
    for path, value in overrides.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(leaf, None)
        elif path == "secrets" and isinstance(value, dict) and isinstance(node.get(leaf), dict):
            # Added to the stack's (stand-in) secrets, which its own settings still name.
            node[leaf] = {**node[leaf], **copy.deepcopy(value)}
        else:
            node[leaf] = copy.deepcopy(value)
    secrets = out.get("secrets")
    if isinstance(secrets, dict):
        # Stand-ins whose setting an override removed would read as orphans.
        used = set(secret_refs({k: v for k, v in out.items() if k != "secrets"}))
        out["secrets"] = {k: v for k, v in secrets.items() if k in used or v != stand_in(k)}
    return out


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration, then restore them exactly."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def evaluate(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    raw: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    mocks: pulumi_mocks.Mocks | None = None,
    before_run: Callable[[], None] | None = None,
    extra_config: Mapping[str, str] | None = None,
) -> Evaluation:
    """Run __main__.py for `stack` under mocks and return what it registered.

    The program's cloud preflights run as they would for `pulumi preview`: tests give
    them an in-memory account (conftest.py), the render tool turns them off.
    `before_run` runs inside the evaluation's environment, just before the program.
    `extra_config`: further engine config keys as a stack file would name them
    (`namespace:key`), e.g. a misspelled project namespace.
    """
    config = apply_overrides(raw if raw is not None else stack_config(stack), overrides or {})
    monitor = RecordingMonitor(mocks or PlatformMocks())
    ROOT_RESOURCE.set(None)  # a fresh root Stack per evaluation, named after this stack
    pulumi_mocks.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor
    )
    runtime_config.set_all_config(
        {
            **{
                f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v)
                for k, v in config.items()
            },
            **(extra_config or {}),
        },
        [f"{PROJECT}:secrets"],
    )
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    # The state backend as a team's CI sees it (the prod profile refuses a local file
    # backend); a test passes PULUMI_BACKEND_URL to check that refusal.
    env = {
        "KUBECONFIG": str(FIXTURE_KUBECONFIG),
        "PULUMI_BACKEND_URL": "https://api.pulumi.com",
        **(env or {}),
    }
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with environment(env):
        if before_run:
            before_run()
        _sync_await(run_pulumi_func(_run_program))
        outputs, secret = _resolve_outputs()
    return Evaluation(stack, monitor.recorded, outputs, secret, config)


def _run_program() -> None:
    runpy.run_path(str(ROOT / "__main__.py"))


def _resolve_outputs() -> tuple[dict[str, Any], set[str]]:
    stack = get_root_resource()
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in getattr(stack, "outputs", {}).items():
        out = pulumi.Output.from_input(value)
        values[name] = _normalise(_sync_await(out.future()))
        if _sync_await(out.is_secret()):
            secret.add(name)
    return values, secret
