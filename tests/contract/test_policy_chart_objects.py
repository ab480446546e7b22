"""The policy pack over what the engine hands it: the program's resources and every
Chart v4 child. The live suite shows the real engine passes chart children to the pack
(tests/live: the staging and prod previews run it); here the same objects come from the
full render, so every pull request checks them without the engine.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from policy import adapter
from tests.contract.test_ha_contract import EXCEPTIONS
from tools.fullrender import PROGRAM, FullRender
from tools.offline import Evaluation, Resource

PROD_CONFIG = Path(adapter.CONFIG_DIR) / "prod.json"


def _resource_type(doc: dict) -> str:
    group_version = doc["apiVersion"] if "/" in doc["apiVersion"] else f"core/{doc['apiVersion']}"
    return f"kubernetes:{group_version}:{doc['kind']}"


def chart_children(full: FullRender) -> list[Resource]:
    """Each chart object as the engine registers it: `<release>:[<ns>/]<name>`."""
    out = []
    for o in full.objects:
        if o.source == PROGRAM:
            continue
        name = f"{o.source}:{o.namespace + '/' if o.namespace else ''}{o.name}"
        out.append(
            Resource(
                type=_resource_type(o.doc),
                name=name,
                urn=f"urn:pulumi:{full.stack}::k8s-platform::chart${_resource_type(o.doc)}::{name}",
                parent="",
                custom=True,
                remote=False,
                inputs=o.doc,
                provider="",
                dependencies=[],
                protect=False,
                retain_on_delete=False,
                deleted_with="",
                delete_timeout="",
                ignore_changes=[],
                secret_paths=[],
            )
        )
    assert out, "the render has no chart objects"
    return out


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_the_prod_pack_passes_every_chart_object(
    stack: str,
    prod: Evaluation,
    staging_eval: Evaluation,
    full_prod: FullRender,
    full_staging: FullRender,
) -> None:
    ev, full = (prod, full_prod) if stack == "prod" else (staging_eval, full_staging)
    violations = adapter.analyze(
        ev, adapter.pack_config("prod"), resources=[*ev.resources, *chart_children(full)]
    )
    assert [str(v) for v in adapter.mandatory(violations)] == []


def test_the_pack_allows_exactly_the_singletons_the_ha_contract_explains() -> None:
    config = json.loads(PROD_CONFIG.read_text())
    allowed = config["platform-workloads-ha"]["allowSingleReplica"]
    assert sorted(allowed) == sorted(key.split(" ", 1)[1] for key in EXCEPTIONS)


def test_a_chart_object_at_another_version_than_the_pin_is_refused(
    prod: Evaluation, full_prod: FullRender
) -> None:
    children = chart_children(full_prod)
    labelled = [c for c in children if (c.metadata.get("labels") or {}).get("helm.sh/chart")]
    assert labelled
    moved = copy.deepcopy(labelled[0])
    moved.inputs["metadata"]["labels"]["helm.sh/chart"] = "cilium-1.19.0"
    found = adapter.analyze(
        prod,
        adapter.pack_config("prod"),
        resources=[moved],
        policies=[p for p in adapter.ALL_POLICIES if p.name == "helm-charts-pinned"],
    )
    assert [v.policy for v in found] == ["helm-charts-pinned"]
