"""Keeping a daily pipeline honest: depends_on_past / wait_for_downstream, automatic pausing after
repeated failures, callbacks with the full context, and e-mail alerts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tradewind import DAG, PythonOperator, Variable


def _journal(context, event: str) -> None:
    """Append one line per callback to <data folder>/reliability/journal.jsonl."""
    folder = Path(Variable.get("data_folder", default_var=context["conf"].get("core", "data_folder")))
    path = folder / "reliability" / "journal.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    ti = context.get("ti")
    entry = {"event": event, "dag_id": context["dag"].dag_id, "run_id": context["run_id"], "ds": context["ds"],
             "task_id": ti.task_id if ti is not None else None, "reason": context.get("reason"),
             "exception": str(context["exception"]) if context.get("exception") else None}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def on_run_success(context) -> None:
    _journal(context, "run_success")


def on_run_failure(context) -> None:
    _journal(context, "run_failure")


def on_task_retry(context) -> None:
    _journal(context, "task_retry")


def ingest(ds=None, params=None) -> int:
    if params["fail_ingest"]:
        raise RuntimeError(f"source for {ds} is not ready")
    rows = 100 + int(ds[-2:])
    print(f"ingested {rows} rows for {ds}")
    return rows


def aggregate(ti=None) -> int:
    return ti.xcom_pull(task_ids="ingest") // 10


with DAG(
    dag_id="example_reliability",
    description="depends_on_past, wait_for_downstream, max_consecutive_failed_dag_runs, callbacks, e-mail alerts",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    max_consecutive_failed_dag_runs=3,
    params={"fail_ingest": False},
    on_success_callback=on_run_success,
    on_failure_callback=on_run_failure,
    tags=["example"],
    default_args={
        "owner": "tradewind",
        "retries": 1,
        "retry_delay": timedelta(seconds=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_retry_callback": on_task_retry,
        "email": ["data-team@example.com"],
        "email_on_failure": True,
        "email_on_retry": False,
    },
    doc_md="""
### Reliability features

* `ingest` has `depends_on_past=True` and `wait_for_downstream=True`: a day's ingest starts only
  once the previous day's `ingest` **and** `aggregate` succeeded (or were skipped), so days are
  loaded in order and never on top of a half-processed one.
* `max_consecutive_failed_dag_runs=3`: after three failed runs in a row the scheduler pauses the
  DAG and writes `dag.auto_pause` to the audit log (`tradewind audit list --event dag.auto_pause`).
* Retries back off exponentially (1 s, 2 s, 4 s, ... capped at `max_retry_delay`); each retry
  calls `on_retry_callback`; a final failure e-mails `email` through `[smtp]` settings.
* The DAG's callbacks get the full context (`dag_run`, `ti` of the failed task, `reason`,
  `params`, `conf`...) and append a line to `<data folder>/reliability/journal.jsonl`.

Try a failing run: `tradewind dags test example_reliability -c '{"fail_ingest": true}'`.
""",
) as dag:
    load = PythonOperator(task_id="ingest", python_callable=ingest, depends_on_past=True, wait_for_downstream=True)
    rollup = PythonOperator(task_id="aggregate", python_callable=aggregate)
    load >> rollup
