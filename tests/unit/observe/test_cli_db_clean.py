"""``tradewind db clean``, ``db export-archived`` and ``db drop-archived`` through the real CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from tradewind.persist.models import AuditLog, DagModel, DagRun, TaskInstance, XCom

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _runs(db, days=(1, 2, 3)) -> None:
    with db.session_scope() as s:
        s.add(DagModel(dag_id="d", fileloc="/dags/d.py", tags=[]))
        s.flush()
        for day in days:
            when = T0 + timedelta(days=day)
            run_id = f"scheduled__{day}"
            s.add(DagRun(dag_id="d", run_id=run_id, run_type="scheduled", state="success", logical_date=when,
                         run_after=when, start_date=when, conf={}))
            s.add(TaskInstance(dag_id="d", run_id=run_id, task_id="t", state="success", start_date=when))
            s.add(XCom(dag_id="d", run_id=run_id, task_id="t", key="k", value="1", timestamp=when))


def _count(db, model) -> int:
    with db.session_scope() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_bad_timestamp_is_a_usage_error(invoke, db):
    result = invoke("db", "clean", "--clean-before-timestamp", "last tuesday")
    assert result.exit_code == 2
    assert "--clean-before-timestamp" in result.output and "'last tuesday' is not a date" in result.output


def test_future_timestamp_is_a_usage_error(invoke, db):
    result = invoke("db", "clean", "--clean-before-timestamp", "2999-01-01", "--yes")
    assert result.exit_code == 2
    assert "is in the future" in result.output


def test_unknown_table_lists_the_valid_ones(invoke, db):
    result = invoke("db", "clean", "--clean-before-timestamp", "2024-01-01", "--tables", "xcom,dag_runs")
    assert result.exit_code == 2
    assert "unknown table(s) dag_runs" in result.output
    assert "valid tables:" in result.output and "task_instance_try" in result.output
    assert invoke("db", "drop-archived", "-t", "nope", "--yes").exit_code == 2


def test_missing_timestamp_and_bad_batch_size(invoke, db):
    assert invoke("db", "clean").exit_code == 2
    bad = invoke("db", "clean", "--clean-before-timestamp", "2024-01-01", "--batch-size", "0")
    assert bad.exit_code == 2 and "--batch-size" in bad.output


def test_dry_run_prints_counts_and_changes_nothing(invoke, db):
    _runs(db)
    result = invoke("db", "clean", "--clean-before-timestamp", "2024-02-01", "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.output
    counts = {row["table"]: row["rows"] for row in json.loads(result.stdout)}
    assert counts["dag_run"] == 2  # scheduled__3 is the DAG's latest scheduled run: kept
    assert counts["xcom"] == 2
    assert _count(db, DagRun) == 3 and _count(db, XCom) == 3


def test_clean_asks_first_then_removes_and_archives(invoke, db):
    _runs(db)
    declined = invoke("db", "clean", "--clean-before-timestamp", "2024-02-01", input="n\n")
    assert declined.exit_code == 1 and "nothing was changed" in declined.output
    assert _count(db, DagRun) == 3

    result = invoke("db", "clean", "--clean-before-timestamp", "2024-02-01", "-t", "dag_run", "--yes",
                    "--batch-size", "1", "-o", "json")
    assert result.exit_code == 0, result.output
    summary = {row["table"]: row for row in json.loads(result.stdout)}
    assert summary["dag_run"]["deleted"] == 2 and summary["task_instance"]["deleted"] == 2
    assert summary["xcom"]["archive"].startswith("_tradewind_deleted__xcom__")
    with db.session_scope() as s:
        assert s.scalars(select(DagRun.run_id)).all() == ["scheduled__3"]
        assert s.scalars(select(TaskInstance.run_id)).all() == ["scheduled__3"]
        assert s.scalars(select(AuditLog.event)).all() == ["db.clean"]

    nothing = invoke("db", "clean", "--clean-before-timestamp", "2024-02-01", "-t", "dag_run", "--yes")
    assert nothing.exit_code == 0 and "Nothing older than" in nothing.output


def test_export_and_drop_archives(invoke, db, tmp_path):
    _runs(db)
    assert invoke("db", "clean", "--clean-before-timestamp", "2024-02-01", "-t", "xcom", "--yes").exit_code == 0
    export_dir = tmp_path / "exported"
    result = invoke("db", "export-archived", "--output-path", str(export_dir), "--export-format", "json")
    assert result.exit_code == 0, result.output
    (written,) = export_dir.iterdir()
    assert written.name.startswith("_tradewind_deleted__xcom__") and written.suffix == ".json"
    assert sorted(row["run_id"] for row in json.loads(written.read_text())) == ["scheduled__1", "scheduled__2"]

    assert invoke("db", "drop-archived", input="n\n").exit_code == 1
    dropped = invoke("db", "drop-archived", "-t", "xcom", "--yes")
    assert dropped.exit_code == 0 and "Dropped _tradewind_deleted__xcom__" in dropped.output
    assert "No archive tables" in invoke("db", "drop-archived", "--yes").output
