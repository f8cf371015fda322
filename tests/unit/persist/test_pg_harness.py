"""The test harness's PostgreSQL server is real, isolated per test, and fast to reset."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tradewind.persist.db import Database
from tradewind.persist.models import Variable

try:  # tests/ is on sys.path (see tests/conftest.py)
    from pg import PgServer, find_pg_bindir
except ImportError:  # pragma: no cover
    from tests.pg import PgServer, find_pg_bindir

pytestmark = pytest.mark.postgres


def test_server_runs_postgres_on_localhost(pg_server: PgServer, pg_url: str) -> None:
    db = Database.from_url(pg_url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SHOW fsync")).scalar() == "off"
            assert conn.execute(text("SELECT version()")).scalar().startswith("PostgreSQL")
            # pg_url is empty: no schema.
            assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    finally:
        db.engine.dispose()
    assert pg_server.bindir == find_pg_bindir()
    assert str(pg_server.port) in pg_url


def test_pg_db_is_fresh_each_time_part_one(pg_db: Database) -> None:
    with pg_db.session_scope() as s:
        assert s.get(Variable, "leak") is None
        s.add(Variable(key="leak", val="x"))


def test_pg_db_is_fresh_each_time_part_two(pg_db: Database) -> None:
    with pg_db.session_scope() as s:
        assert s.get(Variable, "leak") is None
        s.add(Variable(key="leak", val="x"))


def test_server_files_are_not_in_pytest_tmp(pg_server: PgServer) -> None:
    # The postgres user must be able to reach the data dir when we run as root.
    assert (pg_server.datadir / "PG_VERSION").is_file()
    assert "pytest-of" not in str(pg_server.root)
