"""The full render holds what `pulumi up` applies: every chart's objects beside our own."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.catalogue import CHARTS
from tools.chart_sources import GAPS, chart_dir
from tools.fullrender import PROGRAM, FullRender
from tools.helm_render import ChartRenderError
from tools.offline import Evaluation


def test_every_chart_the_stack_installs_renders_objects(
    full: FullRender, dev: Evaluation, prod: Evaluation
) -> None:
    ev = dev if full.stack == "dev" else prod
    releases = {c.name for c in ev.charts()}
    assert releases, "the stack installs no chart"
    for release in releases:
        assert full.from_chart(release), release
    assert any(o.source == PROGRAM for o in full.objects)


def test_chart_crds_are_installed_unless_the_program_skips_them(full_prod: FullRender) -> None:
    # velero's chart ships its CRDs in crds/ (helm.v4.Chart installs them unless skipCrds).
    crds = {o.name for o in full_prod.from_chart("velero") if o.kind == "CustomResourceDefinition"}
    assert "schedules.velero.io" in crds


def test_helm_hooks_are_kept_apart_because_pulumi_never_applies_them(full: FullRender) -> None:
    applied = [
        o for o in full.objects if "helm.sh/hook" in (o.doc["metadata"].get("annotations") or {})
    ]
    assert applied == []


def test_only_the_known_source_gaps_are_left_out(full: FullRender) -> None:
    assert set(full.gaps) <= set(GAPS)


def test_a_chart_at_another_version_than_the_catalogue_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = CHARTS["velero"]
    (tmp_path / ref.name).mkdir()
    (tmp_path / ref.name / "Chart.yaml").write_text("name: velero\nversion: 0.0.1\n")
    monkeypatch.setenv("CHARTS_DIR", str(tmp_path))
    with pytest.raises(ChartRenderError, match=r"holds version 0\.0\.1"):
        chart_dir(ref)
