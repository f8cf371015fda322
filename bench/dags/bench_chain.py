"""Benchmark: a linear chain of 20 no-op Python tasks (measures per-task overhead and gaps)."""

from __future__ import annotations

from tradewind import DAG, PythonOperator, chain

CHAIN_LENGTH = 20


def noop() -> None:
    return None


with DAG(
    dag_id="bench_chain",
    schedule=None,
    catchup=False,
    is_paused_upon_creation=False,
    tags=["bench"],
    doc_md="20 no-op PythonOperators, each waiting for the previous one.",
) as dag:
    chain(*[PythonOperator(task_id=f"step_{i:02d}", python_callable=noop) for i in range(CHAIN_LENGTH)])
