"""An Airflow 2 DAG file, unchanged: ``airflow`` imports resolve to Tradewind (tradewind.compat)."""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator
from airflow.utils.task_group import TaskGroup
from airflow.utils.trigger_rule import TriggerRule


def report(ds, ti):
    """Reads the shell task's output through XCom, as an Airflow 2 callable would."""
    line = ti.xcom_pull(task_ids="checks.count_lines")
    return f"{ds}: {line}"


with DAG(
    dag_id="example_airflow_compat",
    description="An Airflow 2 style DAG file that runs on Tradewind without changes",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind", "retries": 1, "retry_delay": timedelta(minutes=1)},
    doc_md="""
### Airflow compatibility

Written exactly as for Apache Airflow 2 (`from airflow ...`). When Airflow itself is not
installed, Tradewind's import shims map these paths to Tradewind's own classes; anything it
does not support fails at parse time with an import error naming it.
See `docs/airflow-compat.md`.
""",
) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("checks") as checks:
        BashOperator(task_id="count_lines", bash_command="echo 'lines: 3'")
    summary = PythonOperator(task_id="report", python_callable=report)
    done = EmptyOperator(task_id="done", trigger_rule=TriggerRule.ALL_DONE)
    start >> checks >> summary >> done
