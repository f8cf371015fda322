"""A controller DAG that starts a run of another DAG (``example_trigger_target``) with a conf."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, Param, TriggerDagRunOperator, task

with DAG(
    dag_id="example_trigger_dagrun",
    description="Trigger example_trigger_target with a message in its conf",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    params={"message": Param("Hello from the controller", type="string")},
    doc_md="""
### Trigger another DAG

`trigger` (a `TriggerDagRunOperator`) creates a run of `example_trigger_target` whose
`dag_run.conf` carries this run's `message` param and logical date; the new run id is pushed to
XCom as `trigger_run_id`, and `report` prints it.

With `wait_for_completion=True` the task would keep running until the triggered run ends
(checking every `poke_interval` seconds) and fail if it failed. Here it does not wait, so
`tradewind dags test example_trigger_dagrun` finishes on its own; unpause
`example_trigger_target` (or `tradewind dags test` it) to run the triggered DAG.
""",
) as dag:
    trigger = TriggerDagRunOperator(
        task_id="trigger",
        trigger_dag_id="example_trigger_target",
        trigger_run_id="triggered_by__{{ run_id }}",
        conf={"message": "{{ params.message }}", "controller_ds": "{{ ds }}"},
        logical_date="{{ logical_date }}",
        skip_when_already_exists=True,
    )

    @task
    def report(ti=None) -> str:
        """Read the id of the triggered run from XCom."""
        run_id = ti.xcom_pull(task_ids="trigger", key="trigger_run_id")
        print(f"Triggered example_trigger_target run {run_id}")
        return run_id

    trigger >> report()
