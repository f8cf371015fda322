"""Airflow 3.3's state stores end to end under ``tradewind dags test`` (Airflow-style DAG files,
unchanged, written for these tests): a task stores a job id, fails, and its retry reads it back;
an async task checkpoints with ``aset`` and resumes with ``aget``; mapped instances keep their
own keys; an asset's state store carries a watermark from one run to the next and to a consumer."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

pytestmark = pytest.mark.slow

TASK_DAG = '''
import asyncio
from datetime import datetime, timedelta
from airflow.sdk import DAG, task
from airflow.sdk.execution_time.context import NEVER_EXPIRE

with DAG("tss_retry", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    @task(retries=2, retry_delay=timedelta(seconds=0))
    def run_job(task_state_store=None, ti=None):
        job_id = task_state_store.get("job_id")
        if job_id is None:
            task_state_store.set("job_id", f"job-from-try-{ti.try_number}", retention=NEVER_EXPIRE)
            task_state_store.set("scratch", "temporary")
            raise RuntimeError("lost the connection after submitting the job")
        task_state_store.delete("scratch")
        task_state_store.set("status", "complete", retention=timedelta(hours=2))
        return f"try {ti.try_number} reattached to {job_id}"

    @task(retries=1, retry_delay=0)
    async def checkpointed(task_state_store=None, ti=None):
        progress = await task_state_store.aget("progress", default={"done": []})
        done = list(progress["done"])
        for page in range(1, 7):
            if page in done:
                continue
            await asyncio.sleep(0)
            done.append(page)
            await task_state_store.aset("progress", {"done": done}, retention=NEVER_EXPIRE)
            if ti.try_number == 1 and len(done) == 3:
                raise RuntimeError("staged failure after three pages")
        return {"resumed_with": len(progress["done"]), "pages": done}

    @task
    def tables():
        return ["orders", "customers"]

    @task
    def per_table(table, **context):
        store = context["task_state_store"]
        store.set("table", table)
        return [context["ti"].map_index, store.get("table")]

    run_job()
    checkpointed()
    per_table.expand(table=tables())
'''

ASSET_DAG = '''
from datetime import datetime
from airflow.sdk import DAG, Asset, task

ORDERS = Asset(name="orders/daily", uri="s3://warehouse/orders/daily")

with DAG("ass_producer", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    @task(inlets=[ORDERS], outlets=[ORDERS])
    def load(asset_state_store=None, logical_date=None):
        state = asset_state_store[ORDERS]
        previous = state.get("watermark", default="start")
        state.set("watermark", logical_date.isoformat())
        state.set("total_runs", state.get("total_runs", default=0) + 1)
        return previous

    load()

with DAG("ass_consumer", schedule=[ORDERS], start_date=datetime(2024, 1, 1), catchup=False):
    @task(inlets=[ORDERS])
    def consume(asset_state_store=None):
        state = asset_state_store[ORDERS]
        return [state.get("watermark"), state.get("total_runs"), state.get("missing", default="none")]

    consume()
'''


def _query(home: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _xcom(home: Any, dag_id: str, task_id: str) -> dict[int, Any]:
    rows = _query(home, "SELECT map_index, value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value'",
                  dag_id, task_id)
    return {m: json.loads(v) for m, v in rows}


def test_task_state_survives_a_failed_try_and_the_retry_reads_it(home):
    home.add_dag("tss_retry_dag.py", TASK_DAG)
    result = home.ok("dags", "test", "tss_retry", "2024-03-02")
    assert "of DAG tss_retry: success" in result.stdout
    states = {t["task_id"]: t for t in home.json("tasks", "states-for-dag-run", "tss_retry",
                                                  "manual__2024-03-02T00:00:00+00:00")}
    assert states["run_job"]["state"] == "success" and states["checkpointed"]["state"] == "success"
    assert _xcom(home, "tss_retry", "run_job") == {-1: "try 2 reattached to job-from-try-1"}
    assert _xcom(home, "tss_retry", "checkpointed") == {-1: {"resumed_with": 3, "pages": [1, 2, 3, 4, 5, 6]}}
    assert _xcom(home, "tss_retry", "per_table") == {0: [0, "orders"], 1: [1, "customers"]}
    rows = _query(home, "SELECT task_id, map_index, key, value, expires_at FROM task_state_store "
                        "WHERE dag_id = 'tss_retry' ORDER BY task_id, map_index, key")
    got = {(t, m, k): (json.loads(v), e) for t, m, k, v, e in rows}
    assert set(got) == {("checkpointed", -1, "progress"), ("per_table", 0, "table"), ("per_table", 1, "table"),
                        ("run_job", -1, "job_id"), ("run_job", -1, "status")}  # "scratch" was deleted
    assert got[("run_job", -1, "job_id")] == ("job-from-try-1", None)  # NEVER_EXPIRE
    assert got[("run_job", -1, "status")][1] is not None  # retention=2 h
    assert got[("per_table", 0, "table")][1] is not None  # [state_store] default_retention_days


def test_default_retention_days_zero_stores_keys_that_never_expire(home):
    home.add_dag("tss_retry_dag.py", TASK_DAG)
    home.env["TRADEWIND__STATE_STORE__DEFAULT_RETENTION_DAYS"] = "0"
    home.ok("dags", "test", "tss_retry", "2024-03-02")
    rows = _query(home, "SELECT expires_at FROM task_state_store WHERE task_id = 'per_table'")
    assert rows == [(None,), (None,)]


def test_clear_on_success_deletes_the_keys_of_instances_that_succeed(home):
    home.add_dag("tss_retry_dag.py", TASK_DAG)
    home.env["TRADEWIND__STATE_STORE__CLEAR_ON_SUCCESS"] = "True"
    home.ok("dags", "test", "tss_retry", "2024-03-02")
    # the retry still read the first try's job id; the success then removed every key
    assert _xcom(home, "tss_retry", "run_job") == {-1: "try 2 reattached to job-from-try-1"}
    assert _query(home, "SELECT count(*) FROM task_state_store") == [(0,)]


def test_asset_state_carries_a_watermark_across_runs_and_to_the_consumer(home):
    home.add_dag("ass_dag.py", ASSET_DAG)
    home.ok("dags", "test", "ass_producer", "2024-03-02")
    home.ok("dags", "test", "ass_producer", "2024-03-03")
    assert _xcom(home, "ass_producer", "load") == {-1: "2024-03-02T00:00:00+00:00"}  # the second run's read
    result = home.ok("dags", "test", "ass_consumer", "2024-03-04")
    assert "of DAG ass_consumer: success" in result.stdout
    assert _xcom(home, "ass_consumer", "consume") == {-1: ["2024-03-03T00:00:00+00:00", 2, "none"]}
    (count,) = _query(home, "SELECT count(*) FROM asset_state_store s JOIN asset a ON a.id = s.asset_id "
                            "WHERE a.name = 'orders/daily'")[0]
    assert count == 2
