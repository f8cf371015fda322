"""Shared fixtures: a fresh TRADEWIND_HOME with a migrated SQLite database per test.

Fixtures for everyone:

- ``tw_home`` — an empty TRADEWIND_HOME (with ``dags/``) in the test's tmp dir.
- ``config`` — a :class:`Config` for that home (no example DAGs, no real environment).
- ``db`` — a migrated SQLite :class:`Database` in that home (``default_pool`` exists).
- ``any_db`` — parametrised ``sqlite`` / ``postgres``: a migrated :class:`Database` on
  each backend. Use it for storage contract tests that must hold on both::

      def test_something(any_db):
          with any_db.session_scope() as session:
              ...

  Test ids end in ``[sqlite]`` and ``[postgres]``; the postgres case carries the
  ``postgres`` marker (deselect with ``-m "not postgres"``) and is skipped when
  PostgreSQL is not installed (failed instead when ``CI=true``).
- ``pg_db`` — a migrated PostgreSQL :class:`Database`, fresh per test (dropped after).
- ``pg_url`` — (session) URL of an empty database on the session's PostgreSQL server.
- ``pg_server`` — (session) the :class:`tests.pg.PgServer` itself (``.url(dbname)``,
  ``.execute_autocommit(sql)``, ``.new_database_name()``).

The PostgreSQL server is real: started once per test session (once per xdist
worker) by ``tests/pg.py``; install it with ``scripts/install-services.sh``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tradewind.config import Config
from tradewind.persist.db import Database

# tests/pg.py is imported as top-level ``pg`` whatever pytest's import mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
from pg import pg_db, pg_server, pg_template, pg_url  # noqa: E402,F401
from mariadb import mariadb_server  # noqa: E402,F401
from s3server import s3, s3_server  # noqa: E402,F401


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
    upgrade(database, default_pool_slots=config.getint("core", "default_pool_slots"))
    yield database
    database.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest) -> Database:
    """A migrated database on each backend (ids ``sqlite`` and ``postgres``)."""
    if request.param == "sqlite":
        return request.getfixturevalue("db")
    return request.getfixturevalue("pg_db")
