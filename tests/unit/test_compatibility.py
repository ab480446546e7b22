"""The compatibility matrix (kernel/compatibility.yaml): it matches the pins, settings
enforce it, minor-matched images follow the cluster, and the docs are generated from it.

Expected ranges come from the upstream statements each row cites (Kyverno 1.19:
v1.33-v1.35; cert-manager 1.21 and Envoy Gateway 1.9: from v1.33; CAPA v2.13.0 via CAPI
v1.13.4: up to v1.36; CCM images: up to v1.35; CAPI v1.14 drops the v1beta1 contract
compatibility in v1.16). Support windows: kubernetes.io/releases/1.33 ... /1.37 (1.34 end
of life 2026-10-27, 1.35 2027-02-28); the suite judges them as of the matrix's review date
(conftest.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import jsonpath_rfc9535
import pytest
import yaml

from components.control_plane import capi_objects
from components.control_plane.capi_objects import version_wait
from kernel import compat
from kernel.catalogue import CHARTS
from settings import SettingsError, load
from tools import compat_docs
from tools.offline import ROOT, Evaluation, apply_overrides, evaluate, stack_config

# The fixture kubeconfig (tests/conftest.py): settings read it at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")

KCP = "kubernetes:controlplane.cluster.x-k8s.io/v1beta2:KubeadmControlPlane"
MATRIX = compat.load()


def refusal(stack: str, version: str) -> str:
    raw = apply_overrides(stack_config(stack), {"cluster.kubernetesVersion": version})
    with pytest.raises(SettingsError) as err:
        load(raw, stack)
    assert [p.key for p in err.value.problems] == ["cluster.kubernetesVersion"]
    return str(err.value)


def accepted(stack: str, version: str, **extra: Any) -> str:
    raw = apply_overrides(stack_config(stack), {"cluster.kubernetesVersion": version, **extra})
    return load(raw, stack).cluster.kubernetes_version


EOL = {"acceptRisks": ["cluster.kubernetesVersion"]}
"""What a prod-profile stack states to run a minor past upstream end of life."""


# ---- the matrix matches the pins ------------------------------------------------------


def test_every_catalogue_chart_has_one_matrix_row_with_its_pinned_version() -> None:
    assert len(CHARTS) >= 15, "walked nothing"
    for name, ref in CHARTS.items():
        rows = [r for r in MATRIX.rows if r.chart == name]
        assert len(rows) == 1, f"{name}: {len(rows)} matrix rows"
        assert rows[0].version == ref.version, f"{name}: matrix {rows[0].version} != {ref.version}"


def test_the_cluster_api_rows_carry_the_pinned_cluster_api_versions() -> None:
    pinned = [r for r in MATRIX.rows if r.pin]
    assert {r.pin for r in pinned} == {"CAPI_VERSION", "CAPA_VERSION"}
    for r in pinned:
        assert r.version == getattr(capi_objects, str(r.pin)), r.name


def test_every_row_names_its_source_and_what_it_is_tied_to() -> None:
    for r in MATRIX.rows:
        assert r.source, r.name
        assert r.chart or r.pin or r.bundled_by in CHARTS, r.name
        assert (r.statement == "none") == r.source.startswith("none"), r.name


def test_rows_without_an_upstream_statement_are_flagged_and_do_not_bound_the_range() -> None:
    flagged = {r.name for r in MATRIX.rows if r.flagged}
    assert {"trivy-operator", "alloy", "cilium"} <= flagged
    assert all(MATRIX.row(n).bound == compat.Span(None, None) for n in flagged)


# ---- settings enforce it --------------------------------------------------------------


def test_v1_33_is_inside_every_component_range_but_past_end_of_life() -> None:
    # Every component states v1.33; upstream ended it on 2026-06-28: dev takes it, prod
    # only with the risk accepted.
    assert accepted("dev", "v1.33.0") == "v1.33.0"
    assert accepted("prod", "v1.33.0", **EOL) == "v1.33.0"
    assert "end of life on 2026-06-28" in refusal("prod", "v1.33.0")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_v1_32_is_refused_naming_the_components_that_start_at_v1_33(stack: str) -> None:
    message = refusal(stack, "v1.32.9")
    assert "cluster.kubernetesVersion: got 'v1.32.9'" in message
    for limit in ("kyverno 3.9.0 (v1.33..v1.35)", "cert-manager v1.21.1", "envoy-gateway v1.9.0"):
        assert limit in message
    assert "gateway-api" not in message  # v1.32 is inside its range


def test_v1_36_is_refused_naming_kyverno_in_dev() -> None:
    message = refusal("dev", "v1.36.1")
    assert "existing mode with the enabled components: v1.33..v1.35" in message
    assert "kyverno 3.9.0" in message and "cert-manager" not in message


def test_v1_36_is_refused_in_prod_by_kyverno_and_the_ccm_images_not_by_capa() -> None:
    assert accepted("prod", "v1.35.2") == "v1.35.2"
    message = refusal("prod", "v1.36.4")
    assert "capi/aws mode with the enabled components: v1.33..v1.35" in message
    assert "kyverno 3.9.0 (v1.33..v1.35)" in message
    assert "aws-cloud-controller-manager 0.0.11 (v1.33..v1.35)" in message
    assert "cluster-api-provider-aws" not in message  # v2.13.0 reaches v1.36


# ---- end of life ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_an_end_of_life_minor_is_refused_in_staging_and_prod_unless_accepted(stack: str) -> None:
    message = refusal(stack, "v1.34.11")
    assert "v1.34 reached upstream end of life on 2026-10-27" in message
    assert "supported by upstream and the enabled components: v1.35" in message
    assert "add 'cluster.kubernetesVersion' to acceptRisks" in message
    raw = apply_overrides(stack_config(stack), {"cluster.kubernetesVersion": "v1.34.11", **EOL})
    cfg = load(raw, stack)
    assert cfg.cluster.kubernetes_version == "v1.34.11"
    assert any("end of life on 2026-10-27" in w for w in cfg.warnings)  # printed at preview


def test_dev_deploys_an_end_of_life_minor_with_a_warning() -> None:
    raw = apply_overrides(stack_config("dev"), {"cluster.kubernetesVersion": "v1.34.11"})
    cfg = load(raw, "dev")
    assert [w for w in cfg.warnings if "end of life" in w] == [
        "cluster.kubernetesVersion v1.34.11: v1.34 reached upstream end of life on 2026-10-27 "
        "(kubernetes.io/releases), so it gets no more security fixes; supported by upstream "
        "and the enabled components: v1.35 (docs/compatibility.md)"
    ]
    assert not load(stack_config("dev"), "dev").warnings


def test_the_same_default_is_refused_in_prod_once_its_end_of_life_has_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eol = MATRIX.support[compat.minor_of(MATRIX.default_version)].eol
    monkeypatch.setattr(compat, "today", lambda: eol + timedelta(days=1))
    assert f"end of life on {eol}" in refusal("prod", MATRIX.default_version)
    monkeypatch.setattr(compat, "today", lambda: eol)
    assert accepted("prod", MATRIX.default_version) == MATRIX.default_version


def test_support_windows_are_recorded_per_minor_in_date_order() -> None:
    assert sorted(MATRIX.support) == list(range(33, 38)), "walked nothing"
    assert "kubernetes.io/releases/1.37" in MATRIX.support_source
    assert MATRIX.support[34].eol == date(2026, 10, 27)
    assert MATRIX.support[35].maintenance == date(2026, 12, 28)
    assert MATRIX.support[35].eol == date(2027, 2, 28)
    for s in MATRIX.support.values():
        assert s.released < s.maintenance < s.eol, s
    assert MATRIX.past_eol(32, MATRIX.reviewed)  # older than every row: out of support
    assert MATRIX.past_eol(38, MATRIX.reviewed)  # no window recorded: not called supported


def test_a_disabled_component_does_not_limit_the_range() -> None:
    assert "envoy-gateway" in refusal("dev", "v1.32.0")
    raw = apply_overrides(
        stack_config("dev"), {"edge.enabled": False, "cluster.kubernetesVersion": "v1.32.0"}
    )
    with pytest.raises(SettingsError) as err:
        load(raw, "dev")
    assert "envoy-gateway" not in str(err.value) and "kyverno" in str(err.value)


ALL = {"capi", "aws", "edge", "backups", "snapshots", "ebs", "trivy"}


def test_the_default_is_within_upstream_support_as_of_the_matrix_review_date() -> None:
    minor = compat.minor_of(MATRIX.default_version)
    assert MATRIX.past_eol(minor, MATRIX.reviewed) is None
    assert MATRIX.support[minor].eol > MATRIX.reviewed


def test_the_default_is_the_newest_supported_minor_of_every_mode_and_every_stack_runs_it() -> None:
    both = set(MATRIX.supported_minors(set(), MATRIX.reviewed)) & set(
        MATRIX.supported_minors(ALL, MATRIX.reviewed)
    )
    assert compat.minor_of(MATRIX.default_version) == max(both)
    assert accepted("dev", MATRIX.default_version) == MATRIX.default_version
    for stack in ("staging", "prod"):
        stack_file = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        assert stack_file["config"]["k8s-platform:cluster"]["kubernetesVersion"] == (
            MATRIX.default_version
        ), stack
        assert "k8s-platform:acceptRisks" not in stack_file["config"], stack  # nothing waived


@pytest.mark.parametrize(("capi", "refused"), [("v1.15.9", False), ("v1.16.0", True)])
def test_a_capi_core_at_the_v1beta1_cutoff_is_refused(capi: str, refused: bool) -> None:
    assert (compat.contract_problem(capi) is not None) == refused
    assert compat.contract_problem("v2.0.0") is not None


def test_the_program_refuses_a_bumped_capi_version_while_capa_declares_v1beta1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(capi_objects, "CAPI_VERSION", "v1.16.0")
    with pytest.raises(SettingsError, match=r"cluster\.capi\.infrastructure: got 'aws'.*v1beta1"):
        load(stack_config("prod"), "prod")


# ---- minor-matched images -------------------------------------------------------------


def _tags(ev: Evaluation) -> tuple[str, str]:
    ccm = ev.chart("aws-cloud-controller-manager").inputs["values"]["image"]["tag"]
    ca = ev.chart(f"{ev.stack}-cluster-autoscaler").inputs["values"]["image"]["tag"]
    return ccm, ca


@pytest.fixture(scope="module")
def prod_v133() -> Evaluation:
    return evaluate("prod", {"cluster.kubernetesVersion": "v1.33.9", **EOL})


def test_the_ccm_and_autoscaler_images_follow_the_cluster_minor(
    prod: Evaluation, prod_v133: Evaluation
) -> None:
    # Upstream: one CCM / autoscaler release per Kubernetes minor; the charts' own default
    # (values.yaml image.tag v1.35.0) must not leak into a v1.33 or v1.34 cluster.
    for ev, minor in ((prod, compat.minor_of(MATRIX.default_version)), (prod_v133, 33)):
        ccm, ca = _tags(ev)
        assert ccm.startswith(f"v1.{minor}.") and "@sha256:" in ccm, ccm
        assert ca.startswith(f"v1.{minor}."), ca


# ---- the KubeadmControlPlane wait -----------------------------------------------------


def _kcp(versions: list[dict[str, Any]], replicas: int) -> dict[str, Any]:
    return {"status": {"replicas": replicas, "versions": versions, "version": "v1.34.11"}}


def _satisfied(wait: str, obj: dict[str, Any]) -> bool:
    """pulumi-kubernetes provider/pkg/jsonpath/jsonpath.go: strip `jsonpath=`, split the
    value off, parse the RFC 9535 path, compare only the FIRST selected value."""
    path, value = wait.removeprefix("jsonpath=").rsplit("}=", 1)
    found = jsonpath_rfc9535.find("$" + path.removeprefix("{"), obj).values()
    return bool(found) and str(found[0]) == value


def test_the_kcp_wait_reads_status_versions_and_holds_only_when_every_machine_is_upgraded(
    prod: Evaluation,
) -> None:
    waits = prod.one(KCP).metadata["annotations"]["pulumi.com/waitFor"]
    target = prod.outputs["kubernetesVersion"]
    assert version_wait(target) in waits and ".status.version}" not in waits
    wait = version_wait(target)
    rollout = [{"version": target, "replicas": 2}, {"version": "v1.33.9", "replicas": 1}]
    assert not _satisfied(wait, _kcp(rollout, 3))  # the target is listed first, 1 old left
    assert not _satisfied(wait, _kcp([{"version": "v1.33.9", "replicas": 3}], 3))
    assert _satisfied(wait, _kcp([{"version": target, "replicas": 3}], 3))


# ---- kind and the management cluster -------------------------------------------------


def test_the_kind_nodes_run_the_default_version_pinned_by_digest() -> None:
    doc = yaml.safe_load((ROOT / "kind" / "dev-cluster.yaml").read_text())
    image = MATRIX.kind_images[compat.minor_of(MATRIX.default_version)]
    assert image.startswith(f"kindest/node:{MATRIX.default_version}@sha256:")
    assert len(doc["nodes"]) >= 4
    assert all(node.get("image") == image for node in doc["nodes"])


def test_the_management_range_cli_prints_what_capi_and_capa_both_support(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert compat.main(["management-range"]) == 0
    assert capsys.readouterr().out.strip() == "1.33-1.36"


# ---- generated docs ------------------------------------------------------------------


def test_docs_compatibility_md_is_generated_from_the_matrix() -> None:
    text = compat_docs.DOC.read_text()
    assert compat_docs.has_markers(text, compat_docs.MATRIX_MARKERS)
    body = compat_docs.matrix_block(MATRIX)
    assert compat_docs.sync(text, compat_docs.MATRIX_MARKERS, body) == text, (
        "run: python tools/compat_docs.py --write"
    )
    assert all(f"| {r.name} | {r.version} |" in body for r in MATRIX.rows)


def test_the_readme_supported_versions_block_is_generated_when_present() -> None:
    body = compat_docs.readme_block(MATRIX)
    assert "trivy-operator 0.34.0" in body and "alloy 1.11.1" in body  # flagged rows
    text = compat_docs.README.read_text()
    if not compat_docs.has_markers(text, compat_docs.README_MARKERS):
        pytest.skip("README has no supported-versions markers yet")
    assert compat_docs.sync(text, compat_docs.README_MARKERS, body) == text, (
        "run: python tools/compat_docs.py --write"
    )


def test_the_management_runbook_creates_kind_with_the_pinned_supported_node_image() -> None:
    runbook = (ROOT / "docs" / "runbooks" / "bootstrap-management-cluster.md").read_text()
    image = MATRIX.management_kind_image(MATRIX.reviewed)
    minor = compat.minor_of(image.split(":")[1].split("@")[0])
    assert minor in MATRIX.management_range() and MATRIX.past_eol(minor, MATRIX.reviewed) is None
    commands = " ".join(runbook.split("\\\n")).splitlines()
    creates = [c for c in commands if "kind create cluster" in c]
    assert creates, "walked nothing"
    assert all(f"--image {image}" in c for c in creates), creates


# ---- patch releases with known fixes ---------------------------------------------------


def _semver(tag: str) -> tuple[int, ...]:
    return tuple(int(x) for x in tag.lstrip("v").split(".")[:3])


def test_cluster_api_and_the_velero_aws_plugin_are_at_least_the_fixed_releases() -> None:
    from components.persistence.names import VELERO_PLUGIN_AWS

    # CAPI v1.14.1: Kubernetes v1.37 and no control-plane rollout after an upgrade from
    # v1.11. Plugin v1.14.3: checksumAlgorithm "" holds (velero#9804, velero#9951).
    assert _semver(capi_objects.CAPI_VERSION) >= (1, 14, 1)
    repo, _, tag = VELERO_PLUGIN_AWS.partition("@")[0].rpartition(":")
    assert repo == "velero/velero-plugin-for-aws"
    assert _semver(tag) >= (1, 14, 3)
    assert _semver(tag)[:2] == (1, 14)  # the plugin line for Velero 1.18 (chart app 1.18.1)
