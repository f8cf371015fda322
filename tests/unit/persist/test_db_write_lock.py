"""SQLite write transactions queue on a machine-wide file lock (``<db>-txlock``): a writer
waits for the current one, gives up after the busy timeout with a clear error, and the
lock of a process that dies is dropped."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tradewind.persist.db import Database


@pytest.fixture
def lockdb(tmp_path: Path) -> Database:
    db = Database.from_url(f"sqlite:///{tmp_path / 'lock.db'}", busy_timeout=0.3)
    with db.session_scope() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    return db


def values(db: Database) -> list[int]:
    with db.session_scope() as s:
        return [row[0] for row in s.execute(text("SELECT x FROM t ORDER BY rowid"))]


def test_second_writer_waits_for_the_first(lockdb: Database) -> None:
    patient = Database.from_url(str(lockdb.engine.url), busy_timeout=30)
    first = lockdb.engine.connect()
    first.begin()
    first.execute(text("INSERT INTO t VALUES (1)"))
    started = threading.Event()

    def second() -> None:
        started.set()
        with patient.session_scope() as s:
            s.execute(text("INSERT INTO t VALUES (2)"))

    thread = threading.Thread(target=second)
    thread.start()
    started.wait()
    thread.join(0.2)
    assert thread.is_alive()  # still waiting for the lock
    first.commit()
    first.close()
    thread.join(30)
    assert not thread.is_alive()
    assert values(lockdb) == [1, 2]


def test_writer_gives_up_after_the_busy_timeout(lockdb: Database) -> None:
    holder = lockdb.engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(OperationalError, match="database is locked"):
        with lockdb.session_scope() as s:
            s.execute(text("INSERT INTO t VALUES (2)"))
    holder.rollback()  # rolling back releases the lock too
    holder.close()
    with lockdb.session_scope() as s:
        s.execute(text("INSERT INTO t VALUES (3)"))
    assert values(lockdb) == [3]


def test_lock_of_a_killed_process_is_released(lockdb: Database) -> None:
    code = (
        "import sys, time; from sqlalchemy import text; from tradewind.persist.db import Database; "
        "db = Database.from_url(sys.argv[1]); c = db.engine.connect(); c.begin(); "
        "c.execute(text('INSERT INTO t VALUES (9)')); print('holding', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(lockdb.engine.url)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        with pytest.raises(OperationalError) as refused:
            with lockdb.session_scope() as s:
                s.execute(text("INSERT INTO t VALUES (1)"))
        # The error names who holds the lock (from /proc/locks), so a stuck holder can be found.
        assert f"pid {proc.pid} (python" in str(refused.value)
    finally:
        proc.kill()
        proc.wait(30)
    with lockdb.session_scope() as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
    assert values(lockdb) == [2]  # the killed writer's row was never committed


def test_in_memory_database_needs_no_lock_file(tmp_path: Path) -> None:
    db = Database.from_url("sqlite://")
    with db.session_scope() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1


def test_read_scope_neither_takes_nor_waits_for_the_write_lock(lockdb: Database) -> None:
    holder = lockdb.engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t VALUES (1)"))
    try:
        with lockdb.read_scope() as s:  # would time out (0.3 s) if it queued behind the writer
            assert s.execute(text("SELECT count(*) FROM t")).scalar() == 0  # not committed yet
    finally:
        holder.commit()
        holder.close()
    with lockdb.read_scope() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 1
