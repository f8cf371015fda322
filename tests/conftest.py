"""Shared fixtures: a fresh TRADEWIND_HOME with a migrated SQLite database per test.

PostgreSQL fixtures (a real server started once per test session) live in
``tests/pg.py`` and are re-exported here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewind.config import Config
from tradewind.persist.db import Database


@pytest.fixture
def tw_home(tmp_path: Path) -> Path:
    home = tmp_path / "tw_home"
    (home / "dags").mkdir(parents=True)
    return home


@pytest.fixture
def config(tw_home: Path) -> Config:
    """Settings for a test: own home, no example DAGs, nothing from the real environment."""
    cfg = Config.load(home=tw_home, environ={}, overrides={"core": {"load_examples": "False"}})
    cfg.ensure_home()
    return cfg


@pytest.fixture
def db(config: Config) -> Database:
    """A migrated SQLite database in the test's home."""
    from tradewind.persist.migrate import upgrade

    database = Database.from_config(config)
    upgrade(database)
    yield database
    database.engine.dispose()
