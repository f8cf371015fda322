"""Airflow 2.x TaskFlow: @dag / @task from airflow.decorators, multiple_outputs, passing return
values between tasks, mixing a classic operator with .output."""
from datetime import datetime

from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator


@dag(schedule_interval="@daily", start_date=datetime(2024, 1, 1), catchup=False, tags=["taskflow"])
def a2_taskflow():
    @task()
    def extract():
        return {"apples": 3, "pears": 4}

    @task(multiple_outputs=True)
    def transform(order: dict):
        return {"total": sum(order.values()), "kinds": len(order)}

    @task()
    def load(total: int, kinds: int, stamp: str):
        return f"{kinds} kinds, {total} items at {stamp.strip()}"

    stamp = BashOperator(task_id="stamp", bash_command="echo {{ ds }}")
    parts = transform(extract())
    load(parts["total"], parts["kinds"], stamp.output)


a2_taskflow()
