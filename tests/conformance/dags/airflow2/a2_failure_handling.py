"""Airflow 2 failure handling: on_failure_callback / on_success_callback in default_args, a task
that fails without retry (AirflowFailException), trigger_rule one_failed for an alert task and
all_done for cleanup; the DAG run still ends on the leaves' states."""
from datetime import datetime

from airflow import DAG
from airflow.exceptions import AirflowFailException
from airflow.operators.python_operator import PythonOperator
from airflow.utils.trigger_rule import TriggerRule


def notify(context):
    print(f"callback for {context['task_instance'].task_id}: {context['ti'].state}")


def fragile():
    raise AirflowFailException("input file is malformed")


with DAG(
    "a2_failure_handling",
    start_date=datetime(2024, 1, 1),
    schedule_interval=None,
    default_args={"retries": 3, "on_failure_callback": notify, "on_success_callback": notify},
) as dag:
    work = PythonOperator(task_id="fragile", python_callable=fragile)
    alert = PythonOperator(task_id="alert", python_callable=lambda: "alerted",
                           trigger_rule=TriggerRule.ONE_FAILED)
    cleanup = PythonOperator(task_id="cleanup", python_callable=lambda: "cleaned",
                             trigger_rule=TriggerRule.ALL_DONE)
    work >> [alert, cleanup]
