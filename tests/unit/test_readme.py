"""The README and docs stay true: generated parts match the code, the tables are complete,
and the docs speak of the product, not of where they were written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from settings import SettingsError, load
from tools.config_reference import DOC, render_into
from tools.offline import (
    FIXTURE_KUBECONFIG,
    ROOT,
    Evaluation,
    apply_overrides,
    environment,
    stack_config,
)

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
FORBIDDEN = (
    "not run here",
    "in this environment",
    "verified here",
    "could not pull",
    "/work/",
    "/tmp/",
)


def test_the_config_reference_is_generated_from_the_current_settings() -> None:
    text = DOC.read_text()
    assert render_into(text) == text, "run: python tools/config_reference.py --write"


def test_every_stack_output_is_documented_in_the_readme(dev: Evaluation, prod: Evaluation) -> None:
    text = README.read_text()
    names = set(dev.outputs) | set(prod.outputs)
    assert len(names) > 20
    for name in names:
        assert f"| `{name}` |" in text, f"stack output {name} missing from README"


def test_every_pinned_chart_is_listed_with_its_version_in_the_readme() -> None:
    from kernel.catalogue import CHARTS

    text = README.read_text()
    assert CHARTS
    for c in CHARTS.values():
        assert f"| `{c.name}` | {c.version} | {c.repo} |" in text, c.name


def test_every_runtime_and_test_dependency_has_a_line_in_the_readme() -> None:
    text = README.read_text()
    names = []
    for req in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / req).read_text().splitlines():
            name = re.split(r"[=<>\[ ;]", line.strip(), maxsplit=1)[0]
            if name and not name.startswith(("#", "-")):
                names.append(name)
    assert names
    for name in names:
        assert f"`{name}`" in text, f"{name} has no line in the README's Dependencies"


def test_the_readme_error_example_is_what_the_settings_code_prints() -> None:
    raw = apply_overrides(
        stack_config("prod"),
        {"observability.metricsServer.replicas": 1, "persistence.storageClas": "x"},
    )
    with environment({"KUBECONFIG": str(FIXTURE_KUBECONFIG)}), pytest.raises(SettingsError) as err:
        load(raw, "prod", foreign={"k8s-platfrom:profile": "prod"})
    block = README.read_text().split("<!-- error-example:begin -->")[1]
    block = block.split("<!-- error-example:end -->")[0]
    shown = block.strip().removeprefix("```text\n").removesuffix("\n```")
    assert shown == f"error: {err.value}"


def test_the_readme_laptop_budget_is_the_dev_footprint(dev: Evaluation) -> None:
    fp = dev.outputs["footprint"]
    line = (
        f"footprint (dev, DaemonSets x {fp['nodesAssumed']} nodes): "
        f"requests cpu={fp['cpu']} memory={fp['memory']}"
    )
    assert line in README.read_text()


def test_the_readme_is_a_five_minute_read_with_its_sections() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 220
    for section in (
        "## Prerequisites",
        "## Two commands",
        "## Troubleshooting",
        "## State backends",
        "## Status",
        "## Supported versions",
        "## Cost of prod",
        "## Dependencies",
        "## Chart catalogue",
        "## Stack outputs",
    ):
        assert section in text, section
    assert "<!-- supported-versions:begin -->" in text
    assert "<!-- supported-versions:end -->" in text


def test_every_doc_link_points_at_a_file_that_exists() -> None:
    checked = 0
    for doc in [README, *DOCS]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} -> {target}"
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(Path(p).relative_to(ROOT)))
def test_the_docs_speak_of_the_product_only(path: Path) -> None:
    text = path.read_text().lower()
    found = [phrase for phrase in FORBIDDEN if phrase in text]
    assert not found, f"{path.relative_to(ROOT)} mentions {found}"


def test_no_doc_is_a_moved_stub() -> None:
    assert DOCS
    for path in DOCS:
        assert "moved to the readme" not in path.read_text().lower(), path
