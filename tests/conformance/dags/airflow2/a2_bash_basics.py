"""Airflow 2 classic: module-level DAG object, Airflow 2 import paths, default_args, schedule_interval,
days_ago, Jinja with ds / ds_nodash / execution_date / macros, set_downstream / set_upstream."""
from datetime import timedelta

from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.utils.dates import days_ago

default_args = {
    "owner": "data-team",
    "depends_on_past": False,
    "email_on_failure": False,
    "email_on_retry": False,
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
}

dag = DAG(
    "a2_bash_basics",
    default_args=default_args,
    description="Bash tasks with templates",
    schedule_interval=timedelta(days=1),
    start_date=days_ago(2),
    tags=["conformance"],
)

print_date = BashOperator(task_id="print_date", bash_command="date", dag=dag)

templated = BashOperator(
    task_id="templated",
    bash_command="""
{% for i in range(3) %}
echo "day {{ ds }} plus {{ i }} is {{ macros.ds_add(ds, i) }}"
{% endfor %}
echo "{{ ds_nodash }}|{{ execution_date.strftime('%Y/%m/%d') }}|{{ params.who }}"
""",
    params={"who": "airflow2"},
    dag=dag,
)

env_task = BashOperator(
    task_id="env_task",
    bash_command='echo "run=$RUN_DAY"',
    env={"RUN_DAY": "{{ ds }}"},
    dag=dag,
)

print_date.set_downstream(templated)
env_task.set_upstream(print_date)
