"""kubectl against one context: JSON reads, applies, exec and port-forwards.

kubectl rather than a client library: it is what an operator runs, it honours the
kubeconfig exactly as `make e2e` is given it, and port-forward goes through the API
server, so it reaches in-cluster HTTP APIs without crossing a NetworkPolicy.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from tests.e2e.checks import Outcome, forwarded_port


class Kubectl:
    def __init__(self, context: str) -> None:
        self.context = context

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["kubectl", "--context", self.context, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def items(self, *args: str) -> list[Mapping[str, Any]]:
        return list(self.json("get", *args).get("items") or [])

    def apply(self, obj: Mapping[str, Any]) -> None:
        self.run("apply", "-f", "-", stdin=json.dumps(obj))

    def create(self, obj: Mapping[str, Any]) -> None:
        self.run("create", "-f", "-", stdin=json.dumps(obj))

    def delete(self, *args: str) -> None:
        self.run("delete", "--ignore-not-found", "--wait=false", *args, check=False)

    def wait_ready(self, namespace: str, pod: str, timeout: int = 180) -> None:
        self.run(
            "wait",
            "-n",
            namespace,
            f"pod/{pod}",
            "--for=condition=Ready",
            f"--timeout={timeout}s",
            timeout=timeout + 30,
        )

    def exec(self, namespace: str, pod: str, command: Sequence[str], timeout: float = 30) -> int:
        return self.run(
            "exec", "-n", namespace, pod, "--", *command, check=False, timeout=timeout
        ).returncode

    @contextmanager
    def port_forward(self, namespace: str, service: str, port: int) -> Iterator[int]:
        """Forward a random local port to `service:port`; yields the local port."""
        proc = subprocess.Popen(
            [
                "kubectl",
                "--context",
                self.context,
                "port-forward",
                "-n",
                namespace,
                f"svc/{service}",
                f":{port}",
                "--address",
                "127.0.0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            local = None
            deadline = time.monotonic() + 30
            while local is None and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    err = proc.stderr.read() if proc.stderr else ""
                    raise AssertionError(f"port-forward to {namespace}/{service}: {err.strip()}")
                local = forwarded_port(line)
            if local is None:
                raise AssertionError(f"port-forward to {namespace}/{service} did not start")
            yield local
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def poll(
    read: Callable[[], Mapping[str, Any]],
    decide: Callable[[Mapping[str, Any]], tuple[Outcome, str]],
    timeout: float,
    interval: float = 5,
) -> str:
    """Read until `decide` reaches an outcome; fail on FAILED or on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        outcome, detail = decide(read())
        if outcome is Outcome.SUCCEEDED:
            return detail
        if outcome is Outcome.FAILED:
            raise AssertionError(detail)
        if time.monotonic() > deadline:
            raise AssertionError(f"still {detail} after {timeout:.0f}s")
        time.sleep(interval)
