"""tools/validate_crs.py: custom resources against their CRD schemas, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.offline import CRDS_DIR
from tools.validate_crs import main, validate_documents

CRDS = CRDS_DIR


def kcp(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": 3,
        "version": "v1.35.0",
        "machineTemplate": {
            "spec": {
                "infrastructureRef": {
                    "apiGroup": "infrastructure.cluster.x-k8s.io",
                    "kind": "AWSMachineTemplate",
                    "name": "cp",
                }
            }
        },
    }
    return {
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2",
        "kind": "KubeadmControlPlane",
        "metadata": {"name": "prod-control-plane", "namespace": "prod"},
        "spec": {**base, **spec},
    }


def test_a_valid_v1beta2_object_passes() -> None:
    assert validate_documents([kcp()], CRDS) == []


def test_a_v1beta1_shape_under_v1beta2_is_an_unknown_field() -> None:
    doc = kcp()
    doc["spec"]["machineTemplate"] = {"infrastructureRef": {"kind": "X", "name": "y"}}
    errors = validate_documents([doc], CRDS)
    assert any(
        "UNKNOWN FIELD KubeadmControlPlane.spec.machineTemplate.infrastructureRef" in e
        for e in errors
    )


def test_map_shaped_extra_args_are_a_type_error() -> None:
    doc = kcp(
        kubeadmConfigSpec={
            "clusterConfiguration": {"apiServer": {"extraArgs": {"profiling": "false"}}}
        }
    )
    (error,) = validate_documents([doc], CRDS)
    assert "extraArgs" in error and "is not of type 'array'" in error


def test_a_version_the_crd_does_not_serve_is_reported() -> None:
    doc = {
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "AWSCluster",
        "metadata": {"name": "prod"},
        "spec": {"region": "eu-west-1"},
    }
    (error,) = validate_documents([doc], CRDS)
    assert "AWSCluster/prod" in error and "v1beta1" in error


def test_kinds_without_a_crd_are_no_schema_unless_allowed() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    (error,) = validate_documents([doc], CRDS)
    assert "no schema" in error
    assert validate_documents([doc], CRDS, allow_no_schema=True) == []


def test_other_groups_work_too_including_the_bare_equals_enum() -> None:
    monitor = {
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
    assert validate_documents([monitor], CRDS) == []
    monitor["spec"]["route"]["matchers"][0]["matchType"] = "~~"
    assert validate_documents([monitor], CRDS)


def test_cli_exit_codes_and_one_line_per_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad" / "bad.yaml"
    bad.parent.mkdir()
    good.write_text(yaml.safe_dump(kcp()))
    broken = kcp(replicas="three")
    broken["spec"]["typo"] = 1
    bad.write_text(yaml.safe_dump_all([broken, kcp()]))
    assert main(["--crds", str(CRDS), str(good)]) == 0
    capsys.readouterr()
    assert main(["--crds", str(CRDS), str(tmp_path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert all(str(bad) in line for line in lines)
    assert main(["--crds", str(tmp_path / "nope"), str(good)]) == 2
