"""Every stack file in the repository is validated and rendered like the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from settings import load
from tools import render
from tools.offline import FIXTURE_KUBECONFIG, ROOT, environment, stack_config, stack_names

STACK_FILES = sorted(p.name for p in ROOT.glob("Pulumi.*.yaml"))


def test_the_seed_stacks_exist() -> None:
    assert {"Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"} <= set(STACK_FILES)
    assert stack_names() == sorted(f[len("Pulumi.") : -len(".yaml")] for f in STACK_FILES)


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_file_renders(stack: str, tmp_path: Path) -> None:
    result = render.render(stack, tmp_path)
    assert result["counts"]["k8s"] > 50 and result["counts"]["charts"] >= 8
    assert json.loads((tmp_path / "render.json").read_text())["stack"] == stack
    assert any((tmp_path / "k8s").iterdir())


def test_staging_is_the_prod_profile_at_a_smaller_scale() -> None:
    with environment({"KUBECONFIG": str(FIXTURE_KUBECONFIG)}):
        staging = load(stack_config("staging"), "staging")
        prod = load(stack_config("prod"), "prod")
    assert staging.profile == prod.profile == "prod"
    assert staging.cluster.name == "staging" != prod.cluster.name
    s, p = staging.cluster.capi, prod.cluster.capi
    assert s is not None and p is not None
    assert s.control_plane_replicas == p.control_plane_replicas == 3
    assert s.workers_max_per_zone < p.workers_max_per_zone
    assert s.worker_instance_type != p.worker_instance_type
    buckets = {staging.persistence.backups.object_store.bucket}
    assert not buckets & {prod.persistence.backups.object_store.bucket}
    assert staging.edge.domain != prod.edge.domain
    assert len(staging.security.tenants) == 1
