"""Airflow 2 Variables: Variable.get with default_var / deserialize_json (values from AIRFLOW_VAR_*
environment variables), and var.value / var.json in templates."""
from datetime import datetime

from airflow import DAG
from airflow.models import Variable
from airflow.operators.bash_operator import BashOperator
from airflow.operators.python_operator import PythonOperator


def read_variables():
    region = Variable.get("conformance_region", default_var="nowhere")
    settings = Variable.get("conformance_settings", deserialize_json=True)
    missing = Variable.get("conformance_missing", default_var="fallback")
    return f"{region}|{settings['batch']}|{missing}"


dag = DAG("a2_variables", start_date=datetime(2024, 1, 1), schedule_interval="@once")

read = PythonOperator(task_id="read_variables", python_callable=read_variables, dag=dag)
templated = BashOperator(
    task_id="templated_variables",
    bash_command="echo '{{ var.value.conformance_region }}-{{ var.json.conformance_settings.batch }}'",
    dag=dag,
)
read >> templated
