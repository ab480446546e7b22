"""Helpers the test modules share (tests/unit, tests/contract, tests/realjobs): where the
recorded inputs are, the problems a stack's settings raise, and limits that a test
enforces and the docs state."""

from __future__ import annotations

from typing import Any

import pytest

from settings import SettingsError, load
from tools.offline import ROOT, Evaluation, apply_overrides, stack_config

FIXTURES = ROOT / "tests" / "fixtures"
"""Inputs the tests read: allowlists, exemptions, recorded API answers, the kubeconfig."""
DATA = ROOT / "tests" / "data"
"""Upstream answers recorded for the tests (versions, server versions, metric exporters)."""

DEV_CPU_MILLIS = 2000
DEV_MEMORY_GIB = 5
"""The dev stack's requests must fit a laptop (docs/guardrails.md states them)."""


def _error(stack: str, overrides: dict[str, Any], **kwargs: Any) -> SettingsError:
    with pytest.raises(SettingsError) as err:
        load(apply_overrides(stack_config(stack), overrides), stack, **kwargs)
    return err.value


def problems(stack: str, overrides: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    """Load `stack` with `overrides`, which must fail: each problem's key -> its message."""
    return {p.key: str(p) for p in _error(stack, overrides, **kwargs).problems}


def problem_keys(stack: str, overrides: dict[str, Any], **kwargs: Any) -> list[str]:
    """The keys of the problems, in order, repeats kept."""
    return [p.key for p in _error(stack, overrides, **kwargs).problems]


def chart_values(ev: Evaluation, name: str) -> dict[str, Any]:
    """The values the program hands the chart release `name`."""
    return ev.chart(name).inputs["values"]
