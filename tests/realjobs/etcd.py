"""A real etcd on loopback with client TLS (--client-cert-auth)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Etcd:
    process: subprocess.Popen[bytes]
    endpoint: str
    name: str
    data_dir: Path
    pki: Path
    etcdctl: Path

    def ctl(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        """etcdctl with the kubeadm client cert (what the CronJob uses)."""
        return subprocess.run(
            [
                str(self.etcdctl),
                f"--endpoints={self.endpoint}",
                f"--cacert={self.pki / 'ca.crt'}",
                f"--cert={self.pki / 'healthcheck-client.crt'}",
                f"--key={self.pki / 'healthcheck-client.key'}",
                "--dial-timeout=2s",
                "--command-timeout=5s",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={"PATH": os.environ.get("PATH", "")},
        )

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP: the port still accepts TCP, nothing answers (a hung etcd)."""
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


def start(
    etcd: Path,
    etcdctl: Path,
    data_dir: Path,
    pki: Path,
    *,
    name: str = "cp-1",
    client_port: int | None = None,
    peer_port: int | None = None,
    log: Path | None = None,
) -> Etcd:
    """Starts etcd (new or restored `data_dir`) and waits until it is healthy over TLS."""
    client = f"https://127.0.0.1:{client_port or free_port()}"
    peer = f"http://127.0.0.1:{peer_port or free_port()}"
    args = [
        str(etcd),
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={name}={peer}",
        "--client-cert-auth",
        f"--trusted-ca-file={pki / 'ca.crt'}",
        f"--cert-file={pki / 'server.crt'}",
        f"--key-file={pki / 'server.key'}",
        "--log-level=error",
    ]
    out = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True)
    server = Etcd(process, client, name, data_dir, pki, etcdctl)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"etcd exited {process.returncode}; see {log}")
        if server.ctl("endpoint", "health").returncode == 0:
            return server
        time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"etcd not healthy within 15 s; see {log}")


def stop(server: Etcd) -> None:
    server.process.send_signal(signal.SIGCONT)  # in case a test left it frozen
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
