"""A tiny Kubernetes API client on the standard library, for resource hooks.

Resource hooks run inside the Pulumi program during `pulumi up`, outside any
provider, so they talk to the API server themselves. Only what the pre-upgrade
backup needs: create one custom object and read it back. Supports the kubeconfig
shapes the platform produces (Cluster API workload kubeconfigs: client
certificates; kind: client certificates; tokens) and exec credential plugins, as
management clusters on EKS or GKE use (`aws eks get-token`, gke-gcloud-auth-plugin):
the plugin runs as kubectl runs it and its ExecCredential gives a token or a client
certificate (client.authentication.k8s.io, kubectl's exec.go).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import yaml


class KubeApiError(RuntimeError):
    def __init__(self, message: str, *, transient: bool = False, status: int | None = None):
        super().__init__(message)
        self.transient = transient
        """Worth retrying: no answer, 429 or 5xx (API server restarting, overloaded)."""
        self.status = status
        """The HTTP status of an answer, None when there was none."""


def _b64file(data: str, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64decode(data))
    return path


class KubeApi:
    """GET/POST JSON against the cluster named by a kubeconfig (text)."""

    def __init__(self, kubeconfig: str, context: str | None = None, timeout: float = 30) -> None:
        doc = yaml.safe_load(kubeconfig) or {}
        ctx_name = context or doc.get("current-context")
        ctx = _named(doc.get("contexts"), ctx_name, "context")
        cluster = _named(doc.get("clusters"), ctx.get("cluster"), "cluster")
        user = _named(doc.get("users"), ctx.get("user"), "user") if ctx.get("user") else {}
        self.server = str(cluster["server"]).rstrip("/")
        self.timeout = timeout
        self.headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if "exec" in user:
            user = {**user, **exec_credential(user["exec"], cluster)}
        if user.get("token"):
            self.headers["Authorization"] = f"Bearer {user['token']}"
        context_ssl = ssl.create_default_context()
        if cluster.get("certificate-authority-data"):
            ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
            context_ssl.load_verify_locations(cadata=ca)
        if cluster.get("insecure-skip-tls-verify"):
            context_ssl.check_hostname = False
            context_ssl.verify_mode = ssl.CERT_NONE
        if user.get("client-certificate-data") and user.get("client-key-data"):
            cert = _b64file(user["client-certificate-data"], ".crt")
            key = _b64file(user["client-key-data"], ".key")
            try:
                context_ssl.load_cert_chain(cert, key)
            finally:
                os.unlink(cert)
                os.unlink(key)
        self.ssl = context_ssl

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.server + path, data=data, method=method, headers=self.headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.ssl) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            transient = exc.code == 429 or exc.code >= 500
            raise KubeApiError(
                f"{method} {path}: HTTP {exc.code}: {detail}", transient=transient, status=exc.code
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise KubeApiError(f"{method} {path}: {exc}", transient=True) from exc


def exec_credential(spec: Mapping[str, Any], cluster: Mapping[str, Any]) -> dict[str, str]:
    """Run a kubeconfig `user.exec` plugin non-interactively; its ExecCredential status as
    kubeconfig user fields (token, or client certificate and key as base64 data)."""
    api_version = spec.get("apiVersion", "client.authentication.k8s.io/v1")
    info: dict[str, Any] = {"interactive": False}
    if spec.get("provideClusterInfo"):
        info["cluster"] = {"server": cluster.get("server")}
    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []}}
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": info}
    )
    command = [str(spec.get("command", "")), *map(str, spec.get("args") or [])]
    try:
        done = subprocess.run(
            command, check=False, env=env, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KubeApiError(f"exec credential plugin {command[0]!r}: {exc}") from exc
    if done.returncode != 0:
        raise KubeApiError(
            f"exec credential plugin {command[0]!r} exited {done.returncode}: "
            f"{done.stderr.strip()[:300]}"
        )
    try:
        status = json.loads(done.stdout).get("status") or {}
    except ValueError as exc:
        raise KubeApiError(f"exec credential plugin {command[0]!r}: no ExecCredential") from exc
    if status.get("token"):
        return {"token": str(status["token"])}
    if status.get("clientCertificateData") and status.get("clientKeyData"):
        return {
            "client-certificate-data": base64.b64encode(
                status["clientCertificateData"].encode()
            ).decode(),
            "client-key-data": base64.b64encode(status["clientKeyData"].encode()).decode(),
        }
    raise KubeApiError(f"exec credential plugin {command[0]!r} returned no token or certificate")


def _named(items: Any, name: Any, what: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return dict(item.get(what) or {})
    raise KubeApiError(f"kubeconfig has no {what} named {name!r}")
