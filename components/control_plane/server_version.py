"""existing mode: the API server's own version, read at preview and up.

`cluster.kubernetesVersion` is what the stack declares; in existing mode nothing makes the
running cluster match it. `check` asks the API server (`GET /version`, readable without
credentials through the `system:public-info-viewer` ClusterRole) and refuses a minor the
compatibility matrix does not allow for what the stack installs, with one message. Off
with `cluster.serverVersionCheck: false` (previews without the cluster).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

import pulumi
import yaml

from components.control_plane.settings import ExistingClusterSettings
from kernel import compat
from kernel.kubeapi import KubeApi, KubeApiError

# k8s.io/apimachinery pkg/version/types.go (version.Info): gitVersion "v1.35.8", and on
# managed clusters "v1.35.8-eks-1a2b3c" or "v1.35.8-gke.100"; minor may be "35+".
_GIT_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
_MINOR = re.compile(r"(\d+)\+?")
OFF = "set cluster.serverVersionCheck: false only for a preview without the cluster"


class ServerVersionError(pulumi.RunError):
    """The one message of a refused live server; printed without a traceback."""


def read_version(e: ExistingClusterSettings) -> Mapping[str, Any]:
    """The `/version` answer of the context's API server: anonymously first (the default
    RBAC lets anyone read it), with the context's credentials where anonymous requests are
    refused. An exec credential plugin (EKS, GKE) cannot run here and is left out."""
    doc = yaml.safe_load(e.minified_kubeconfig) or {}
    users = doc.get("users") or []
    for user in users:
        (user.get("user") or {}).pop("exec", None)
    anonymous = {**doc, "users": [{"name": u.get("name", ""), "user": {}} for u in users]}
    try:
        return _get_version(anonymous, e.context)
    except KubeApiError as exc:
        if exc.status not in (401, 403):
            raise
    return _get_version(doc, e.context)


def _get_version(doc: Mapping[str, Any], context: str) -> Mapping[str, Any]:
    return KubeApi(yaml.safe_dump(dict(doc)), context, timeout=15).request("GET", "/version")


reader: Callable[[ExistingClusterSettings], Mapping[str, Any]] = read_version
"""Replaced by tests with a stubbed answer."""


def parse(answer: Mapping[str, Any]) -> str:
    """'v1.35.8' from a `/version` answer (gitVersion first, else major/minor)."""
    m = _GIT_VERSION.match(str(answer.get("gitVersion", "")))
    if m:
        return f"v{m.group(1)}.{m.group(2)}.{m.group(3)}"
    minor = _MINOR.fullmatch(str(answer.get("minor", "")))
    if str(answer.get("major")) == "1" and minor:
        return f"v1.{minor.group(1)}.0"
    raise ValueError(f"not a Kubernetes version answer: {dict(answer)!r}")


def problem(
    e: ExistingClusterSettings,
    declared: str,
    features: Collection[str],
    mode: str,
    answer: Mapping[str, Any],
) -> tuple[str | None, str | None]:
    """(refusal, warning) for the live server's answer."""
    where = f"the API server of context {e.context} ({e.server})"
    try:
        live = parse(answer)
        outside = compat.version_problem(live, features, mode)
    except ValueError as exc:  # not a version, or not Kubernetes 1.x
        return f"cannot tell which Kubernetes {where} runs: {exc}; {OFF}", None
    if outside:
        return f"{where} runs {live}: {outside}", None
    if compat.minor_of(live) != compat.minor_of(declared):
        return None, (
            f"{where} runs {live} but cluster.kubernetesVersion is {declared}: set it to the "
            "server's version (Pod Security labels and checks follow it)"
        )
    return None, None


def check(
    e: ExistingClusterSettings | None, declared: str, features: Collection[str], mode: str
) -> None:
    """Refuse a live server outside the matrix; warn when it differs from the declared minor."""
    if e is None or not e.check_server_version:
        return
    try:
        answer = reader(e)
    except (KubeApiError, OSError, ValueError) as exc:  # no answer, TLS or kubeconfig data
        raise ServerVersionError(
            f"cluster.kubernetesVersion: cannot read the version of the API server of context "
            f"{e.context} ({e.server}): {exc}; start the cluster (`make kind-up`) or {OFF}"
        ) from exc
    refusal, warning = problem(e, declared, features, mode, answer)
    if refusal:
        raise ServerVersionError(f"cluster.kubernetesVersion: {refusal}")
    if warning:
        pulumi.log.warn(warning)
