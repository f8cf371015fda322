"""Column types, constraints and SQLite concurrency that every layer relies on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError

from tradewind.persist.db import Database
from tradewind.persist.models import DagModel, DagRun, Job, TaskInstance, Variable

T0 = datetime(2024, 3, 10, 1, 30, 15, 123456, tzinfo=timezone.utc)


def _dag(session, dag_id: str = "d") -> None:
    session.add(DagModel(dag_id=dag_id, fileloc=f"/dags/{dag_id}.py"))
    session.flush()


def _run(dag_id: str = "d", run_id: str = "r1") -> DagRun:
    return DagRun(dag_id=dag_id, run_id=run_id, run_type="manual", state="queued", run_after=T0)


def test_utc_datetime_round_trip(any_db: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 3, 10, 3, 30, 15, 123456, tzinfo=plus_two)  # same instant as T0
    with any_db.session_scope() as s:
        s.add(Job(job_type="a", state="running", start_date=local, latest_heartbeat=T0))
    with any_db.session_scope() as s:
        job = s.scalars(select(Job)).one()
        assert job.start_date == T0 and job.latest_heartbeat == T0
        assert job.start_date.utcoffset() == timedelta(0) and job.start_date.tzinfo is timezone.utc
        assert job.start_date.microsecond == 123456
        assert job.end_date is None
        # Comparisons in SQL work on UTC too.
        assert s.scalar(select(func.count()).select_from(Job).where(Job.start_date >= T0)) == 1


def test_naive_datetime_is_rejected(any_db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        with any_db.session_scope() as s:
            s.add(Job(job_type="a", state="running", start_date=datetime(2024, 1, 1), latest_heartbeat=T0))


def test_duplicate_run_id_is_an_integrity_error(any_db: Database) -> None:
    with any_db.session_scope() as s:
        _dag(s)
        s.add(_run())
    with pytest.raises(IntegrityError):
        with any_db.session_scope() as s:
            s.add(_run())
    with any_db.session_scope() as s:
        _dag(s, "other")
        s.add(_run("other", "r1"))  # same run_id in another DAG is fine
    with any_db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(DagRun)) == 2


def test_duplicate_task_instance_is_an_integrity_error(any_db: Database) -> None:
    ti = dict(dag_id="d", run_id="r", task_id="t")
    with any_db.session_scope() as s:
        s.add_all([TaskInstance(**ti, map_index=-1), TaskInstance(**ti, map_index=0)])
    with pytest.raises(IntegrityError):
        with any_db.session_scope() as s:
            s.add(TaskInstance(**ti, map_index=0))


def test_run_needs_its_dag(any_db: Database) -> None:
    with pytest.raises(IntegrityError):
        with any_db.session_scope() as s:
            s.add(_run("no_such_dag"))


def test_sqlite_runs_in_wal_mode(db: Database) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _bump(database: Database, key: str) -> None:
    # Read-modify-write: the pattern that fails with "database is locked" when a
    # read transaction tries to upgrade to a write lock.
    with database.session_scope() as s:
        row = s.get(Variable, key)
        row.val = str(int(row.val) + 1)


def test_concurrent_writer_threads_on_sqlite(db: Database) -> None:
    with db.session_scope() as s:
        s.add(Variable(key="counter", val="0"))
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(50):
                _bump(db, "counter")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_scope() as s:
        assert s.get(Variable, "counter").val == "100"


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tradewind.persist.db import Database
    from tradewind.persist.models import Variable
    url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    db = Database.from_url(url, busy_timeout=30)
    ready.touch()
    while not go.exists():
        time.sleep(0.005)
    for _ in range(50):
        with db.session_scope() as s:
            row = s.get(Variable, "counter")
            row.val = str(int(row.val) + 1)
    """
)


def test_concurrent_writer_processes_on_sqlite(db: Database, tmp_path: Path) -> None:
    with db.session_scope() as s:
        s.add(Variable(key="counter", val="0"))
    go = tmp_path / "go"
    url = str(db.engine.url)
    ready = [tmp_path / f"ready{n}" for n in range(2)]
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(r), str(go)], stderr=subprocess.PIPE, text=True)
        for r in ready
    ]
    # Release both writers at once so their transactions overlap.
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    with db.session_scope() as s:
        assert s.get(Variable, "counter").val == "100"

