"""Airflow 3 dynamic task mapping: .expand over a literal and an upstream result, .partial,
expand_kwargs, and a reduce task that receives all mapped results."""
from datetime import datetime

from airflow.sdk import DAG, task
from airflow.providers.standard.operators.bash import BashOperator

with DAG("a3_mapping", start_date=datetime(2024, 1, 1), schedule=None):

    @task
    def files() -> list[str]:
        return ["a.csv", "bb.csv", "ccc.csv"]

    @task
    def size(name: str, factor: int) -> int:
        return len(name) * factor

    @task
    def total(sizes) -> int:
        return sum(sizes)

    @task
    def add(x: int, y: int) -> int:
        return x + y

    total(size.partial(factor=10).expand(name=files()))
    total.override(task_id="total_pairs")(add.expand_kwargs([{"x": 1, "y": 2}, {"x": 3, "y": 4}]))
    BashOperator.partial(task_id="echo").expand(bash_command=["echo one", "echo two"])
