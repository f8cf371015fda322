"""Fixtures for end-to-end tests that drive the real ``tradewind`` CLI and real processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import Api, make_api
from cli_support import Home


@pytest.fixture
def home(tmp_path) -> Home:
    """A fresh TRADEWIND_HOME with a migrated database (modules needing an empty one override it)."""
    h = Home(tmp_path / "home")
    h.ok("db", "migrate")
    return h


@pytest.fixture
def probe(tmp_path: Path, monkeypatch) -> Path:
    """A folder the test's tasks write what they saw into, named to them by ``$PROBE_DIR``."""
    folder = tmp_path / "probe"
    folder.mkdir()
    monkeypatch.setenv("PROBE_DIR", str(folder))
    return folder


@pytest.fixture
def api(config, db) -> Api:
    """The real app on the test's database, with a user and bearer token per role (a module may
    define its own ``api`` when it needs another set-up)."""
    return make_api(config, db)
