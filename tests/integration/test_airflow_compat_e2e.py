"""Airflow-style DAG files, unchanged, through ``tradewind dags test``: the shims resolve their imports,
and old argument names / context keys run with a deprecation note in the task log."""

from __future__ import annotations

from pathlib import Path

AIRFLOW2_DAG = '''
from datetime import datetime
from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.operators.python_operator import PythonOperator

OUT = "OUT_PATH"

def show(execution_date, **kwargs):
    with open(OUT, "a") as f:
        f.write("exec " + execution_date.isoformat() + "\\n")

with DAG("af2_compat", schedule_interval="@daily", start_date=datetime(2024, 1, 1), catchup=False) as dag:
    py = PythonOperator(task_id="py", python_callable=show, provide_context=True)
    sh = BashOperator(task_id="sh", bash_command="echo prev {{ yesterday_ds }} >> " + OUT, trigger_rule="dummy")
    py >> sh
'''

AIRFLOW3_DAG = '''
import pendulum
from airflow.sdk import dag, task, get_current_context
from airflow.providers.standard.operators.bash import BashOperator

OUT = "OUT_PATH"

@dag(schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def af3_compat():
    @task
    def stamp() -> str:
        return get_current_context()["ds"]

    @task
    def write(ds_value: str) -> None:
        with open(OUT, "a") as f:
            f.write("ds " + ds_value + "\\n")

    write(stamp()) >> BashOperator(task_id="after", bash_command="echo after >> " + OUT)

af3_compat()
'''


def _log(home, dag_id: str, task_id: str) -> str:
    (path,) = (home.path / "logs" / f"dag_id={dag_id}").glob(f"run_id=*/task_id={task_id}/attempt=1.log")
    return path.read_text()


def test_airflow2_dag_runs_with_deprecation_notes_in_the_task_log(home):
    out: Path = home.path / "out.txt"
    home.add_dag("af2_compat_dag.py", AIRFLOW2_DAG.replace("OUT_PATH", str(out)))
    result = home.ok("dags", "test", "af2_compat", "2024-03-02")
    assert "[dags test] run manual__2024-03-02T00:00:00+00:00 of DAG af2_compat: success" in result.stdout
    assert out.read_text().split("\n") == ["exec 2024-03-02T00:00:00+00:00", "prev 2024-03-01", ""]

    py_log = _log(home, "af2_compat", "py")
    assert "schedule_interval is deprecated" in py_log
    assert "provide_context is deprecated" in py_log
    assert "The context key 'execution_date' is deprecated (Airflow 2); use logical_date" in py_log
    sh_log = _log(home, "af2_compat", "sh")
    assert "The context key 'yesterday_ds' is deprecated" in sh_log
    assert "trigger_rule 'dummy' is deprecated" in sh_log
    assert "provide_context" not in sh_log and sh_log.count("'yesterday_ds' is deprecated") == 1


def test_airflow3_dag_runs_without_notes(home):
    out: Path = home.path / "out.txt"
    home.add_dag("af3_compat_dag.py", AIRFLOW3_DAG.replace("OUT_PATH", str(out)))
    result = home.ok("dags", "test", "af3_compat", "2024-03-02")
    assert "of DAG af3_compat: success" in result.stdout
    assert out.read_text().split("\n") == ["ds 2024-03-02", "after", ""]
    assert "deprecated" not in _log(home, "af3_compat", "write")


def test_unsupported_import_is_an_import_error_of_the_file(home):
    home.add_dag("unsupported_dag.py", "from airflow.operators.subdag import SubDagOperator\nfrom airflow import DAG\n")
    home.ok("dags", "reserialize")
    errors = home.json("dags", "list-import-errors")
    (error,) = errors
    assert "Tradewind does not support the Airflow module 'airflow.operators.subdag'" in str(error)
