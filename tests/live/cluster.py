"""A Kubernetes control plane on loopback for the live suite: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok, all real binaries (`make engines`),
started and stopped by the suite. Nodes are kwok's: pods are bound by the real scheduler
and reported Running and Ready, but no container runs (tests/live/README.md)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.live import engines
from tests.live.apiserver_flags import kcp_api_server
from tests.live.pki import write_pki

ZONES = ("zone-a", "zone-b", "zone-c")
KWOK = "kwok.x-k8s.io/node"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    name: str
    root: Path
    kubeconfig: Path
    context: str
    server: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def raw(self, path: str) -> bytes:
        """GET an API path with the admin credential (the API server's own client)."""
        import ssl
        import urllib.request

        ctx = ssl.create_default_context(cafile=str(self.root / "pki" / "ca.crt"))
        ctx.load_cert_chain(self.root / "pki" / "admin.crt", self.root / "pki" / "admin.key")
        with urllib.request.urlopen(self.server + path, context=ctx, timeout=30) as r:
            return bytes(r.read())


def _spawn(cluster: Cluster, name: str, args: list[str]) -> None:
    log = open(cluster.root / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    cluster.processes.append(
        subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    )


def _kubeconfig(cluster: Cluster) -> None:
    pki = cluster.root / "pki"

    def b64(p: str) -> str:
        return base64.b64encode((pki / p).read_bytes()).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster.name,
                "cluster": {"server": cluster.server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": f"{cluster.name}-admin",
                "user": {
                    "client-certificate-data": b64("admin.crt"),
                    "client-key-data": b64("admin.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": cluster.context,
                "context": {"cluster": cluster.name, "user": f"{cluster.name}-admin"},
            }
        ],
        "current-context": cluster.context,
    }
    cluster.kubeconfig.write_text(yaml.safe_dump(doc))


def _wait_ready(cluster: Cluster, path: str, deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        for p in cluster.processes:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited {p.returncode}: see {cluster.root}")
        try:
            if cluster.raw(path).strip() == b"ok":
                return
        except OSError as e:  # URLError is an OSError
            last = e
        time.sleep(0.5)
    raise TimeoutError(f"{cluster.server}{path} not ok: {last}")


def _node(name: str, zone: str | None, control_plane: bool) -> dict:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "kwok",
        "type": "kwok",
    }
    taints = []
    if zone:
        labels |= {"topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": "live"}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        taints = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    capacity = {"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "200Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {KWOK: "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"taints": taints},
        "status": {"allocatable": capacity, "capacity": capacity},
    }


def kind_storage_class() -> dict:
    """What kind installs beside its nodes: the default `standard` class (local-path)."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "standard",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
    }


def nodes() -> list[dict]:
    """kind's dev shape: one control-plane node and a worker in each of three zones."""
    workers = [_node(f"worker-{z}", z, False) for z in ZONES]
    return [_node("control-plane", ZONES[0], True), *workers]


def _start(cluster: Cluster, etcd: Path) -> None:
    _start_api_server(cluster, etcd)
    _start_controllers(cluster)


def _start_api_server(cluster: Cluster, etcd: Path, extra_args: tuple[str, ...] = ()) -> None:
    """etcd and kube-apiserver, until /readyz answers; the kubeconfig written."""
    pki = cluster.root / "pki"
    etcd_port, peer = free_port(), free_port()
    _spawn(
        cluster,
        "etcd",
        [
            str(etcd),
            f"--data-dir={cluster.root / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=default=http://127.0.0.1:{peer}",
            "--log-level=error",
            "--unsafe-no-fsync",
        ],
    )
    port = int(cluster.server.rsplit(":", 1)[1])
    bin_dir = engines.bin_dir()
    given = {a.split("=")[0] for a in extra_args}
    _spawn(
        cluster,
        "kube-apiserver",
        [
            str(bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            # kubeadm's defaults: Node and RBAC authorization, NodeRestriction, privileged pods.
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--enable-bootstrap-token-auth=true",
            *[f for f in kcp_api_server(cluster.root / "node") if f.split("=")[0] not in given],
            *extra_args,
        ],
    )
    _kubeconfig(cluster)
    _wait_ready(cluster, "/readyz", time.monotonic() + 120)


def _start_controllers(cluster: Cluster) -> None:
    """kube-controller-manager, kube-scheduler and kwok against the running API server."""
    pki = cluster.root / "pki"
    bin_dir = engines.bin_dir()
    common = [
        f"--kubeconfig={cluster.kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
    ]
    _spawn(
        cluster,
        "kube-controller-manager",
        [
            str(bin_dir / "kube-controller-manager"),
            *common,
            f"--secure-port={free_port()}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--use-service-account-credentials=true",
            "--controllers=*,bootstrapsigner,tokencleaner",
            # kwok renews the simulated nodes' leases; on a loaded 2-core machine a renewal can
            # lag past the default grace period, and every pod would flap to NotReady.
            "--node-monitor-grace-period=5m",
        ],
    )
    _spawn(
        cluster,
        "kube-scheduler",
        [str(bin_dir / "kube-scheduler"), *common, f"--secure-port={free_port()}"],
    )
    _spawn(
        cluster,
        "kwok",
        [
            str(bin_dir / "kwok"),
            f"--kubeconfig={cluster.kubeconfig}",
            f"--config={bin_dir / 'kwok-stages.yaml'}",
            "--manage-all-nodes=false",
            # Nodes heartbeat through leases (kwokctl's default): without one the node
            # lifecycle controller marks every node NotReady after its grace period.
            "--node-lease-duration-seconds=40",
            f"--manage-nodes-with-annotation-selector={KWOK}=fake",
            "--cidr=10.244.0.1/16",
            "--node-ip=10.1.0.1",
            f"--server-address=127.0.0.1:{free_port()}",
        ],
    )


def stop(cluster: Cluster) -> None:
    for p in reversed(cluster.processes):
        if p.poll() is None:
            p.terminate()
    for p in cluster.processes:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def _new(name: str, root: Path, context: str) -> Cluster:
    root.mkdir(parents=True, exist_ok=True)
    write_pki(root / "pki")
    return Cluster(
        name=name,
        root=root,
        kubeconfig=root / "kubeconfig",
        context=context,
        server=f"https://127.0.0.1:{free_port()}",
    )


@contextmanager
def running(name: str, root: Path, context: str) -> Iterator[Cluster]:
    """A control plane named `name`, its kubeconfig's only context `context`."""
    cluster = _new(name, root, context)
    try:
        _start(cluster, engines.etcd())
        yield cluster
    finally:
        stop(cluster)


@contextmanager
def api_server_only(
    name: str, root: Path, context: str, extra_args: tuple[str, ...] = ()
) -> Iterator[Cluster]:
    """etcd and kube-apiserver alone (no controllers, scheduler or nodes): enough for
    admission and schema judgements (`--dry-run=server`), ready in seconds. `extra_args`
    replace the KubeadmControlPlane's flags of the same name."""
    cluster = _new(name, root, context)
    try:
        _start_api_server(cluster, engines.etcd(), extra_args)
        yield cluster
    finally:
        stop(cluster)


def env(cluster: Cluster) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
