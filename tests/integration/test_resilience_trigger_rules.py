"""Acceptance criterion 6: trigger rules and branching end to end through ``tradewind dags test``.

One DAG exercises a branch skip (and its propagation), a ``none_failed_min_one_success``
join, an ``all_done`` cleanup after a failure, and ``one_failed`` alerting (fires on a
failure, skipped when nothing failed). The states are read back with
``tradewind tasks states-for-dag-run -o json``.
"""

from __future__ import annotations


DAG_FILE = '''
from datetime import datetime
from tradewind import DAG, BashOperator, BranchPythonOperator, EmptyOperator, TriggerRule

OUT = "OUT_PATH"

with DAG("rules", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    start = EmptyOperator(task_id="start")
    branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "chosen")
    chosen = BashOperator(task_id="chosen", bash_command=f"echo chosen >> {OUT}")
    not_chosen = BashOperator(task_id="not_chosen", bash_command=f"echo not_chosen >> {OUT}")
    below_not_chosen = BashOperator(task_id="below_not_chosen", bash_command=f"echo below >> {OUT}")
    join = BashOperator(task_id="join", bash_command=f"echo join >> {OUT}",
                        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    explode = BashOperator(task_id="explode", bash_command="echo exploding; exit 1")
    after_explode = EmptyOperator(task_id="after_explode")
    cleanup = BashOperator(task_id="cleanup", bash_command=f"echo cleanup >> {OUT}",
                           trigger_rule=TriggerRule.ALL_DONE)
    alert = BashOperator(task_id="alert", bash_command=f"echo alert >> {OUT}",
                         trigger_rule=TriggerRule.ONE_FAILED)
    quiet_alert = BashOperator(task_id="quiet_alert", bash_command=f"echo quiet_alert >> {OUT}",
                               trigger_rule=TriggerRule.ONE_FAILED)

    start >> branch >> [chosen, not_chosen]
    not_chosen >> below_not_chosen
    [chosen, below_not_chosen] >> join >> explode >> after_explode
    [explode, after_explode] >> cleanup
    explode >> alert
    chosen >> quiet_alert
'''

EXPECTED = {
    "start": "success",
    "branch": "success",
    "chosen": "success",
    "not_chosen": "skipped",          # not the branch taken
    "below_not_chosen": "skipped",    # all_success with a skipped upstream: the skip propagates
    "join": "success",                # none_failed_min_one_success: one success, one skip
    "explode": "failed",
    "after_explode": "upstream_failed",
    "cleanup": "success",             # all_done: runs although upstream failed
    "alert": "success",               # one_failed: an upstream failed
    "quiet_alert": "skipped",         # one_failed: all upstream done, none failed
}


def test_branching_and_trigger_rules_through_dags_test(home):
    out = home.path / "ran.txt"
    home.add_dag("rules_dag.py", DAG_FILE.replace("OUT_PATH", str(out)))
    result = home.run("dags", "test", "rules", "2024-03-01")
    # Leaves are cleanup/alert (success) and quiet_alert (skipped): the run succeeds although
    # a task failed, as in Airflow (a run fails only when a leaf failed or is upstream_failed).
    assert result.returncode == 0, result.stdout + result.stderr
    for task_id, state in EXPECTED.items():
        assert f"[dags test] {task_id}: {state}" in result.stdout, (task_id, result.stdout)
    runs = home.json("dags", "list-runs", "rules")
    assert [(r["state"], r["logical_date"]) for r in runs] == [("success", "2024-03-01T00:00:00+00:00")]

    tis = home.json("tasks", "states-for-dag-run", "rules", runs[0]["run_id"])
    assert {t["task_id"]: t["state"] for t in tis} == EXPECTED
    tries = {t["task_id"]: t["try_number"] for t in tis}
    assert all(tries[t] == 1 for t, s in EXPECTED.items() if s in ("success", "failed")), tries
    assert all(tries[t] == 0 for t, s in EXPECTED.items() if s in ("skipped", "upstream_failed")), tries
    # Only the tasks that should run ran (skipped ones never started a process).
    assert sorted(out.read_text().split()) == ["alert", "chosen", "cleanup", "join"]
