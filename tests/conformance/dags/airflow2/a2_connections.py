"""Airflow connections from AIRFLOW_CONN_* environment variables (URI and JSON forms), read with
BaseHook.get_connection in a task and with {{ conn.<id> }} in a template."""
from datetime import datetime

from airflow import DAG
from airflow.hooks.base import BaseHook
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator


def describe_connections():
    pg = BaseHook.get_connection("conformance_pg")
    api = BaseHook.get_connection("conformance_api")
    return {
        "pg": [pg.conn_type, pg.host, pg.port, pg.schema, pg.login],
        "api": [api.conn_type, api.host, api.extra_dejson.get("timeout")],
    }


with DAG("a2_connections", start_date=datetime(2024, 1, 1), schedule_interval=None) as dag:
    read = PythonOperator(task_id="read_connections", python_callable=describe_connections)
    templated = BashOperator(task_id="templated_connection",
                             bash_command="echo '{{ conn.conformance_pg.host }}:{{ conn.conformance_pg.port }}'")
    read >> templated
