"""Cross-DAG dependencies: wait for another DAG's task with ExternalTaskSensor, and let a clear of
this DAG's last task reach a downstream DAG through ExternalTaskMarker."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, EmptyOperator, ExternalTaskMarker, ExternalTaskSensor, PythonOperator


def summarise(ti=None) -> str:
    greeting = ti.xcom_pull(dag_id="example_hello", task_ids="greet", include_prior_dates=False)
    print(f"example_hello said {greeting!r}")
    return f"summary of {greeting}"


with DAG(
    dag_id="example_cross_dag",
    description="ExternalTaskSensor on example_hello, ExternalTaskMarker towards example_trigger_target",
    schedule="*/5 0 * * *",   # the same schedule as example_hello, so the logical dates line up
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Cross-DAG dependencies

* `wait_for_hello` is an **ExternalTaskSensor**: it waits until `example_hello`'s `greet` task
  succeeded in the run with the same logical date. In `reschedule` mode the sensor gives its
  worker slot back between pokes (state `up_for_reschedule`). If `greet` fails the sensor fails
  at once (`failed_states`); after `timeout` it gives up.
* `summarise` then reads `greet`'s XCom from the other DAG.
* `notify_target` is an **ExternalTaskMarker**: clearing it with
  `tradewind tasks clear example_cross_dag -t notify_target --downstream` also clears
  `example_trigger_target`'s `show_message` in the run with the same logical date.

Run `tradewind dags test example_hello 2024-03-05` first, then
`tradewind dags test example_cross_dag 2024-03-05`.
""",
) as dag:
    wait_for_hello = ExternalTaskSensor(
        task_id="wait_for_hello",
        external_dag_id="example_hello",
        external_task_id="greet",
        allowed_states=["success"],
        failed_states=["failed", "upstream_failed"],
        mode="reschedule",
        poke_interval=timedelta(seconds=30),
        timeout=timedelta(hours=2),
    )
    summary = PythonOperator(task_id="summarise", python_callable=summarise)
    notify = ExternalTaskMarker(
        task_id="notify_target",
        external_dag_id="example_trigger_target",
        external_task_id="show_message",
        recursion_depth=2,
    )
    done = EmptyOperator(task_id="done")

    wait_for_hello >> summary >> notify >> done
