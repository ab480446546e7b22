"""Runs a rendered pod's containers as local processes, as the kubelet would start them.

What is faithful: command/args and env exactly as rendered, init containers first and in
order, a failed container stops the pod, the downward API for env, volumes shared between
containers. What is mapped: each mountPath is rewritten (in argv and env values, one pass)
to a local directory holding what the volume would hold (hostPath: the fake node's file
system; emptyDir: a fresh directory per pod; secret: its items), and `/bin/sh` is bash
started as `sh`, which is what the aws-cli image's /bin/sh is. Not enforced: readOnly,
securityContext, resources.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SHELLS = ("/bin/sh", "sh")


@dataclass(frozen=True)
class Node:
    """A control-plane node: its name and the root of its file system (for hostPath)."""

    name: str
    root: Path

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")


@dataclass(frozen=True)
class Result:
    container: str
    argv: list[str]
    returncode: int | None  # None: killed at the harness's cap (it hung)
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class PodRun:
    results: list[Result]

    @property
    def ok(self) -> bool:
        return all(r.returncode == 0 for r in self.results)

    @property
    def hung(self) -> bool:
        return any(r.returncode is None for r in self.results)

    @property
    def output(self) -> str:
        return "".join(r.output for r in self.results)

    def describe(self) -> str:
        return "\n".join(
            f"[{r.container}] rc={r.returncode} {r.seconds:.1f}s\n{r.output[-1500:]}"
            for r in self.results
        )


def load(path: Path) -> dict[str, Any]:
    obj = yaml.safe_load(path.read_text())
    assert isinstance(obj, dict), path
    return obj


def pod_spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The pod template's spec of a CronJob or a Job."""
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


@dataclass
class Pod:
    spec: Mapping[str, Any]
    node: Node
    workdir: Path
    path: Sequence[str]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    rewrites: Mapping[str, str] = field(default_factory=dict)
    cap: float = 60.0

    def __post_init__(self) -> None:
        self._volumes = {v["name"]: self._materialise(v) for v in self.spec.get("volumes", [])}
        self._table: dict[str, str] = {}

    def _materialise(self, volume: Mapping[str, Any]) -> Path:
        if "hostPath" in volume:
            local = self.node.path(volume["hostPath"]["path"])
            kind = volume["hostPath"].get("type", "")
            assert kind not in ("Directory", "File") or local.exists(), f"no {local} on node"
            return local
        local = self.workdir / "volumes" / volume["name"]
        local.mkdir(parents=True)
        if "secret" in volume:
            data = self.secrets[volume["secret"]["secretName"]]
            items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                (local / item["path"]).write_text(data[item["key"]])
        else:
            assert "emptyDir" in volume, f"volume kind not mapped: {volume}"
        return local

    def mounts(self, container: Mapping[str, Any]) -> dict[str, Path]:
        """mountPath -> the local path the container sees there."""
        out: dict[str, Path] = {}
        for m in container.get("volumeMounts", []):
            local = self._volumes[m["name"]]
            out[m["mountPath"]] = local / m["subPath"] if m.get("subPath") else local
        return out

    def visible_files(self, container: Mapping[str, Any]) -> dict[str, str]:
        """Every file the container can read through its mounts: path in pod -> content."""
        seen: dict[str, str] = {}
        for mount_path, local in self.mounts(container).items():
            files = [local] if local.is_file() else sorted(local.rglob("*"))
            for f in (f for f in files if f.is_file()):
                inside = mount_path if f == local else f"{mount_path}/{f.relative_to(local)}"
                seen[inside] = f.read_text(errors="replace")
        return seen

    def _rewriter(self, container: Mapping[str, Any]) -> re.Pattern[str] | None:
        table = {k: str(v) for k, v in self.mounts(container).items()} | dict(self.rewrites)
        self._table = table
        if not table:
            return None
        alts = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
        return re.compile(rf"(?<![\w.-])(?:{alts})(?![\w.-])")

    def _rewrite(self, pattern: re.Pattern[str] | None, text: str) -> str:
        return pattern.sub(lambda m: self._table[m.group(0)], text) if pattern else text

    def _env(self, container: Mapping[str, Any], pattern: re.Pattern[str] | None) -> dict[str, str]:
        env = {"PATH": os.pathsep.join([*self.path, "/usr/bin", "/bin"])}
        for e in container.get("env", []):
            env[e["name"]] = self._rewrite(pattern, self._env_value(e))
        clash = sorted(set(env) & set(self.extra_env))
        assert not clash, f"harness would override rendered env {clash}; use `rewrites`"
        return env | dict(self.extra_env)

    def _env_value(self, e: Mapping[str, Any]) -> str:
        if "value" in e:
            return str(e["value"])
        ref = e["valueFrom"]
        if "fieldRef" in ref:
            fp = ref["fieldRef"]["fieldPath"]
            if fp == "spec.nodeName":
                return self.node.name
            label = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", fp)
            if label:
                return str(self.metadata[label.group(1)][label.group(2)])
            return str(self.metadata[fp.removeprefix("metadata.")])
        key = ref["secretKeyRef"]
        return self.secrets[key["name"]][key["key"]]

    def _argv(self, container: Mapping[str, Any], pattern: re.Pattern[str] | None) -> list[str]:
        argv = [
            self._rewrite(pattern, a) for a in [*container["command"], *container.get("args", [])]
        ]
        return argv

    def run_container(self, container: Mapping[str, Any]) -> Result:
        pattern = self._rewriter(container)
        argv, env = self._argv(container, pattern), self._env(container, pattern)
        executable = None
        if argv[0] in SHELLS:  # the aws-cli image's /bin/sh is bash; bash as `sh` is POSIX mode
            executable, argv = shutil.which("bash"), ["sh", *argv[1:]]
        else:
            executable = shutil.which(argv[0], path=env["PATH"])
        assert executable, f"{argv[0]} not found on {env['PATH']}"
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            executable=executable,
            env=env,
            cwd=self.workdir,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=self.cap)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            rc = None
        return Result(container["name"], argv, rc, out, err, time.monotonic() - start)

    def run(self) -> PodRun:
        """Init containers in order, then the containers; stops at the first failure."""
        results: list[Result] = []
        for c in [*self.spec.get("initContainers", []), *self.spec["containers"]]:
            results.append(self.run_container(c))
            if results[-1].returncode != 0:
                break
        return PodRun(results)
