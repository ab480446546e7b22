"""Contracts over the full Helm render of every stack (our objects and every chart's)."""
