"""A DAG file importing an Airflow core module Tradewind does not provide: it must fail to import,
naming the module, even when Apache Airflow itself is installed (it would have that module)."""

from datetime import datetime

from airflow.executors.executor_loader import ExecutorLoader  # noqa: F401
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("provider_unknown_core", schedule=None, start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="never")
