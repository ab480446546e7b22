"""README stays true: the config reference matches the settings module."""

from __future__ import annotations

from pathlib import Path

from tools.config_reference import render_into

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_config_reference_is_generated_from_the_current_settings() -> None:
    text = README.read_text()
    assert render_into(text) == text, "run: python tools/config_reference.py --write"


def test_every_stack_output_is_documented_in_the_readme(dev, prod) -> None:  # type: ignore[no-untyped-def]
    text = README.read_text()
    for name in set(dev.outputs) | set(prod.outputs):
        assert f"| `{name}` |" in text, f"stack output {name} missing from README"


def test_every_pinned_chart_is_listed_with_its_version_in_the_readme() -> None:
    from kernel.catalogue import CHARTS

    text = README.read_text()
    for c in CHARTS.values():
        assert f"| `{c.name}` | {c.version} | {c.repo} |" in text, c.name
