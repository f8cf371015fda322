"""Airflow 2 templating: user_defined_macros, user_defined_filters, params overridden by default_args,
prev_ds / next_ds / yesterday_ds / tomorrow_ds, ti.xcom_pull inside Jinja, .sh template file."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.operators.python_operator import PythonOperator


def shout(value):
    return value.upper()


with DAG(
    "a2_templates",
    start_date=datetime(2024, 1, 1),
    schedule_interval="@daily",
    catchup=False,
    user_defined_macros={"team": "platform", "double": lambda x: x * 2},
    user_defined_filters={"shout": shout},
    params={"table": "events"},
) as dag:
    dates = BashOperator(
        task_id="dates",
        bash_command="echo '{{ yesterday_ds }} {{ ds }} {{ tomorrow_ds }}'",
    )
    macros_task = BashOperator(
        task_id="macros",
        bash_command="echo '{{ team | shout }}-{{ double(21) }}-{{ params.table }}'",
    )
    produce = PythonOperator(task_id="produce", python_callable=lambda: "value-from-xcom")
    consume = BashOperator(
        task_id="consume",
        bash_command="echo \"got {{ ti.xcom_pull(task_ids='produce') }} on {{ ds_nodash }}\"",
    )
    script = BashOperator(task_id="script", bash_command="report.sh")
    dates >> macros_task >> produce >> consume >> script
