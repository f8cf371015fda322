"""Fixtures for end-to-end tests that drive the real ``tradewind`` CLI."""

from __future__ import annotations

import pytest
from cli_support import Home


@pytest.fixture
def home(tmp_path) -> Home:
    """A fresh TRADEWIND_HOME with a migrated database (modules needing an empty one override it)."""
    h = Home(tmp_path / "home")
    h.ok("db", "migrate")
    return h
