"""Airflow 3 TaskFlow: everything from airflow.sdk; @dag with schedule=, data passed by return
values, multiple_outputs inferred from a dict return annotation, .override()."""
import pendulum
from airflow.sdk import dag, task


@dag(schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["a3"])
def a3_taskflow():
    @task
    def extract() -> list[int]:
        return [4, 8, 15, 16, 23, 42]

    @task
    def stats(values: list[int]) -> dict[str, int]:
        return {"count": len(values), "total": sum(values)}

    @task
    def describe(count: int, total: int, label: str = "numbers") -> str:
        return f"{label}: {count} values, total {total}"

    result = stats(extract())
    describe(result["count"], result["total"])
    describe.override(task_id="describe_again")(result["count"], result["total"], label="again")


a3_taskflow()
