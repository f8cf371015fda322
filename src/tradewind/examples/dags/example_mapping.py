"""Dynamic task mapping: one task, as many instances as there are items, decided at run time."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, BashOperator, task, task_group

with DAG(
    dag_id="example_mapping",
    description="Dynamic task mapping: expand over a task's output, literals, a product and a task group",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Dynamic task mapping

* `list_files` returns a list; `count_lines` is **expanded** over it (one instance per file,
  `map_index` 0, 1, 2), with `prefix` fixed by `partial()`. Each instance is labelled by its
  `map_index_template`.
* `total` receives the list of all `count_lines` results, ordered by map index.
* `greet` is a classic `BashOperator` mapped over a literal list of commands.
* `per_region` is a mapped `@task_group`: `extract` and `report` run once per region, and
  `report[i]` receives `extract[i]`'s value.

Try it: `tradewind dags test example_mapping`, then
`tradewind tasks states-for-dag-run example_mapping <run_id>`.
""",
) as dag:

    @task
    def list_files() -> list[str]:
        return ["orders.csv", "customers.csv", "invoices.csv"]

    @task(map_index_template="{{ task.op_kwargs['name'] }}")
    def count_lines(name: str, prefix: str) -> int:
        # A stand-in for real work on one file: the length of its name.
        print(f"{prefix}{name}")
        return len(name)

    @task
    def total(counts: list[int]) -> int:
        return sum(counts)

    total(count_lines.partial(prefix="counting ").expand(name=list_files()))

    BashOperator.partial(task_id="greet").expand(
        bash_command=["echo hello from instance {{ ti.map_index }}", "echo and from {{ ti.map_index }}"]
    )

    @task
    def extract(region: str) -> dict:
        return {"region": region, "rows": len(region) * 10}

    @task
    def report(result: dict) -> str:
        return f"{result['region']}: {result['rows']} rows"

    @task_group
    def per_region(region: str):
        return report(extract(region))

    @task
    def summary(lines: list[str]) -> str:
        return "; ".join(lines)

    summary(per_region.expand(region=["north", "south"]))
