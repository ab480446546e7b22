"""Tests of the program, its settings and tools under mocks, and small pure functions."""
