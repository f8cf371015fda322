"""A DAG to check a fresh deployment: one task on the default queue, one on the "heavy" queue."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, BashOperator

with DAG(
    dag_id="example_deployed",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["deploy"],
) as dag:
    hello = BashOperator(task_id="hello", bash_command="echo hello from $(hostname)")
    heavy = BashOperator(task_id="heavy", bash_command="echo heavy work on $(hostname)", queue="heavy")
    hello >> heavy
