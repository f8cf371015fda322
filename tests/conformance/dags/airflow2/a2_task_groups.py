"""Airflow 2 structure helpers: TaskGroup (context manager), chain and cross_downstream from
airflow.models.baseoperator, tasks generated in a loop, EmptyOperator from airflow.operators.empty."""
from datetime import datetime

from airflow.models import DAG
from airflow.models.baseoperator import chain, cross_downstream
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator
from airflow.utils.task_group import TaskGroup

with DAG("a2_task_groups", start_date=datetime(2024, 1, 1), schedule_interval=None) as dag:
    begin = EmptyOperator(task_id="begin")
    with TaskGroup("extract", tooltip="one task per source") as extract:
        sources = [BashOperator(task_id=f"pull_{name}", bash_command=f"echo {name}") for name in ("a", "b", "c")]
    with TaskGroup(group_id="checks") as checks:
        c1 = EmptyOperator(task_id="rows")
        c2 = EmptyOperator(task_id="schema")
    publish_1 = EmptyOperator(task_id="publish_1")
    publish_2 = EmptyOperator(task_id="publish_2")
    audit_1 = EmptyOperator(task_id="audit_1")
    audit_2 = EmptyOperator(task_id="audit_2")
    report = PythonOperator(
        task_id="report",
        python_callable=lambda ti: ",".join(ti.xcom_pull(task_ids=["extract.pull_a", "extract.pull_b", "extract.pull_c"])),
    )
    chain(begin, extract, checks, [publish_1, publish_2])
    cross_downstream([publish_1, publish_2], [audit_1, audit_2])
    [audit_1, audit_2] >> report
