"""Airflow 3 context and params: Param with validation, get_current_context, logical_date and
data_interval_* in the context, dag_run.conf, Variable from airflow.sdk."""
from datetime import datetime

from airflow.sdk import Param, Variable, dag, get_current_context, task


@dag(
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"limit": Param(3, type="integer", minimum=1), "mode": Param("fast", enum=["fast", "slow"])},
)
def a3_context_params():
    @task
    def describe(params=None, data_interval_start=None, data_interval_end=None) -> str:
        hours = (data_interval_end - data_interval_start).total_seconds() / 3600
        return f"{params['mode']}:{params['limit']}:{hours:.0f}h"

    @task
    def from_context() -> str:
        ctx = get_current_context()
        return f"{ctx['dag'].dag_id}|{ctx['ds']}|{ctx['dag_run'].conf.get('note', 'none')}"

    @task
    def variable() -> str:
        return Variable.get("conformance_region", default="unset")

    describe() >> from_context() >> variable()


a3_context_params()
