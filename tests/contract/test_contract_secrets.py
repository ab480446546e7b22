"""Contract: the subjects that can read Secrets in every namespace, in the full render
(ours and every chart's) of each stack, are exactly the allowlist, each with its reason
(tests/fixtures/secret_readers.yaml). verify/secret_readers.py says how the access is found:
ClusterRoleBindings to ClusterRoles with get/list/watch on secrets, wildcards and
aggregated ClusterRoles included."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers import FIXTURES
from tools.fullrender import FullRender, Rendered
from verify.secret_readers import cluster_wide_readers, reads_secrets

ALLOWLIST = FIXTURES / "secret_readers.yaml"


def _allowed() -> dict[str, str]:
    return dict(yaml.safe_load(ALLOWLIST.read_text()))


@pytest.fixture(scope="module")
def renders(
    full_dev: FullRender, full_staging: FullRender, full_prod: FullRender
) -> list[FullRender]:
    return [full_dev, full_staging, full_prod]


def test_only_the_allowlisted_subjects_read_secrets_cluster_wide(
    renders: list[FullRender],
) -> None:
    allowed = _allowed()
    seen: set[str] = set()
    for fr in renders:
        readers = cluster_wide_readers(fr)
        assert readers, f"{fr.stack}: no cluster-wide Secret reader found: the walk found nothing"
        unlisted = {s: why for s, why in readers.items() if s not in allowed}
        assert not unlisted, f"{fr.stack}: cluster-wide Secret readers without a reason: {unlisted}"
        seen |= readers.keys()
    stale = set(allowed) - seen
    assert not stale, f"allowlisted but granted in no stack (remove them): {sorted(stale)}"
    assert all(len(why) > 40 for why in allowed.values()), "every entry needs its reason"


def test_loki_alloy_grafana_and_the_cilium_operator_read_no_secrets_anywhere(
    renders: list[FullRender],
) -> None:
    """The issue's findings: Loki's role for a disabled rules sidecar, Alloy's
    remote.kubernetes rule, Grafana's sidecar ClusterRole, Cilium's TLS secret sync."""
    for fr in renders:
        readers = cluster_wide_readers(fr)
        for who in (
            "logging/loki",
            "logging/alloy",
            "monitoring/kps-grafana",
            "kube-system/cilium-operator",
        ):
            assert f"ServiceAccount {who}" not in readers, (fr.stack, readers)
        grafana = [
            o
            for o in fr.workload()
            if o.kind in ("Role", "RoleBinding")
            and o.namespace == "monitoring"
            and "grafana" in o.name
        ]
        roles = [o for o in fr.workload() if o.kind == "Role" and o.namespace == "monitoring"]
        bound = {
            (o.doc.get("roleRef") or {}).get("name") for o in grafana if o.kind == "RoleBinding"
        }
        assert bound, f"{fr.stack}: Grafana's sidecar has no RoleBinding"
        assert not any(reads_secrets(r.doc.get("rules") or []) for r in roles if r.name in bound)


def _role(rules: list[dict[str, object]], name: str = "r", labels: dict[str, str] | None = None):
    return Rendered(
        "test",
        "workload",
        {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": rules},
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]},
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]},
    ],
)
def test_wildcards_count_as_reading_secrets(rule: dict[str, list[str]]) -> None:
    assert reads_secrets([rule])


def test_a_named_secret_or_another_group_is_not_cluster_wide_read() -> None:
    assert not reads_secrets(
        [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["x"], "verbs": ["get"]}]
    )
    assert not reads_secrets([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]}])


def test_an_aggregated_clusterrole_reads_what_its_parts_read() -> None:
    part = _role(
        [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]}], "part", {"agg": "yes"}
    )
    selectors = [{"matchLabels": {"agg": "yes"}}]
    parent = Rendered(
        "test",
        "workload",
        {
            "kind": "ClusterRole",
            "metadata": {"name": "parent"},
            "rules": [],
            "aggregationRule": {"clusterRoleSelectors": selectors},
        },
    )
    binding = Rendered(
        "test",
        "workload",
        {
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "b"},
            "roleRef": {"kind": "ClusterRole", "name": "parent"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}],
        },
    )
    fr = FullRender("t", "v1.34.0", (part, parent, binding), (), ())
    assert cluster_wide_readers(fr) == {"ServiceAccount ns/sa": "b -> parent"}
