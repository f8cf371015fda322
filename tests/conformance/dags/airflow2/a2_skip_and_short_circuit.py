"""Airflow 2 skipping: ShortCircuitOperator, AirflowSkipException from airflow.exceptions,
LatestOnlyOperator (a manual run counts as the latest), and trigger rule all_done after a skipped task.
ShortCircuitOperator skips everything downstream whatever its trigger rule (ignore_downstream_trigger_rules
defaults to True), so `gated_all_done` is skipped too."""
from datetime import datetime

from airflow import DAG
from airflow.exceptions import AirflowSkipException
from airflow.operators.dummy import DummyOperator
from airflow.operators.latest_only import LatestOnlyOperator
from airflow.operators.python import PythonOperator, ShortCircuitOperator


def maybe_skip():
    raise AirflowSkipException("nothing to do today")


with DAG("a2_skip_and_short_circuit", start_date=datetime(2024, 1, 1), schedule_interval="@daily",
         catchup=False) as dag:
    gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
    gated = DummyOperator(task_id="gated")
    skipper = PythonOperator(task_id="skipper", python_callable=maybe_skip)
    gated_all_done = DummyOperator(task_id="gated_all_done", trigger_rule="all_done")
    always = PythonOperator(task_id="always", python_callable=lambda: "ran", trigger_rule="all_done")
    latest = LatestOnlyOperator(task_id="latest_only")
    after_latest = PythonOperator(task_id="after_latest", python_callable=lambda: "latest")
    gate >> gated >> gated_all_done
    skipper >> always
    latest >> after_latest
