"""Airflow 2 "dynamic" DAGs the classic way: several DAGs generated in one file through globals(),
tasks created in loops with string trigger rules and priority weights."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.operators.dummy_operator import DummyOperator


def build(customer):
    dag = DAG(f"a2_dynamic_{customer}", start_date=datetime(2024, 1, 1), schedule_interval="0 6 * * *",
              catchup=False, default_args={"owner": customer})
    with dag:
        done = DummyOperator(task_id="done", trigger_rule="all_success")
        for step, weight in (("ingest", 3), ("clean", 2), ("publish", 1)):
            BashOperator(task_id=step, bash_command=f"echo {customer}-{step}", priority_weight=weight) >> done
    return dag


for name in ("acme", "globex"):
    globals()[f"dag_{name}"] = build(name)
