"""``@asset`` end to end with real processes (standalone: DAG processor, scheduler, executor): an
Airflow 3 file whose assets are ``@asset`` functions (book-style: the next asset pulls the previous
one's XCom by dag_id/task_id = the asset's name), an ``@asset.multi`` producing two assets, a DAG
scheduled on the multi-asset, and a DAG in another file scheduled on ``Asset.ref(name=...)`` of an
asset that did not exist when that file was first parsed. Triggering the first asset's DAG runs
the whole chain; each task receives self/context/inlet assets as Airflow passes them."""

from __future__ import annotations

import json
import signal
import sqlite3

import pytest
from cli_support import Home, free_port, wait_for

pytestmark = pytest.mark.slow

DEADLINE = 150.0

PIPELINE = '''
from airflow.sdk import Asset, asset


@asset(schedule=None, tags=["e2e"])
def extracted_data(self):
    return {"a": 23, "b": 19, "me": [self.name, self.uri]}


@asset(schedule=extracted_data, uri="s3://lake/transformed")
def transformed_data(self, context, extracted_data):
    data = context["ti"].xcom_pull(dag_id="extracted_data", task_ids="extracted_data", key="return_value",
                                   include_prior_dates=True)
    return {"sum": data["a"] + data["b"], "inlet": [extracted_data.name, extracted_data.uri], "me": self.uri}


@asset.multi(schedule=transformed_data, outlets=[Asset("report_a"), Asset("report_b", uri="s3://reports/b")])
def reports(context):
    context["outlet_events"][Asset("report_a")].extra["pages"] = 2
    return sorted(e.name for events in context["triggering_asset_events"].values() for e in events)


@asset(schedule=reports)
def published(self, report_a):
    return [self.name, report_a.name]
'''

BY_REF = '''
from datetime import datetime
from airflow.sdk import Asset, dag, task


@dag(schedule=Asset.ref(name="report_b"), start_date=datetime(2024, 1, 1), catchup=False)
def on_report_b():
    @task
    def seen(triggering_asset_events=None):
        return sorted([e.asset.name, e.asset.uri] for events in triggering_asset_events.values() for e in events)

    seen()


on_report_b()
'''

CHAIN = ("extracted_data", "transformed_data", "reports", "published", "on_report_b")


def _value(db_path, dag_id: str):
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (dag_id,)).fetchall()
    assert len(rows) == 1, (dag_id, rows)
    value = rows[0][0]
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _succeeded(home: Home, dag_id: str) -> bool:
    return any(r["state"] == "success" for r in home.json("dags", "list-runs", dag_id))


def test_asset_functions_run_as_a_chain_of_dags(home: Home) -> None:
    # "a_" sorts first: the reference is parsed before report_b's producer exists.
    home.add_dag("a_by_ref.py", BY_REF)
    home.add_dag("pipeline.py", PIPELINE)
    home.env["TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    proc = home.popen("standalone", "--port", str(free_port()))
    db_path = home.path / "tradewind.db"
    try:
        wait_for(lambda: set(CHAIN) <= {d["dag_id"] for d in home.json("dags", "list")},
                 deadline=DEADLINE, interval=0.5, what="every DAG parsed")
        assert home.json("dags", "list-import-errors") == []
        home.ok("dags", "trigger", "extracted_data")
        for dag_id in CHAIN:
            wait_for(lambda d=dag_id: _succeeded(home, d), deadline=DEADLINE, interval=0.5,
                     what=f"{dag_id} succeeded")
        tasks = home.ok("tasks", "list", "reports").stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "reports" in tasks  # @asset.multi: one task named after the function
    assert _value(db_path, "extracted_data") == {"a": 23, "b": 19, "me": ["extracted_data", "extracted_data"]}
    assert _value(db_path, "transformed_data") == {
        "sum": 42, "inlet": ["extracted_data", "extracted_data"], "me": "s3://lake/transformed"}
    assert _value(db_path, "reports") == ["transformed_data"]
    assert _value(db_path, "published") == ["published", "report_a"]
    assert _value(db_path, "on_report_b") == [["report_b", "s3://reports/b"]]
