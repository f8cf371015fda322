"""The PythonOperator tutorial many of us started with: one task fans out to two, then joins."""

from __future__ import annotations

import time
from datetime import datetime
from pprint import pprint

from tradewind import DAG, PythonOperator


def print_fruit(fruit_name, **kwargs):
    # **kwargs receives the whole template context (ds, ti, params, ...), as in Airflow.
    print("=" * 60)
    print("fruit_name:", fruit_name)
    print("=" * 60)
    pprint(sorted(kwargs))
    print("=" * 60)
    return "print complete!!!"


def sleep_seconds(seconds, **kwargs):
    print("=" * 60)
    print("seconds:" + str(seconds))
    print("=" * 60)
    print("logical date:", kwargs["ds"])
    print("sleeping...")
    time.sleep(seconds)
    return "sleep well!!!"


with DAG(
    dag_id="example_seed_tutorial",
    description="task_1 >> [task_2, task_3] >> task_4 with PythonOperators and op_kwargs",
    default_args={"owner": "tradewind"},
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    doc_md="""
### PythonOperator tutorial (`my_python_dag`)

Four PythonOperators with `op_kwargs`; the callables take `**kwargs` and so also
receive the template context. `task_1` runs first, `task_2` and `task_3` run in
parallel, and `task_4` waits for both.
""",
) as dag:
    t1 = PythonOperator(task_id="task_1", python_callable=print_fruit, op_kwargs={"fruit_name": "apple"})
    t2 = PythonOperator(task_id="task_2", python_callable=print_fruit, op_kwargs={"fruit_name": "banana"})
    t3 = PythonOperator(task_id="task_3", python_callable=sleep_seconds, op_kwargs={"seconds": 1})
    t4 = PythonOperator(task_id="task_4", python_callable=print_fruit, op_kwargs={"fruit_name": "cherry"})

    t1 >> [t2, t3]
    [t2, t3] >> t4
