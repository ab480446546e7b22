"""Reuse the program's session fixtures (`dev`, `prod`: each stack evaluated under mocks)."""

from tests.conftest import dev, prod, stack

__all__ = ["dev", "prod", "stack"]
