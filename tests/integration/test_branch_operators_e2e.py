"""The clock-branching operators and ``Label`` end to end through ``tradewind dags test``.

The day-of-week and datetime branches compare the run's logical date
(``use_task_logical_date=True``), so the outcome does not depend on the real clock;
``dags test`` makes a manual run, which ``LatestOnlyOperator`` never skips.
"""

from __future__ import annotations

import json
import sqlite3


DAG_FILE = '''
from datetime import datetime, time
from tradewind import (DAG, BashOperator, BranchDateTimeOperator, BranchDayOfWeekOperator, EmptyOperator,
                       Label, LatestOnlyOperator, TriggerRule, WeekDay)

OUT = "OUT_PATH"

def echo(name):
    return BashOperator(task_id=name, bash_command=f"echo {name} >> {OUT}")

with DAG("clock_branches", schedule="@daily", start_date=datetime(2024, 1, 1),
         dag_display_name="Clock branches") as dag:
    latest = LatestOnlyOperator(task_id="latest_only")
    latest >> Label("latest run") >> echo("after_latest")

    day = BranchDayOfWeekOperator(task_id="day", week_day={"Saturday", WeekDay.SUNDAY},
                                  follow_task_ids_if_true="weekend", follow_task_ids_if_false="weekday",
                                  use_task_logical_date=True)
    day >> Label("weekend") >> echo("weekend")
    day >> Label("weekday") >> echo("weekday")

    window = BranchDateTimeOperator(task_id="window", target_lower=datetime(2024, 3, 1),
                                    target_upper=datetime(2024, 3, 3), use_task_logical_date=True,
                                    follow_task_ids_if_true=["in_window"],
                                    follow_task_ids_if_false=["out_of_window"])
    office = BranchDateTimeOperator(task_id="office_hours", target_lower=time(9), target_upper=time(17),
                                    use_task_logical_date=True,
                                    follow_task_ids_if_true="open", follow_task_ids_if_false="closed")
    outcomes = [echo("in_window"), echo("out_of_window"), echo("open"), echo("closed")]
    window >> outcomes[:2]
    office >> outcomes[2:]
    outcomes >> Label("decided") >> EmptyOperator(task_id="gate",
                                                  trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
'''

EXPECTED = {
    "latest_only": "success",
    "after_latest": "success",     # a manual run is never skipped by LatestOnlyOperator
    "day": "success",
    "weekend": "success",          # 2024-03-02 is a Saturday
    "weekday": "skipped",
    "window": "success",
    "in_window": "success",
    "out_of_window": "skipped",
    "office_hours": "success",
    "open": "skipped",             # the logical date is at midnight, outside 09:00-17:00
    "closed": "success",
    "gate": "success",             # none_failed_min_one_success after the skipped branches
}


def test_clock_branches_and_labels_through_dags_test(home):
    out = home.path / "ran.txt"
    home.add_dag("clock_dag.py", DAG_FILE.replace("OUT_PATH", str(out)))
    result = home.run("dags", "test", "clock_branches", "2024-03-02")
    assert result.returncode == 0, result.stdout + result.stderr
    for task_id, state in EXPECTED.items():
        assert f"[dags test] {task_id}: {state}" in result.stdout, (task_id, result.stdout)
    assert sorted(out.read_text().split()) == ["after_latest", "closed", "in_window", "weekend"]

    runs = home.json("dags", "list-runs", "clock_branches")
    tis = home.json("tasks", "states-for-dag-run", "clock_branches", runs[0]["run_id"])
    assert {t["task_id"]: t["state"] for t in tis} == EXPECTED

    # The parsed snapshot keeps the display name and the edge labels (for the UI).
    with sqlite3.connect(home.path / "tradewind.db") as conn:
        (raw,) = conn.execute(
            "SELECT snapshot FROM dag_version WHERE dag_id = ? ORDER BY version_number DESC LIMIT 1",
            ("clock_branches",),
        ).fetchone()
    snapshot = json.loads(raw)
    assert snapshot["dag_display_name"] == "Clock branches"
    assert snapshot["edge_info"]["latest_only"] == {"after_latest": {"label": "latest run"}}
    assert snapshot["edge_info"]["day"] == {"weekday": {"label": "weekday"}, "weekend": {"label": "weekend"}}
    assert snapshot["edge_info"]["closed"] == {"gate": {"label": "decided"}}
