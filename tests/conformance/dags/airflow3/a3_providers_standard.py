"""Airflow 3 provider paths of the standard operators and sensors (airflow.providers.standard.*)."""
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator, PythonOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import DAG

with DAG(dag_id="a3_providers_standard", schedule=timedelta(hours=6), start_date=datetime(2024, 1, 1),
         catchup=False, default_args={"retries": 0}) as dag:
    begin = EmptyOperator(task_id="begin")
    waited = TimeDeltaSensor(task_id="waited", delta=timedelta(seconds=1), poke_interval=1)
    ready = PythonSensor(task_id="ready", python_callable=lambda: True, poke_interval=1)
    pick = BranchPythonOperator(task_id="pick", python_callable=lambda: ["bash_path"])
    bash_path = BashOperator(task_id="bash_path", bash_command="echo '{{ logical_date | ds }} {{ run_id }}' | cut -c1-10")
    python_path = PythonOperator(task_id="python_path", python_callable=lambda: "not taken")
    end = EmptyOperator(task_id="end", trigger_rule="none_failed_min_one_success")
    begin >> [waited, ready] >> pick >> [bash_path, python_path] >> end
