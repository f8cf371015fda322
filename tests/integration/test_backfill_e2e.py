"""End-to-end backfill: the CLI records it, a real scheduler process runs it, --wait reports it."""

from __future__ import annotations

import signal

import pytest

pytestmark = pytest.mark.slow

#: Fails on 2024-01-02 only, so a backfill over three days has one failed run.
DAILY_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("bf_daily", schedule="@daily", start_date=datetime(2024, 1, 1), is_paused_upon_creation=True) as dag:
    BashOperator(task_id="work", bash_command='echo "day {{ ds }}"; test "{{ ds }}" != "2024-01-02"')
'''


def test_bad_input_is_refused_and_dry_run_writes_nothing(home):
    home.add_dag("bf_daily.py", DAILY_DAG)
    for args, message in [
        (("nope", "--from-date", "2024-01-01", "--to-date", "2024-01-02"), "DAG 'nope' not found"),
        (("bf_daily", "--from-date", "2024-01-05", "--to-date", "2024-01-01"), "is after --to-date"),
        (("bf_daily", "--from-date", "2023-01-01", "--to-date", "2023-01-05"), "no runs to backfill"),
    ]:
        result = home.run("backfill", "create", *args)
        assert result.returncode == 1 and message in result.stderr, result.stderr
    dry = home.ok("backfill", "create", "bf_daily", "--from-date", "2024-01-01", "--to-date", "2024-01-03",
                  "--dry-run").stdout
    assert "3 logical date(s); nothing was written" in dry
    assert "2024-01-01T00:00:00+00:00  create a new run" in dry
    assert home.json("backfill", "list") == []


def test_backfill_runs_through_the_scheduler_and_wait_reports_a_failure(home):
    home.add_dag("bf_daily.py", DAILY_DAG)
    scheduler = home.popen("scheduler")
    try:
        result = home.run("backfill", "create", "bf_daily", "--from-date", "2024-01-01", "--to-date", "2024-01-03",
                          "--max-active-runs", "2", "--wait", timeout=180)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr  # the 2024-01-02 run failed
    assert "is paused: the backfill runs anyway" in result.stdout
    assert "Backfill 1 completed: 1 run(s) failed" in result.stdout
    runs = {r["run_id"]: r["state"] for r in home.json("dags", "list-runs", "bf_daily")}
    assert runs == {"backfill__2024-01-01T00:00:00+00:00": "success",
                    "backfill__2024-01-02T00:00:00+00:00": "failed",
                    "backfill__2024-01-03T00:00:00+00:00": "success"}
    [listed] = home.json("backfill", "list", "bf_daily")
    assert (listed["runs"], listed["done"], listed["failed"]) == (3, 3, 1) and listed["completed_at"]
    again = home.ok("backfill", "create", "bf_daily", "--from-date", "2024-01-01", "--to-date", "2024-01-03",
                    "--reprocess-behavior", "failed", "--dry-run").stdout
    assert "2024-01-02T00:00:00+00:00  clear and re-run backfill__2024-01-02" in again
    assert "2024-01-01T00:00:00+00:00  skip (already exists" in again
    cancel = home.run("backfill", "cancel", "1")
    assert cancel.returncode == 1 and "already completed" in cancel.stderr
    assert [e["event"] for e in home.json("audit", "list", "--dag-id", "bf_daily")] == ["backfill.create"]
