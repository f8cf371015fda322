"""``tradewind dags test`` cases the conformance corpus hit: a task in a pool nobody created runs
(Airflow's dags test has no pool checks; ours lends the pool for the run and says so), and a
``TriggerDagRunOperator`` records the run it triggered and succeeds."""

from __future__ import annotations

POOL_DAG = '''
from datetime import datetime
from airflow.decorators import dag, task

@dag(start_date=datetime(2024, 1, 1), schedule=None)
def unknown_pool():
    @task
    def guests():
        return [1, 2, 3]

    @task(pool="never_created", pool_slots=2)
    def swim(guest):
        return guest * 10

    swim.expand(guest=guests())

unknown_pool()
'''

TRIGGER_DAGS = '''
from datetime import datetime
from airflow.models.dag import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.trigger_dagrun import TriggerDagRunOperator

with DAG("controller", start_date=datetime(2024, 1, 1), schedule=None):
    TriggerDagRunOperator(task_id="kick", trigger_dag_id="target", conf={"message": "hi"})

with DAG("target", start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id="echo", bash_command="echo {{ dag_run.conf.message }}")
'''


def test_task_in_a_missing_pool_runs_and_the_pool_is_given_back(home):
    home.add_dag("unknown_pool.py", POOL_DAG)
    result = home.run("dags", "test", "unknown_pool", "2024-03-02")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pool 'never_created' does not exist; Airflow's dags test runs tasks without pool checks" \
        in result.stdout
    for index in range(3):
        assert f"[dags test] swim[{index}]: success" in result.stdout
    assert [p["pool"] for p in home.json("pools", "list")] == ["default_pool"]

    # A test killed before it returned the pool left it behind: the next test lends it again.
    home.ok("pools", "set", "never_created", "1", "lent by `tradewind dags test unknown_pool` while it runs")
    again = home.run("dags", "test", "unknown_pool", "2024-03-03")
    assert again.returncode == 0 and "lends it" in again.stdout
    assert [p["pool"] for p in home.json("pools", "list")] == ["default_pool"]
    # A pool the user made is left alone.
    home.ok("pools", "set", "never_created", "4", "mine")
    mine = home.run("dags", "test", "unknown_pool", "2024-03-04")
    assert mine.returncode == 0 and "lends it" not in mine.stdout
    assert {p["pool"]: p["slots"] for p in home.json("pools", "list")} == {"default_pool": 128, "never_created": 4}


def test_trigger_dag_run_under_dags_test_records_the_triggered_run(home):
    home.add_dag("trigger_pair.py", TRIGGER_DAGS)
    result = home.run("dags", "test", "controller", "2024-03-02")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[dags test] kick: success" in result.stdout and "Triggered DAG target: run " in result.stdout
    runs = home.json("dags", "list-runs", "target")
    assert len(runs) == 1 and runs[0]["run_id"].startswith("manual__") and runs[0]["state"] == "queued"
