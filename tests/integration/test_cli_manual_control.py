"""End-to-end manual control: tasks clear (dry run, ExternalTaskMarker), tasks set-state,
dags set-run-state, and the audit log of each action."""

from __future__ import annotations

import getpass

import pytest
from cli_support import FAILING_DAG

pytestmark = pytest.mark.slow

MARKED_DAGS = '''
from datetime import datetime
from tradewind import DAG, BashOperator, ExternalTaskMarker

with DAG("parent", schedule="@daily", start_date=datetime(2024, 1, 1)) as parent:
    BashOperator(task_id="p1", bash_command="true") >> ExternalTaskMarker(
        task_id="mark_child", external_dag_id="child", external_task_id="c1")

with DAG("child", schedule="@daily", start_date=datetime(2024, 1, 1)) as child:
    BashOperator(task_id="c0", bash_command="true") >> BashOperator(task_id="c1", bash_command="true") \\
        >> BashOperator(task_id="c2", bash_command="true")
'''


def _states(home, dag_id, run_ref):
    return {t["task_id"]: t["state"] for t in home.json("tasks", "states-for-dag-run", dag_id, run_ref)}


def test_clear_dry_run_then_clear_follows_the_external_task_marker(home):
    home.add_dag("marked_dags.py", MARKED_DAGS)
    for dag_id in ("parent", "child"):
        assert home.run("dags", "test", dag_id, "2024-01-02").returncode == 0
    dry = home.ok("tasks", "clear", "parent", "-t", "^mark_child$", "--dry-run").stdout
    assert "3 task instance(s) to clear" in dry and "child" in dry and "Dry run: nothing was cleared" in dry
    assert set(_states(home, "child", "2024-01-02").values()) == {"success"}
    home.ok("tasks", "clear", "parent", "-t", "^mark_child$", "-s", "2024-01-02", "-e", "2024-01-02", "--yes")
    assert _states(home, "child", "2024-01-02") == {"c0": "success", "c1": "none", "c2": "none"}
    assert _states(home, "parent", "2024-01-02") == {"p1": "success", "mark_child": "none"}
    events = home.json("audit", "list", "--event", "clear")
    assert {e["dag_id"] for e in events} == {"parent", "child"}
    assert {e["owner"] for e in events} == {getpass.getuser()}


def test_set_state_and_set_run_state_are_recorded_and_recompute_the_run(home):
    home.add_dag("failing_dag.py", FAILING_DAG)
    assert home.run("dags", "test", "failing", "2024-02-01").returncode == 1
    run_id = home.json("dags", "list-runs", "failing")[0]["run_id"]
    marked = home.json("tasks", "set-state", "failing", run_id, "boom", "success", "--downstream")
    assert {(t["task_id"], t["state"]) for t in marked} == {("boom", "success"), ("after", "success")}
    # The run had failed; it is handed back to the scheduler, which decides its state again.
    assert home.json("dags", "list-runs", "failing")[0]["state"] == "running"
    [run] = home.json("dags", "set-run-state", "failing", "2024-02-01", "failed")
    assert run["state"] == "failed"
    [run] = home.json("dags", "set-run-state", "failing", run_id, "success")
    assert run["state"] == "success"
    bad = home.run("tasks", "set-state", "failing", run_id, "nope", "success")
    assert bad.returncode == 1 and "Task 'nope' not found in DAG 'failing'" in bad.stderr
    events = [(e["event"], e["run_id"]) for e in home.json("audit", "list", "--dag-id", "failing")]
    assert ("set_state", run_id) in events and events.count(("set_run_state", run_id)) == 2
