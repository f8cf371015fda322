"""``ExternalTaskSensor(deferrable=True)`` through ``tradewind dags test`` (which runs triggers inline,
as Airflow's does): the sensor pokes once, defers to ``ExternalTaskTrigger``, which reads the other
task's state from the real database and fires; a wait that never ends times out like a poked one."""

from __future__ import annotations

DAG_FILE = '''
from datetime import datetime
from airflow.models.dag import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.standard.sensors.external_task import ExternalTaskSensor

with DAG("ets_defer", start_date=datetime(2024, 1, 1), schedule=None):
    # No edge between them: the sensor (higher priority) runs first, defers, then "work" runs.
    BashOperator(task_id="work", bash_command="sleep 1")
    ExternalTaskSensor(task_id="wait", external_dag_id="ets_defer", external_task_id="work",
                       deferrable=True, poll_interval=0.2, timeout=120, priority_weight=10)
    ExternalTaskSensor(task_id="never", external_dag_id="ets_defer", external_task_id="work",
                       execution_delta=__import__("datetime").timedelta(days=1), deferrable=True,
                       poll_interval=0.2, timeout=2, soft_fail=True, priority_weight=10)
'''


def test_deferrable_external_task_sensor_waits_in_the_trigger(home):
    home.add_dag("ets_defer.py", DAG_FILE)
    result = home.run("dags", "test", "ets_defer", "2024-03-02")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "[dags test] work: success" in out and "[dags test] wait: success" in out
    assert "[dags test] never: skipped" in out  # the deferral timed out; soft_fail skips
    assert "Deferring: the triggerer waits for tasks ['work'] of DAG 'ets_defer'" in out
    assert "The external tasks ['work'] of DAG 'ets_defer' reached ['success']" in out
