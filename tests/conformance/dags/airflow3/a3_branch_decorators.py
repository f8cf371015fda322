"""Airflow 3 decorator flavours: @task.branch, @task.short_circuit, @task.bash, @task.sensor
(returning PokeReturnValue with an XCom); the task after the branches joins them with
none_failed_min_one_success (all_success would be skipped with the branch not taken)."""
from datetime import datetime

from airflow.sdk import PokeReturnValue, dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1))
def a3_branch_decorators():
    @task.sensor(poke_interval=1, timeout=30, mode="poke")
    def ready() -> PokeReturnValue:
        return PokeReturnValue(is_done=True, xcom_value="sensor-said-go")

    @task.branch
    def choose(signal: str) -> str:
        return "big" if signal.endswith("go") else "small"

    @task
    def big() -> str:
        return "big path"

    @task
    def small() -> str:
        return "small path"

    @task.short_circuit(trigger_rule="none_failed_min_one_success")
    def keep_going() -> bool:
        return True

    @task.bash
    def join() -> str:
        return "echo joined"

    choice = choose(ready())
    choice >> [big(), small()] >> keep_going() >> join()


a3_branch_decorators()
