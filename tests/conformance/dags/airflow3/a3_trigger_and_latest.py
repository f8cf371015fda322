"""Airflow 3 cross-DAG: TriggerDagRunOperator from the standard provider passing conf to the
a3_context_params DAG (fire and forget), and LatestOnlyOperator on a manual run."""
from datetime import datetime

from airflow.providers.standard.operators.latest_only import LatestOnlyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG

with DAG("a3_trigger_and_latest", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False):
    trigger = TriggerDagRunOperator(
        task_id="trigger", trigger_dag_id="a3_context_params", conf={"note": "from {{ ds }}"},
    )
    latest = LatestOnlyOperator(task_id="latest_only")
    after = PythonOperator(task_id="after_latest", python_callable=lambda: "manual runs are latest")
    trigger >> latest >> after
