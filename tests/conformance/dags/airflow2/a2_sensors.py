"""Airflow 2 sensors: FileSensor waiting on a file an upstream task writes, PythonSensor and
BashSensor with short poke intervals, TimeDeltaSensor on a past interval."""
import os
import tempfile
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.sensors.bash import BashSensor
from airflow.sensors.filesystem import FileSensor
from airflow.sensors.python import PythonSensor
from airflow.sensors.time_delta import TimeDeltaSensor

MARKER = os.path.join(tempfile.gettempdir(), "tw_conformance_a2_sensors_{{ ds_nodash }}.flag")


def marker_exists(path):
    return os.path.exists(path)


with DAG("a2_sensors", start_date=datetime(2024, 1, 1), schedule_interval="@daily", catchup=False) as dag:
    interval_over = TimeDeltaSensor(task_id="interval_over", delta=timedelta(minutes=1), poke_interval=1)
    write = BashOperator(task_id="write_marker", bash_command=f"touch {MARKER}")
    wait_file = FileSensor(task_id="wait_file", filepath=MARKER, poke_interval=1, timeout=60)
    wait_python = PythonSensor(
        task_id="wait_python", python_callable=marker_exists, op_args=[MARKER], poke_interval=1, timeout=60
    )
    wait_bash = BashSensor(task_id="wait_bash", bash_command=f"test -f {MARKER}", poke_interval=1, timeout=60)
    cleanup = BashOperator(task_id="cleanup", bash_command=f"rm -f {MARKER} && echo cleaned")
    interval_over >> write >> [wait_file, wait_python, wait_bash] >> cleanup
