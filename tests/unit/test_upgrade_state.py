"""The live suite's upgrade path starts from the state a stack had before its resources
moved (tests/live/moves.py). The rewrite must put the moved resource, everything under it
and every reference to them back at the old URNs, or the real engine judges a state no
program ever wrote."""

from __future__ import annotations

import json

from tests.live.moves import before_moves, moves
from tools import urn_history

P = "urn:pulumi:dev::k8s-platform::"
CLUSTER = P + "k8splatform:cluster:HAControlPlane::cluster"
OBS = P + "k8splatform:observability:ObservabilityStack::observability"
CHART = (
    P + "k8splatform:cluster:HAControlPlane$kubernetes:helm.sh/v4:Chart::prometheus-operator-crds"
)
CRD = (
    P + "k8splatform:cluster:HAControlPlane$kubernetes:helm.sh/v4:Chart"
    "$kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::prometheuses.monitoring.coreos.com"
)
OLD_CHART = CHART.replace("cluster:HAControlPlane", "observability:ObservabilityStack")
OLD_CRD = CRD.replace("cluster:HAControlPlane", "observability:ObservabilityStack")
KPS = P + "k8splatform:observability:ObservabilityStack$kubernetes:helm.sh/v4:Chart::kps"


def _export() -> dict:
    return {
        "deployment": {
            "resources": [
                {"urn": CLUSTER},
                {"urn": OBS},
                {"urn": CHART, "parent": CLUSTER},
                {"urn": CRD, "parent": CHART, "provider": CLUSTER + "::abc"},
                {"urn": KPS, "parent": OBS, "dependencies": [CHART]},
            ]
        }
    }


def test_the_recorded_history_holds_the_operator_crd_chart_move() -> None:
    now = {r["urn"] for r in _export()["deployment"]["resources"]}
    assert OLD_CHART in urn_history.history()["dev"]
    assert moves("dev", now) == {CHART: OLD_CHART}


def test_the_moved_chart_its_children_and_references_go_back_to_the_old_urns() -> None:
    state, found = before_moves(_export(), "dev")
    assert found == {CHART: OLD_CHART}
    by_urn = {r["urn"]: r for r in state["deployment"]["resources"]}
    assert set(by_urn) == {CLUSTER, OBS, OLD_CHART, OLD_CRD, KPS}
    assert by_urn[OLD_CHART]["parent"] == OBS
    assert by_urn[OLD_CRD]["parent"] == OLD_CHART
    assert by_urn[KPS]["dependencies"] == [OLD_CHART]
    # The provider reference (urn::id) is not under the chart: it stays.
    assert by_urn[OLD_CRD]["provider"] == CLUSTER + "::abc"
    assert CHART not in json.dumps(state)


def test_the_history_holds_urns_as_the_engine_writes_them() -> None:
    # The engine leaves the stack's own type out of its children's chains.
    recorded = [u for urns in urn_history.history().values() for u in urns]
    assert recorded
    assert not [u for u in recorded if "pulumi:pulumi:Stack$" in u]
