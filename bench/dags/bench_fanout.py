"""Benchmark: start -> 100 parallel no-op Python tasks -> end (measures throughput)."""

from __future__ import annotations

from tradewind import DAG, EmptyOperator, PythonOperator

WIDTH = 100


def noop() -> None:
    return None


with DAG(
    dag_id="bench_fanout",
    schedule=None,
    catchup=False,
    is_paused_upon_creation=False,
    max_active_tasks=WIDTH,
    tags=["bench"],
    doc_md="One start task, 100 no-op PythonOperators in parallel, one end task.",
) as dag:
    start = EmptyOperator(task_id="start")
    end = EmptyOperator(task_id="end")
    for i in range(WIDTH):
        start >> PythonOperator(task_id=f"work_{i:03d}", python_callable=noop) >> end
