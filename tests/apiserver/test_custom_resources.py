"""Custom resources against their CRDs as the API server judges them (strict field validation,
the openAPI schema, the served versions): what a stale or hand-written manifest gets wrong is
refused with the server's own message, naming the field. The render's own custom resources
are judged in test_rendered_objects.py; these are the mistakes it must keep refusing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.apiserver.server import Judged


def _kcp(judged: Judged) -> dict[str, Any]:
    found = judged.render.of_kind("KubeadmControlPlane")
    if not found:
        pytest.skip(f"{judged.stack} runs no Cluster API control plane")
    return copy.deepcopy(found[0])


def test_the_rendered_control_plane_is_accepted_as_it_is(judged: Judged) -> None:
    assert judged.dry_run(_kcp(judged)) == [""]


def test_a_v1beta1_shape_under_v1beta2_is_an_unknown_field(judged: Judged) -> None:
    kcp = _kcp(judged)
    kcp["spec"]["machineTemplate"] = {"infrastructureRef": {"kind": "X", "name": "y"}}
    (msg,) = judged.dry_run(kcp)
    assert ".spec.machineTemplate.infrastructureRef: field not declared in schema" in msg, msg


def test_map_shaped_extra_args_are_a_type_error(judged: Judged) -> None:
    kcp = _kcp(judged)
    api_server = kcp["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["apiServer"]
    api_server["extraArgs"] = {"profiling": "false"}
    (msg,) = judged.dry_run(kcp)
    assert ".apiServer.extraArgs: expected list" in msg, msg


def test_a_version_the_crd_does_not_serve_is_refused(judged: Judged) -> None:
    _kcp(judged)
    cluster = {
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "AWSCluster",
        "metadata": {"name": "old", "namespace": "default"},
        "spec": {"region": "eu-west-1"},
    }
    (msg,) = judged.dry_run(cluster)
    assert 'no matches for kind "AWSCluster"' in msg and "v1beta1" in msg, msg


def test_an_enum_outside_the_crd_schema_is_refused(judged: Judged) -> None:
    """AlertmanagerConfig's matchType enum holds the bare `=`; anything else is refused."""
    config: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": "a", "namespace": "monitoring"},
        "spec": {
            "route": {
                "receiver": "null",
                "matchers": [{"name": "x", "matchType": "=", "value": "y"}],
            },
            "receivers": [{"name": "null"}],
        },
    }
    assert judged.dry_run(config) == [""]
    config["spec"]["route"]["matchers"][0]["matchType"] = "~~"
    (msg,) = judged.dry_run(config)
    assert "spec.route.matchers[0].matchType" in msg and "Unsupported value" in msg, msg
