"""End to end with real processes: a producer DAG updates assets, the scheduler creates the
consumer's asset-triggered run, whose task sees the triggering events; `assets` CLI listings;
a bad asset expression is an import error naming the DAG and value, other DAGs unharmed."""

from __future__ import annotations

import json
import signal
import sqlite3

import pytest
from cli_support import wait_for

pytestmark = pytest.mark.slow

DAGS = '''
from datetime import datetime
from tradewind import DAG, Asset, task

A = Asset("e2e_a")
B = Asset(name="e2e_b", uri="file:///tmp/e2e/b.csv")

with DAG("e2e_producer", schedule=None, start_date=datetime(2024, 1, 1)) as producer:
    @task(outlets=[A, B])
    def make(outlet_events=None):
        outlet_events[A].extra = {"rows": 7}

    @task(outlets=[A])
    def broken():
        raise ValueError("no asset event for a failed task")

    make() >> broken()

with DAG("e2e_consumer", schedule=[A, B], start_date=datetime(2024, 1, 1)) as consumer:
    @task
    def read(triggering_asset_events=None):
        return sorted(f"{asset.name}:{len(events)}:{events[-1].extra}:{events[-1].source_task_id}"
                      for asset, events in triggering_asset_events.items())

    read()
'''

BAD = '''
from tradewind import DAG, Asset

with DAG("e2e_bad", schedule=[Asset("ok"), "not-an-asset"]) as dag:
    pass
'''


def test_producer_triggers_consumer_through_the_scheduler(home):
    home.add_dag("e2e_assets_dag.py", DAGS)
    home.add_dag("e2e_bad_dag.py", BAD)
    scheduler = home.popen("scheduler")
    try:
        wait_for(lambda: {d["dag_id"] for d in home.json("dags", "list")} >= {"e2e_producer", "e2e_consumer"},
                 deadline=60, what="the DAGs to be parsed")
        home.ok("dags", "trigger", "e2e_producer")
        run = wait_for(lambda: [r for r in home.json("dags", "list-runs", "e2e_consumer") if r["state"] == "success"],
                       deadline=120, what="the consumer's asset-triggered run to succeed")[0]
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=60)
    assert run["run_id"].startswith("asset_triggered__")
    value = home.json("tasks", "states-for-dag-run", "e2e_consumer", run["run_id"])
    assert [t["state"] for t in value] == ["success"]
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        (xcom,) = conn.execute("SELECT value FROM xcom WHERE dag_id = 'e2e_consumer' AND key = 'return_value'").fetchone()
    finally:
        conn.close()
    assert json.loads(xcom) == ["e2e_a:1:{'rows': 7}:make", "e2e_b:1:{}:make"]
    events = home.json("assets", "events")
    assert sorted((e["name"], e["source_task_id"]) for e in events) == [("e2e_a", "make"), ("e2e_b", "make")]
    assert next(e for e in events if e["name"] == "e2e_a")["extra"] == {"rows": 7}
    listed = {a["name"]: a for a in home.json("assets", "list")}
    assert listed["e2e_b"]["uri"] == "file:///tmp/e2e/b.csv"
    assert listed["e2e_a"]["producing_tasks"] == ["e2e_producer.broken", "e2e_producer.make"]
    assert listed["e2e_a"]["consuming_dags"] == ["e2e_consumer"]
    assert listed["e2e_a"]["queued_for"] == []
    details = home.ok("assets", "details", "file:///tmp/e2e/b.csv", "-o", "plain").stdout
    assert "name\te2e_b" in details
    missing = home.run("assets", "events", "--asset", "nope")
    assert missing.returncode == 1 and "asset 'nope' not found" in missing.stderr
    schedules = {d["dag_id"]: d["schedule"] for d in home.json("dags", "list")}
    assert schedules["e2e_consumer"] == "Asset"
    errors = home.json("dags", "list-import-errors")
    assert any("DAG 'e2e_bad'" in e["message"] and "'not-an-asset'" in e["message"] for e in errors), errors
