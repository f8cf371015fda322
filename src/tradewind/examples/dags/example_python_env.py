"""Python callables in other interpreters: ``@task.virtualenv`` and ``ExternalPythonOperator``."""

from __future__ import annotations

import sys
from datetime import datetime

from tradewind import DAG, ExternalPythonOperator, task


def describe_interpreter(label: str, ds: str) -> dict:
    # Runs in another process: imports go inside the function, arguments and result are JSON.
    import platform
    import sys

    print(f"{label}: Python {platform.python_version()} at {sys.executable}")
    return {"label": label, "day": ds, "in_venv": sys.prefix != sys.base_prefix}


with DAG(
    dag_id="example_python_env",
    description="Run task functions in a fresh virtualenv and in another Python interpreter",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Python environments

* `numbers` is a plain `@task`.
* `stats` is a `@task.virtualenv`: its source runs in a new virtualenv made for the try
  (`system_site_packages=True`, no requirements, so it needs no network). Add
  `requirements=["pandas==2.2.2"]` to install packages; `venv_cache_path=` reuses the environment.
* `external` runs with an existing interpreter (`python=`), here this one.

Arguments and return values cross the process boundary as JSON; output lines land in the task log.
""",
) as dag:

    @task
    def numbers() -> list[int]:
        return [3, 1, 4, 1, 5, 9, 2, 6]

    @task.virtualenv(system_site_packages=True)
    def stats(values: list[int]) -> dict:
        import statistics

        print(f"computing stats of {len(values)} values in a virtualenv")
        return {"mean": statistics.mean(values), "median": statistics.median(values), "max": max(values)}

    stats(numbers())
    ExternalPythonOperator(task_id="external", python=sys.executable, python_callable=describe_interpreter,
                           op_args=["external"], op_kwargs={"ds": "{{ ds }}"})
