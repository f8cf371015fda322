"""Migrations create exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from tradewind.persist import migrate
from tradewind.persist.db import Database
from tradewind.persist.models import Base, Pool


def test_check_is_none_right_after_upgrade(any_db: Database) -> None:
    # The fixture ran upgrade(): if migrations and models disagree, check() says so.
    assert migrate.check(any_db) is None
    assert migrate.current_revision(any_db) == migrate.head_revision()


def test_upgrade_twice_is_a_noop(any_db: Database) -> None:
    steps: list[str] = []
    migrate.upgrade(any_db, progress=steps.append)
    migrate.upgrade(any_db, progress=steps.append)
    assert steps == []
    assert migrate.check(any_db) is None
    with any_db.session_scope() as s:
        assert s.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_every_model_table_exists(any_db: Database) -> None:
    tables = set(inspect(any_db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_default_pool_exists_after_upgrade(any_db: Database) -> None:
    with any_db.session_scope() as s:
        pool = s.get(Pool, "default_pool")
        assert pool is not None and pool.slots == 128


def test_reset_drops_data_and_reports_progress(any_db: Database) -> None:
    with any_db.session_scope() as s:
        s.add(Pool(pool="extra", slots=3))
    steps: list[str] = []
    migrate.reset(any_db, progress=steps.append, default_pool_slots=7)
    assert len(steps) >= 1 and all(isinstance(x, str) and x for x in steps)
    assert migrate.check(any_db) is None
    with any_db.session_scope() as s:
        assert s.get(Pool, "extra") is None
        assert s.get(Pool, "default_pool").slots == 7


def test_check_reports_missing_schema_and_drift(any_db: Database) -> None:
    with any_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE variable"))
    message = migrate.check(any_db)
    assert message is not None and "variable" in message

    migrate.reset(any_db)
    with any_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    message = migrate.check(any_db)
    assert message is not None and "no schema" in message


def test_check_reports_unknown_revision(any_db: Database) -> None:
    with any_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    message = migrate.check(any_db)
    assert message is not None and "ffff" in message
