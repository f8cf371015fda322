"""Airflow 2 PythonOperator habits: provide_context=True, **kwargs context, op_args/op_kwargs,
templates_dict, explicit ti.xcom_push / ti.xcom_pull with keys."""
from datetime import datetime

from airflow import DAG
from airflow.operators.python_operator import PythonOperator


def extract(**kwargs):
    ti = kwargs["ti"]
    rows = [{"id": 1, "amount": 10}, {"id": 2, "amount": 32}]
    ti.xcom_push(key="rows", value=rows)
    return len(rows)


def transform(multiplier, **context):
    rows = context["ti"].xcom_pull(task_ids="extract", key="rows")
    count = context["ti"].xcom_pull(task_ids="extract")
    total = sum(r["amount"] for r in rows) * multiplier
    return {"count": count, "total": total, "ds": context["ds"]}


def load(prefix, templates_dict=None, **kwargs):
    summary = kwargs["task_instance"].xcom_pull(task_ids="transform")
    return f"{prefix}:{templates_dict['table']}:{summary['total']}:{kwargs['execution_date'].strftime('%Y%m%d')}"


with DAG(
    dag_id="a2_python_context",
    start_date=datetime(2024, 1, 1),
    schedule_interval="@daily",
    catchup=False,
) as dag:
    t_extract = PythonOperator(task_id="extract", python_callable=extract, provide_context=True)
    t_transform = PythonOperator(
        task_id="transform", python_callable=transform, op_kwargs={"multiplier": 2}, provide_context=True
    )
    t_load = PythonOperator(
        task_id="load",
        python_callable=load,
        op_args=["loaded"],
        templates_dict={"table": "sales_{{ ds_nodash }}"},
        provide_context=True,
    )
    t_extract >> t_transform >> t_load
