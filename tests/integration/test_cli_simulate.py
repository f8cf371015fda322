"""``tradewind dags simulate`` and ``dags next-execution -o``, through the real executable."""

from __future__ import annotations

import sqlite3

HOURLY_WINDOW_DAG = '''
from datetime import datetime, timedelta
from tradewind import DAG, EmptyOperator

with DAG("hourly_window", schedule="@hourly", start_date=datetime(2024, 1, 1),
         missed_runs=timedelta(hours=3)) as dag:
    EmptyOperator(task_id="t")
'''

CONTRADICTING_DAG = '''
from datetime import datetime
from tradewind import DAG, EmptyOperator

with DAG("contradicting", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=True,
         missed_runs="none") as dag:
    EmptyOperator(task_id="t")
'''


def _dump(home) -> list[str]:
    con = sqlite3.connect(home.path / "tradewind.db")
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_simulate_lists_runs_with_creation_times_and_changes_nothing(home):
    home.add_dag("hourly_window.py", HOURLY_WINDOW_DAG)
    home.ok("dags", "list")  # parse and store the DAG (simulate itself only reads)
    before = _dump(home)

    rows = home.json("dags", "simulate", "hourly_window", "--from", "2024-01-01T05:30", "--to", "2024-01-01T08:00")
    assert [r["logical_date"] for r in rows] == [f"2024-01-01T0{h}:00:00+00:00" for h in range(2, 8)]
    first, last = rows[0], rows[-1]
    # 02:00-03:00 was due at 03:00, within the 3h window of 05:30: created (caught up) at 05:30.
    assert first == {
        "run_id": "scheduled__2024-01-01T02:00:00+00:00",
        "logical_date": "2024-01-01T02:00:00+00:00",
        "data_interval_start": "2024-01-01T02:00:00+00:00",
        "data_interval_end": "2024-01-01T03:00:00+00:00",
        "run_after": "2024-01-01T03:00:00+00:00",
        "created_at": "2024-01-01T05:30:00+00:00",
    }
    assert last["run_after"] == last["created_at"] == "2024-01-01T08:00:00+00:00"

    home.env["COLUMNS"] = "250"  # a table wide enough not to fold the cells
    table = home.ok("dags", "simulate", "hourly_window", "--from", "2024-01-01T05:30", "--to", "2024-01-01T08:00")
    assert "created_at" in table.stdout and "scheduled__2024-01-01T07:00:00+00:00" in table.stdout
    assert "missed runs: window 3:00:00" in table.stderr and "starting fresh" in table.stderr

    plain = home.ok("dags", "simulate", "hourly_window", "--fresh", "--from", "2024-01-01T05:30",
                    "--to", "2024-01-01T06:00", "-o", "plain").stdout.splitlines()
    assert plain[-1].split("\t") == ["2024-01-01T05:00:00+00:00", "2024-01-01T05:00:00+00:00",
                                     "2024-01-01T06:00:00+00:00", "2024-01-01T06:00:00+00:00",
                                     "2024-01-01T06:00:00+00:00"]
    limited = home.run("dags", "simulate", "hourly_window", "--from", "2024-01-01T05:30", "--to", "2024-01-02",
                       "--limit", "2", "-o", "plain")
    assert len(limited.stdout.splitlines()) == 2 and "Showing the first 2 runs" in limited.stderr

    assert _dump(home) == before


def test_next_execution_prints_dates_or_a_table(home):
    home.add_dag("hourly_window.py", HOURLY_WINDOW_DAG)
    dates = home.ok("dags", "next-execution", "hourly_window", "-n", "3").stdout.split()
    assert len(dates) == 3 and all(d.endswith(":00:00+00:00") for d in dates)
    rows = home.json("dags", "next-execution", "hourly_window", "-n", "3")
    assert [r["logical_date"] for r in rows] == dates
    assert all(r["data_interval_end"] == r["run_after"] for r in rows)


def test_bad_input_is_a_clear_error(home):
    home.add_dag("contradicting.py", CONTRADICTING_DAG)
    home.add_dag("hourly_window.py", HOURLY_WINDOW_DAG)
    errors = home.ok("dags", "list-import-errors", "-o", "json")
    assert "catchup=True contradicts missed_runs='none'" in errors.stdout

    unknown = home.run("dags", "simulate", "nope", "--from", "2024-01-01", "--to", "2024-01-02")
    assert unknown.returncode == 1 and "DAG 'nope' not found" in unknown.stderr
    backwards = home.run("dags", "simulate", "hourly_window", "--from", "2024-01-02", "--to", "2024-01-01")
    assert backwards.returncode == 1
    assert "--to 2024-01-01T00:00:00+00:00 is before --from 2024-01-02T00:00:00+00:00" in backwards.stderr
    garbled = home.run("dags", "simulate", "hourly_window", "--from", "yesterday")
    assert garbled.returncode == 2 and "'yesterday' is not a date" in garbled.stderr
