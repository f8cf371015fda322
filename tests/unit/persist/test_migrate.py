"""migrate.py behaviour beyond the contract: progress, pool slots, drift, concurrent upgrades."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from tradewind.config import Config
from tradewind.persist import migrate
from tradewind.persist.db import Database
from tradewind.persist.models import Pool


def _fresh_sqlite(tmp_path: Path) -> Database:
    return Database.from_url(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_fresh_upgrade_reports_each_step_and_uses_pool_slots(tmp_path: Path) -> None:
    db = _fresh_sqlite(tmp_path)
    assert migrate.current_revision(db) is None
    steps: list[str] = []
    migrate.upgrade(db, progress=steps.append, default_pool_slots=16)
    # One step per revision, 0001 up to the head (revisions are numbered in order).
    assert [s.split(":")[0] for s in steps] == [
        f"upgrade {n:04d}" for n in range(1, int(migrate.head_revision()) + 1)]
    # A later upgrade with another value does not overwrite what an operator may have set.
    migrate.upgrade(db, default_pool_slots=99)
    with db.session_scope() as s:
        assert s.get(Pool, "default_pool").slots == 16


def test_db_fixture_takes_default_pool_slots_from_config(tw_home: Path) -> None:
    cfg = Config.load(home=tw_home, environ={"TRADEWIND__CORE__DEFAULT_POOL_SLOTS": "7"})
    db = Database.from_config(cfg)
    migrate.upgrade(db, default_pool_slots=cfg.getint("core", "default_pool_slots"))
    with db.session_scope() as s:
        assert s.get(Pool, "default_pool").slots == 7


def test_default_pool_recreated_if_deleted_behind_our_back(db: Database) -> None:
    with db.session_scope() as s:
        s.execute(text("DELETE FROM slot_pool"))
    migrate.upgrade(db)
    with db.session_scope() as s:
        assert s.get(Pool, "default_pool").slots == 128


def test_check_names_an_extra_column(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE variable ADD COLUMN surprise INTEGER"))
    message = migrate.check(db)
    assert message is not None
    assert "remove_column" in message and "surprise" in message


UPGRADER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tradewind.persist.db import Database
    from tradewind.persist.migrate import upgrade
    url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    db = Database.from_url(url)
    ready.touch()
    while not go.exists():
        time.sleep(0.005)
    upgrade(db)
    """
)


def _upgrade_concurrently(url: str, tmp_path: Path) -> None:
    import time

    go = tmp_path / "go"
    ready = [tmp_path / f"ready{n}" for n in range(2)]
    procs = [
        subprocess.Popen([sys.executable, "-c", UPGRADER, url, str(r), str(go)], stderr=subprocess.PIPE, text=True)
        for r in ready
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def test_two_processes_upgrading_a_fresh_sqlite_file(tmp_path: Path) -> None:
    db = _fresh_sqlite(tmp_path)
    _upgrade_concurrently(str(db.engine.url), tmp_path)
    assert migrate.check(db) is None


@pytest.mark.postgres
def test_two_processes_upgrading_a_fresh_postgres_database(pg_server, tmp_path: Path) -> None:
    name = pg_server.new_database_name("concurrent")
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    db = Database.from_url(pg_server.url(name))
    try:
        _upgrade_concurrently(pg_server.url(name), tmp_path)
        assert migrate.check(db) is None
        with db.session_scope() as s:
            assert s.scalar(text("SELECT count(*) FROM slot_pool")) == 1
    finally:
        db.engine.dispose()


def test_head_revision_constant_is_alembics_head() -> None:
    # HEAD_REVISION must be bumped with every new migration script.
    assert migrate.HEAD_REVISION == migrate.alembic_head_revision() == migrate.head_revision()


def test_revision_check_reads_the_version_table_without_importing_alembic(db: Database, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from tradewind.persist.db import Database
        from tradewind.persist.migrate import revision_problem
        problem = revision_problem(Database.from_url(sys.argv[1]))
        print(repr(problem), "alembic" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(db.engine.url)], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["None", "False"]


def test_revision_problem_names_a_missing_or_unknown_revision(tmp_path: Path) -> None:
    db = _fresh_sqlite(tmp_path)
    assert "no schema yet" in migrate.revision_problem(db)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.HEAD_REVISION
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    assert "does not know" in migrate.revision_problem(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    assert migrate.current_revision(db) is None
