"""existing mode reads the live API server's version at preview and refuses a minor
outside the compatibility matrix, in one message.

The answers in tests/data/server_version/ have the shape of `version.Info`
(k8s.io/apimachinery@v0.35.4 pkg/version/types.go): a kind node, and the suffixed
gitVersion and `+` minor of managed clusters (EKS `-eks-<hash>`, GKE `-gke.<n>`). A stub
API server on loopback serves them at `/version`, so the real reader runs end to end.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pulumi
import pytest
import yaml

from components.control_plane import server_version
from components.control_plane.server_version import ServerVersionError, check, parse
from components.control_plane.settings import ExistingClusterSettings
from settings import SettingsError, load, preflights_off
from tests.helpers import DATA
from tools.offline import apply_overrides, evaluate, stack_config

pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")
ANSWERS = DATA / "server_version"
EXISTING_ALL = {"edge", "backups", "snapshots", "ebs", "trivy"}


def answer(name: str) -> dict[str, Any]:
    return json.loads((ANSWERS / f"{name}.json").read_text())


class StubApiServer:
    """Answers GET /version with `self.answer`; 401 to anonymous requests when asked."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = answer("kind-v1.35.8")
        self.anonymous_allowed = True
        self.requests: list[tuple[str, str | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                stub.requests.append((self.path, auth))
                ok = self.path == "/version" and (stub.anonymous_allowed or auth)
                body = json.dumps(stub.answer if ok else {"kind": "Status"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def existing(self, user: dict[str, Any] | None = None) -> ExistingClusterSettings:
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "stub",
            "clusters": [{"name": "stub", "cluster": {"server": self.url}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "u"}}],
            "users": [{"name": "u", "user": user or {"token": "t0ken"}}],
        }
        return ExistingClusterSettings(None, "stub", self.url, yaml.safe_dump(kubeconfig))


@pytest.fixture
def api() -> Iterator[StubApiServer]:
    stub = StubApiServer()
    yield stub
    stub.httpd.shutdown()


@pytest.fixture
def real_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the session's stubbed reader (conftest.py): these tests talk HTTP."""
    monkeypatch.setattr(server_version, "reader", server_version.read_version)


@pytest.mark.parametrize(
    ("name", "version"),
    [("kind-v1.35.8", "v1.35.8"), ("eks-v1.32.9", "v1.32.9"), ("gke-v1.36.4", "v1.36.4")],
)
def test_the_version_is_read_from_git_version_of_every_recorded_answer(
    name: str, version: str
) -> None:
    assert parse(answer(name)) == version


def test_without_git_version_the_major_and_minor_fields_are_used() -> None:
    assert parse({"major": "1", "minor": "34+", "gitVersion": ""}) == "v1.34.0"
    with pytest.raises(ValueError, match="not a Kubernetes version answer"):
        parse({"kind": "Status", "code": 401})


@pytest.mark.usefixtures("real_reader")
@pytest.mark.parametrize(
    ("name", "limit"),
    [("eks-v1.32.9", "v1.33..v1.35"), ("gke-v1.36.4", "kyverno 3.9.0 (v1.33..v1.35)")],
)
def test_a_live_server_outside_the_matrix_is_refused_with_one_message(
    api: StubApiServer, name: str, limit: str
) -> None:
    api.answer = answer(name)
    with pytest.raises(ServerVersionError) as err:
        check(api.existing(), "v1.35.8", EXISTING_ALL, "existing")
    message = str(err.value)
    assert message.startswith("cluster.kubernetesVersion: the API server of context stub")
    assert f"({api.url}) runs {parse(answer(name))}" in message and limit in message
    assert len(message.splitlines()) == 1
    assert api.requests == [("/version", None)]  # anonymous: /version is public


@pytest.mark.usefixtures("real_reader")
def test_a_live_server_inside_the_matrix_passes_and_a_different_minor_warns(
    api: StubApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    check(api.existing(), "v1.35.8", EXISTING_ALL, "existing")
    assert warnings == []
    check(api.existing(), "v1.34.11", EXISTING_ALL, "existing")
    assert warnings == [
        f"the API server of context stub ({api.url}) runs v1.35.8 but cluster.kubernetesVersion "
        "is v1.34.11: set it to the server's version (Pod Security labels and checks follow it)"
    ]


@pytest.mark.usefixtures("real_reader")
def test_credentials_are_used_only_when_anonymous_requests_are_refused(
    api: StubApiServer,
) -> None:
    api.anonymous_allowed = False
    exec_user = {"token": "t0ken", "exec": {"command": "aws", "apiVersion": "x"}}
    check(api.existing(exec_user), "v1.35.8", EXISTING_ALL, "existing")
    assert api.requests == [("/version", None), ("/version", "Bearer t0ken")]


@pytest.mark.usefixtures("real_reader")
def test_an_unreachable_server_is_refused_naming_the_switch(api: StubApiServer) -> None:
    existing = api.existing()
    api.httpd.shutdown()
    api.httpd.server_close()
    with pytest.raises(ServerVersionError, match="cannot read the version of the API server"):
        check(existing, "v1.35.8", EXISTING_ALL, "existing")


def test_the_check_is_skipped_only_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(server_version, "reader", lambda e: calls.append(e.context) or {})
    raw = apply_overrides(stack_config("dev"), {"cluster.serverVersionCheck": False})
    off = load(raw, "dev").cluster.existing
    check(off, "v1.35.8", EXISTING_ALL, "existing")
    assert calls == []
    with pytest.raises(SettingsError, match=r"cluster\.serverVersionCheck.*existing mode only"):
        load(apply_overrides(stack_config("prod"), {"cluster.serverVersionCheck": True}), "prod")
    assert preflights_off(stack_config("dev"))["cluster.serverVersionCheck"] is False
    assert "cluster.serverVersionCheck" not in preflights_off(stack_config("prod"))


def test_the_program_refuses_a_live_server_outside_the_matrix_at_preview(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def old_server(e: ExistingClusterSettings) -> dict[str, Any]:
        asked.append(e.context)
        return answer("eks-v1.32.9")

    monkeypatch.setattr(server_version, "reader", old_server)
    with pytest.raises(ServerVersionError, match=r"runs v1\.32\.9: supported minors in existing"):
        evaluate("dev")
    assert asked == ["kind-k8s-platform-dev"]
