"""Airflow 2, the way books wrote it: old module names, an @apply_defaults operator, SqliteOperator, conf."""
import os
from datetime import datetime

from airflow import DAG
from airflow.configuration import conf
from airflow.hooks.base_hook import BaseHook
from airflow.models import BaseOperator
from airflow.models.baseoperator import chain_linear
from airflow.models.taskinstance import TaskInstance
from airflow.operators.python_operator import PythonOperator
from airflow.operators.sqlite_operator import SqliteOperator
from airflow.providers.sqlite.hooks.sqlite import SqliteHook
from airflow.utils.context import Context
from airflow.utils.decorators import apply_defaults


class CountRowsOperator(BaseOperator):
    """Counts the rows of a table on a SQLite connection (a book-style custom operator)."""

    template_fields = ("table",)

    @apply_defaults
    def __init__(self, table, sqlite_conn_id="sqlite_default", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.table = table
        self.sqlite_conn_id = sqlite_conn_id

    def execute(self, context: Context):
        BaseHook.get_connection(self.sqlite_conn_id)  # fails the task if the connection is unknown
        (count,) = SqliteHook(sqlite_conn_id=self.sqlite_conn_id).get_first(f"SELECT COUNT(*) FROM {self.table}")
        return count


def report(ti: TaskInstance, **context: Context):
    dags_folder = conf.get("core", "dags_folder")
    region = conf.get("reports", "region", fallback="eu")
    return {
        "rows": ti.xcom_pull(task_ids="count_rows"),
        "ti_is_task_instance": isinstance(ti, TaskInstance),
        "dags_folder": os.path.basename(dags_folder),
        "region": region,
        "workers": conf.getint("core", "parallelism"),
    }


with DAG(
    "c_book_style",
    schedule_interval="@daily",
    start_date=datetime(2024, 3, 1),
    catchup=False,
    default_args={"sqlite_conn_id": "compat_sqlite", "retries": 0},
) as dag:
    create = SqliteOperator(task_id="create", sql=[
        "DROP TABLE IF EXISTS visits", "CREATE TABLE visits (day TEXT, page TEXT)"])
    home = SqliteOperator(task_id="home", sql="INSERT INTO visits VALUES ('{{ ds }}', ?)", parameters=("home",))
    about = SqliteOperator(task_id="about", sql="INSERT INTO visits VALUES ('{{ ds }}', ?)", parameters=("about",))
    count = CountRowsOperator(task_id="count_rows", table="visits")
    summary = PythonOperator(task_id="report", python_callable=report)
    chain_linear(create, [home, about], count, summary)
