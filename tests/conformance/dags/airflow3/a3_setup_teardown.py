"""Airflow 3 setup/teardown: @setup and @teardown decorators, and .as_teardown(setups=...) on a
classic operator; the teardown runs after the work."""
import os
import tempfile
from datetime import datetime

from airflow.sdk import dag, setup, task, teardown
from airflow.providers.standard.operators.bash import BashOperator

WORKDIR = os.path.join(tempfile.gettempdir(), "tw_conformance_a3_setup")


@dag(schedule=None, start_date=datetime(2024, 1, 1))
def a3_setup_teardown():
    @setup
    def create() -> str:
        os.makedirs(WORKDIR, exist_ok=True)
        return WORKDIR

    @task
    def work(path: str) -> int:
        with open(os.path.join(path, "data.txt"), "w") as fh:
            fh.write("hello\n")
        return len(os.listdir(path))

    @teardown
    def remove(path: str) -> None:
        for name in os.listdir(path):
            os.remove(os.path.join(path, name))
        os.rmdir(path)

    path = create()
    work(path) >> remove(path)

    mk = BashOperator(task_id="mk_tmp", bash_command="echo made").as_setup()
    use = BashOperator(task_id="use_tmp", bash_command="echo used")
    rm = BashOperator(task_id="rm_tmp", bash_command="echo removed").as_teardown(setups=mk)
    mk >> use >> rm


a3_setup_teardown()
