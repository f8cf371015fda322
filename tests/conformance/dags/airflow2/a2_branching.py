"""Airflow 2 branching: BranchPythonOperator returning a task id, DummyOperator joins,
TriggerRule from airflow.utils.trigger_rule on the join."""
from datetime import datetime

from airflow import DAG
from airflow.operators.dummy_operator import DummyOperator
from airflow.operators.python_operator import BranchPythonOperator, PythonOperator
from airflow.utils.trigger_rule import TriggerRule


def choose(**context):
    if context["execution_date"].day % 2 == 0:
        return "even_day"
    return "odd_day"


with DAG("a2_branching", start_date=datetime(2024, 1, 1), schedule_interval="@daily", catchup=False) as dag:
    start = DummyOperator(task_id="start")
    branch = BranchPythonOperator(task_id="branch", python_callable=choose, provide_context=True)
    even_day = DummyOperator(task_id="even_day")
    odd_day = PythonOperator(task_id="odd_day", python_callable=lambda: "odd")
    join = DummyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    after = PythonOperator(task_id="after", python_callable=lambda: "joined", trigger_rule="none_failed")
    start >> branch >> [even_day, odd_day] >> join >> after
