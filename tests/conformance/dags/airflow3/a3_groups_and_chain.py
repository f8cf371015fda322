"""Airflow 3 task groups: @task_group returning a value, the TaskGroup context manager, chain from
airflow.sdk, Label on edges."""
from datetime import datetime

from airflow.sdk import DAG, Label, TaskGroup, chain, task, task_group
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("a3_groups_and_chain", start_date=datetime(2024, 1, 1), schedule="@weekly", catchup=False):

    @task
    def seed() -> int:
        return 5

    @task_group
    def math(n: int):
        @task
        def square(x: int) -> int:
            return x * x

        @task
        def plus_one(x: int) -> int:
            return x + 1

        return plus_one(square(n))

    with TaskGroup("publish") as publish:
        first = EmptyOperator(task_id="first")
        second = EmptyOperator(task_id="second")
        first >> Label("then") >> second

    @task
    def final(value: int) -> str:
        return f"final={value}"

    result = math(seed())
    chain(result, publish, final(result))
