"""``db clean``'s query layer (persist/cleanup.py) on SQLite and PostgreSQL: what goes, what stays,
what the archives hold."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import MetaData, Table, func, select

from tradewind.persist import cleanup
from tradewind.persist.db import Database
from tradewind.persist.models import (
    DagCode,
    DagModel,
    DagRun,
    DagRunNote,
    DagVersion,
    ImportError_,
    Job,
    ParsedFile,
    TaskInstance,
    TaskInstanceNote,
    TaskInstanceTry,
    Trigger,
    XCom,
)

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CUT = T0 + timedelta(days=30)
NOW = T0 + timedelta(days=60)


def _run(s, dag_id: str, run_id: str, day: int, *, run_type: str = "scheduled", state: str = "success",
         version_id: int | None = None) -> DagRun:
    when = T0 + timedelta(days=day)
    run = DagRun(dag_id=dag_id, run_id=run_id, run_type=run_type, state=state, logical_date=when,
                 run_after=when, start_date=when, end_date=when + timedelta(minutes=5), conf={},
                 dag_version_id=version_id)
    s.add(run)
    for task_id in ("a", "b"):
        s.add(TaskInstance(dag_id=dag_id, run_id=run_id, task_id=task_id, state="success", try_number=1,
                           start_date=when, end_date=when))
        s.add(TaskInstanceTry(dag_id=dag_id, run_id=run_id, task_id=task_id, try_number=1, state="success",
                              start_date=when, end_date=when, rendered_fields={"cmd": f"echo {run_id}"}))
        s.add(XCom(dag_id=dag_id, run_id=run_id, task_id=task_id, key="return_value", value='"x"', timestamp=when))
    s.flush()
    return run


def _history(db: Database) -> None:
    """DAG ``d``: scheduled runs on days 1, 2, 3 (all before the cut) and a manual run on day 4;
    DAG ``e``: scheduled runs on day 1 and day 40 (after the cut), one still running on day 5."""
    with db.session_scope() as s:
        for dag_id in ("d", "e"):
            s.add(DagModel(dag_id=dag_id, fileloc=f"/dags/{dag_id}.py", tags=[]))
        s.flush()
        old_v = DagVersion(dag_id="d", version_number=1, snapshot_hash="h1", snapshot={}, fileloc="/dags/d.py",
                           created_at=T0, source_hash="c1")
        unused_v = DagVersion(dag_id="d", version_number=2, snapshot_hash="h2", snapshot={},
                              fileloc="/dags/d.py", created_at=T0 + timedelta(days=1), source_hash="c2")
        new_v = DagVersion(dag_id="d", version_number=3, snapshot_hash="h3", snapshot={}, fileloc="/dags/d.py",
                           created_at=T0 + timedelta(days=2), source_hash="c3")
        s.add_all([old_v, unused_v, new_v])
        for h in ("c1", "c2", "c3", "gone"):
            s.add(DagCode(source_hash=h, fileloc="/dags/d.py", source_code="#", created_at=T0))
        s.flush()
        first = _run(s, "d", "scheduled__1", 1, version_id=old_v.id)
        _run(s, "d", "scheduled__2", 2, version_id=new_v.id)
        _run(s, "d", "scheduled__3", 3, version_id=new_v.id)
        _run(s, "d", "manual__4", 4, run_type="manual", version_id=new_v.id)
        _run(s, "e", "scheduled__1", 1)
        _run(s, "e", "scheduled__5", 5, state="running")
        _run(s, "e", "scheduled__40", 40)
        s.add(DagRunNote(dag_run_id=first.id, content="first", created_at=T0, updated_at=T0))
        ti_id = s.scalar(select(TaskInstance.id).where(TaskInstance.run_id == "scheduled__1",
                                                       TaskInstance.dag_id == "d", TaskInstance.task_id == "a"))
        s.add(TaskInstanceNote(ti_id=ti_id, content="note", created_at=T0, updated_at=T0))
        s.add_all([Job(job_type="scheduler", state="success", start_date=T0, latest_heartbeat=T0),
                   Job(job_type="scheduler", state="running", start_date=T0, latest_heartbeat=T0)])
        s.add(ParsedFile(fileloc="/dags/broken.py", content_hash="x", mtime=0.0, dag_ids=[], last_parsed_at=T0))
        s.add_all([ImportError_(filename="/dags/broken.py", message="still broken", timestamp=T0),
                   ImportError_(filename="/dags/deleted.py", message="stale", timestamp=T0)])
        s.add(Trigger(classpath="x.Trigger", kwargs={}, created_date=T0))


def _rows(db: Database, model, *cols):
    with db.session_scope() as s:
        return sorted(tuple(r) for r in s.execute(select(*(getattr(model, c) for c in cols))).all())


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Table(table, MetaData(), autoload_with=conn)))


def test_dry_run_counts_and_changes_nothing(any_db: Database) -> None:
    _history(any_db)
    before = {t: _count(any_db, t) for t in ("dag_run", "task_instance", "xcom", "job", "dag_version")}
    counts = cleanup.count_rows(any_db.engine, cleanup.resolve_tables(None), CUT)
    # d: runs 1, 2 and the manual 4 go (3 is the latest scheduled run);
    # e: run 1 goes (5 is still running, 40 is newer than the cut).
    assert counts["dag_run"] == 4
    assert counts["job"] == 1 and counts["import_error"] == 1 and counts["trigger"] == 1
    assert counts["dag_code"] == 1  # "gone": no version points at it
    assert {t: _count(any_db, t) for t in before} == before
    assert cleanup.list_archives(any_db.engine) == []


def test_clean_keeps_latest_scheduled_run_and_archives_what_it_removes(any_db: Database) -> None:
    _history(any_db)
    batches: list[tuple[str, int]] = []
    result = cleanup.clean(any_db.engine, cleanup.resolve_tables(None), CUT, now=NOW, batch_size=1,
                           on_batch=lambda table, n: batches.append((table, n)))

    assert _rows(any_db, DagRun, "dag_id", "run_id") == [
        ("d", "scheduled__3"), ("e", "scheduled__40"), ("e", "scheduled__5")]
    kept_runs = {("d", "scheduled__3"), ("e", "scheduled__40"), ("e", "scheduled__5")}
    # No task instance, try or XCom outlives its run; the kept runs keep all of theirs.
    for model in (TaskInstance, TaskInstanceTry, XCom):
        rows = _rows(any_db, model, "dag_id", "run_id", "task_id")
        assert {(d, r) for d, r, _ in rows} == kept_runs
        assert len(rows) == 6
    assert _count(any_db, "dag_run_note") == 0 and _count(any_db, "task_instance_note") == 0
    assert _rows(any_db, Job, "state") == [("running",)]
    assert _rows(any_db, ImportError_, "filename") == [("/dags/broken.py",)]
    assert _count(any_db, "trigger") == 0
    # Version 1 was used only by a removed run; 2 by none; 3 is the newest. Code follows versions.
    assert _rows(any_db, DagVersion, "version_number") == [(3,)]
    assert _rows(any_db, DagCode, "source_hash") == [("c3",)]

    stamp = "20240301000000"
    assert result.deleted["dag_run"] == 4 and result.deleted["task_instance"] == 8
    assert result.deleted["xcom"] == 8 and result.deleted["task_instance_try"] == 8
    assert ("dag_run", 1) in batches and len([b for b in batches if b[0] == "dag_run"]) == 4
    archived = {a.source: a for a in cleanup.list_archives(any_db.engine)}
    assert archived["dag_run"].name == f"_tradewind_deleted__dag_run__{stamp}"
    assert set(result.archives) == {a.name for a in archived.values()}
    with any_db.engine.connect() as conn:
        runs = Table(archived["dag_run"].name, MetaData(), autoload_with=conn)
        assert sorted(conn.execute(select(runs.c.dag_id, runs.c.run_id)).all()) == [
            ("d", "manual__4"), ("d", "scheduled__1"), ("d", "scheduled__2"), ("e", "scheduled__1")]
        tries = Table(archived["task_instance_try"].name, MetaData(), autoload_with=conn)
        assert conn.scalar(select(func.count()).select_from(tries)) == 8
    assert _count(any_db, archived["xcom"].name) == 8
    assert _count(any_db, archived["task_instance_note"].name) == 1
    assert _count(any_db, archived["dag_version"].name) == 2

    # A second clean finds nothing more; --skip-archive writes no archive table.
    again = cleanup.clean(any_db.engine, cleanup.resolve_tables(None), CUT, now=NOW + timedelta(seconds=1),
                          archive=False)
    assert sum(again.deleted.values()) == 0 and again.archives == []


def test_clean_one_table_and_skip_archive(any_db: Database) -> None:
    _history(any_db)
    result = cleanup.clean(any_db.engine, ["xcom"], CUT, now=NOW, archive=False)
    # Only XComs of finished, not-kept runs older than the cut: d/1, d/2, d/manual__4, e/1.
    assert result.deleted == {"xcom": 8}
    assert _count(any_db, "dag_run") == 7 and _count(any_db, "task_instance") == 14
    assert cleanup.list_archives(any_db.engine) == []


def test_archives_export_and_drop(any_db: Database, tmp_path) -> None:
    _history(any_db)
    cleanup.clean(any_db.engine, ["job", "log"], CUT, now=NOW)
    (job_archive,) = cleanup.list_archives(any_db.engine, ["job"])
    csv_path = cleanup.export_archive(any_db.engine, job_archive, tmp_path, "csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("id,job_type,state") and len(lines) == 2 and ",success," in lines[1]
    json_path = cleanup.export_archive(any_db.engine, job_archive, tmp_path, "json")
    assert '"state": "success"' in json_path.read_text()
    assert cleanup.drop_archives(any_db.engine, [job_archive]) == [job_archive.name]
    assert cleanup.list_archives(any_db.engine) == []

    # JSON columns are exported as JSON, in both formats.
    cleanup.clean(any_db.engine, ["task_instance_try"], CUT, now=NOW)
    (tries,) = cleanup.list_archives(any_db.engine, ["task_instance_history"])
    with cleanup.export_archive(any_db.engine, tries, tmp_path, "csv").open(newline="") as fh:
        fields = sorted(json.loads(row["rendered_fields"])["cmd"] for row in csv.DictReader(fh))
    assert fields[:2] == ["echo manual__4", "echo manual__4"] and len(fields) == 8
    exported = json.loads(cleanup.export_archive(any_db.engine, tries, tmp_path, "json").read_text())
    assert len(exported) == 8 and all(r["rendered_fields"]["cmd"].startswith("echo ") for r in exported)


def test_bad_input_is_refused(any_db: Database) -> None:
    with pytest.raises(ValueError, match="unknown table.*nope.*valid tables: .*dag_run"):
        cleanup.resolve_tables(["xcom", "nope"])
    assert cleanup.resolve_tables(["task_instance_history", "dag_run"]) == ["dag_run", "task_instance_try"]
    with pytest.raises(ValueError, match="in the future"):
        cleanup.clean(any_db.engine, ["xcom"], NOW + timedelta(days=1), now=NOW)


def test_latest_run_of_each_automated_type_is_kept(any_db: Database) -> None:
    """The timetable continues from the latest scheduled/backfill run and the asset window from
    the latest asset-triggered one, so each type keeps its latest; manual runs keep none."""
    with any_db.session_scope() as s:
        s.add(DagModel(dag_id="d", fileloc="/dags/d.py", tags=[]))
        s.flush()
        _run(s, "d", "backfill__1", 1, run_type="backfill")
        _run(s, "d", "backfill__2", 2, run_type="backfill")
        _run(s, "d", "asset_triggered__3", 3, run_type="asset_triggered")
        _run(s, "d", "scheduled__4", 4)
        _run(s, "d", "scheduled__5", 5)
        _run(s, "d", "manual__6", 6, run_type="manual")
    assert cleanup.count_rows(any_db.engine, ["dag_run"], CUT) == {"dag_run": 3}
    cleanup.clean(any_db.engine, ["dag_run"], CUT, now=NOW, archive=False)
    assert _rows(any_db, DagRun, "run_id") == [("asset_triggered__3",), ("backfill__2",), ("scheduled__5",)]
    assert {r for _, r in _rows(any_db, TaskInstance, "dag_id", "run_id")} == {
        "asset_triggered__3", "backfill__2", "scheduled__5"}
