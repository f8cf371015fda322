"""The DAG ``example_trigger_dagrun`` triggers: it reads the message from ``dag_run.conf``."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, BashOperator, task

with DAG(
    dag_id="example_trigger_target",
    description="Triggered by example_trigger_dagrun; prints the conf it was given",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Target of a trigger

Runs only when triggered (`schedule=None`): by `example_trigger_dagrun`, or by hand with
`tradewind dags trigger example_trigger_target --conf '{"message": "hi"}'`.
""",
) as dag:

    @task
    def show_message(dag_run=None) -> str:
        """Return the message from the triggering run's conf (a default when there is none)."""
        message = (dag_run.conf or {}).get("message", "no message in conf")
        print(f"Remotely received message: {message}")
        return message

    bash_task = BashOperator(
        task_id="bash_task",
        bash_command='echo "Here is the message: $MESSAGE"',
        env={"MESSAGE": "{{ dag_run.conf.get('message', '') }}"},
        append_env=True,
    )

    show_message() >> bash_task
