"""Our DAG for the provider tests: SQLite through the provider paths, written as for Airflow 3.

The connection ``sqlite_e2e`` comes from AIRFLOW_CONN_SQLITE_E2E (set by the test). ``fetch_all_handler``
is imported from ``airflow.providers.common.sql.hooks.handlers``, a module Tradewind does not
implement: it comes from the installed apache-airflow-providers-common-sql ("bridged").
"""

import json
import os
from datetime import datetime

import airflow
from airflow.providers.common.sql.hooks.handlers import fetch_all_handler
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.sqlite.hooks.sqlite import SqliteHook
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def where_is_airflow():
    """What a task sees of ``airflow``: written to a file the test reads."""
    import airflow.providers.common.sql.hooks.handlers as handlers
    import airflow.providers.sqlite as sqlite_provider

    seen = {
        "airflow_file": airflow.__file__,
        "airflow_version": airflow.__version__,
        "hook_module": SqliteHook.__module__,
        "handlers_file": handlers.__file__,
        "sqlite_provider_version": sqlite_provider.__version__,  # the installed wheel's
    }
    with open(os.environ["PROVIDER_E2E_OUT"], "w") as out:
        json.dump(seen, out)
    return seen["airflow_version"]


def count_rows():
    hook = SqliteHook(sqlite_conn_id="sqlite_e2e")
    rows = hook.get_records("SELECT name, qty FROM fruit ORDER BY name")
    hook.insert_rows("fruit_log", [(len(rows),)], target_fields=["n"])
    return [list(row) for row in rows]


with DAG("provider_sqlite", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    create = SQLExecuteQueryOperator(
        task_id="create",
        conn_id="sqlite_e2e",
        sql=[
            "CREATE TABLE fruit (name TEXT, qty INTEGER)",
            "CREATE TABLE fruit_log (n INTEGER)",
            "INSERT INTO fruit VALUES ('apple', 3), ('pear', 5)",
        ],
    )
    select = SQLExecuteQueryOperator(
        task_id="select",
        conn_id="sqlite_e2e",
        sql="SELECT SUM(qty) FROM fruit WHERE name <> '{{ ds }}'",
        handler=fetch_all_handler,
    )
    count = PythonOperator(task_id="count", python_callable=count_rows)
    where = PythonOperator(task_id="where_is_airflow", python_callable=where_is_airflow)
    create >> select >> count >> where
