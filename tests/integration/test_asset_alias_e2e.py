"""End to end with real processes: a producer resolves an AssetAlias at run time (through
outlet_events and a yielded Metadata); the scheduler runs the DAGs scheduled on the alias (alone
and combined with | ), on an asset added through it, and not the one whose & still waits; the
consumer's task sees the events under the alias (triggering_asset_events, inlet_events); the
CLI lists the new assets, the events' source aliases and the aliases; a DAG scheduled on an asset added
through the alias runs too. A DAG file written for Airflow 3
(airflow.sdk imports) does the same through the shims. The REST API lists the aliases."""

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
from tradewind.definition.assets import AssetAlias, Metadata

OUT = AssetAlias("e2e-alias")

with DAG("alias_producer", schedule=None, start_date=datetime(2024, 1, 1)):
    @task(outlets=[OUT])
    def produce(*, outlet_events):
        outlet_events[OUT].add(Asset("s3://bucket/alias-a"), extra={"rows": 1})
        # The same asset and extra again: still one event (Airflow's rule).
        outlet_events[AssetAlias("e2e-alias")].add(Asset("s3://bucket/alias-a"), extra={"rows": 1})
        yield Metadata(Asset("s3://bucket/alias-b"), {"rows": 2}, alias=OUT)
        return "produced"

    @task(outlets=[AssetAlias("e2e-unused")])
    def adds_nothing():
        return "no asset added: no event"

    produce() >> adds_nothing()

with DAG("alias_consumer", schedule=[OUT], start_date=datetime(2024, 1, 1)):
    @task(inlets=[OUT])
    def read(triggering_asset_events=None, inlet_events=None):
        seen = triggering_asset_events[OUT]
        return {
            "triggering": sorted(f"{e.uri}|{e.extra}|{[a.name for a in e.source_aliases]}|{e.source_task_id}"
                                 for e in seen),
            "inlet": sorted(e.uri for e in inlet_events[OUT]),
        }

    read()

with DAG("alias_or_consumer", schedule=OUT | Asset("e2e-never"), start_date=datetime(2024, 1, 1)):
    @task
    def either():
        return "ran"

    either()

with DAG("alias_and_consumer", schedule=OUT & Asset("e2e-never"), start_date=datetime(2024, 1, 1)):
    @task
    def both():
        return "must not run"

    both()

with DAG("unused_alias_consumer", schedule=[AssetAlias("e2e-unused")], start_date=datetime(2024, 1, 1)):
    @task
    def never():
        return "must not run"

    never()

with DAG("concrete_consumer", schedule=[Asset("s3://bucket/alias-b")], start_date=datetime(2024, 1, 1)):
    @task
    def concrete(triggering_asset_events=None):
        # As in Airflow 3, the keys include the alias the event came through (it has no uri).
        return sorted(f"{type(key).__name__}:{key.name}|{[e.extra for e in events]}"
                      for key, events in triggering_asset_events.items())

    concrete()
'''

AIRFLOW3 = '''
import pendulum
from airflow.sdk import DAG, Asset, AssetAlias, Metadata, task

with DAG(dag_id="a3_alias_producer", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    @task(outlets=[AssetAlias("a3-alias")])
    def produce():
        yield Metadata(Asset("s3://bucket/a3"), extra={"n": 3}, alias=AssetAlias("a3-alias"))

    produce()

with DAG(dag_id="a3_alias_consumer", schedule=[AssetAlias("a3-alias")],
         start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    @task
    def read(triggering_asset_events=None):
        return [e.extra for e in triggering_asset_events[AssetAlias("a3-alias")]]

    read()
'''


def _xcom(home, dag_id: str):
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        rows = conn.execute("SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (dag_id,)).fetchall()
    finally:
        conn.close()
    return [json.loads(value) for (value,) in rows]


def _succeeded(home, dag_id: str) -> list[dict]:
    return [r for r in home.json("dags", "list-runs", dag_id) if r["state"] == "success"]


def test_alias_events_trigger_alias_consumers_through_the_scheduler(home):
    home.add_dag("e2e_alias_dag.py", DAGS)
    scheduler = home.popen("scheduler")
    try:
        wait_for(lambda: {d["dag_id"] for d in home.json("dags", "list")} >= {"alias_producer", "concrete_consumer"},
                 deadline=60, what="the DAGs to be parsed")
        home.ok("dags", "trigger", "alias_producer")
        wait_for(lambda: _succeeded(home, "alias_producer"), deadline=120, what="the producer to succeed")
        for dag_id in ("alias_consumer", "alias_or_consumer", "concrete_consumer"):
            wait_for(lambda dag_id=dag_id: _succeeded(home, dag_id), deadline=120,
                     what=f"{dag_id}'s asset-triggered run to succeed")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=60)
    assert sorted(_xcom(home, "alias_producer")) == ["no asset added: no event", "produced"]
    # Once per event: one run each, and none for the DAGs whose condition does not hold.
    for dag_id in ("alias_consumer", "alias_or_consumer", "concrete_consumer"):
        (run,) = home.json("dags", "list-runs", dag_id)
        assert run["run_id"].startswith("asset_triggered__"), run
    assert home.json("dags", "list-runs", "alias_and_consumer") == []
    assert home.json("dags", "list-runs", "unused_alias_consumer") == []
    (value,) = _xcom(home, "alias_consumer")
    assert value == {
        "triggering": ["s3://bucket/alias-a|{'rows': 1}|['e2e-alias']|produce",
                       "s3://bucket/alias-b|{'rows': 2}|['e2e-alias']|produce"],
        "inlet": ["s3://bucket/alias-a", "s3://bucket/alias-b"],
    }
    assert _xcom(home, "concrete_consumer") == [["Asset:s3://bucket/alias-b|[{'rows': 2}]",
                                                 "AssetAlias:e2e-alias|[{'rows': 2}]"]]
    events = home.json("assets", "events")
    assert sorted((e["uri"], e["source_task_id"], e["source_aliases"]) for e in events) == [
        ("s3://bucket/alias-a", "produce", [{"alias": "e2e-alias", "group": "asset"}]),
        ("s3://bucket/alias-b", "produce", [{"alias": "e2e-alias", "group": "asset"}]),
    ]
    listed = {a["uri"] for a in home.json("assets", "list")}
    assert {"s3://bucket/alias-a", "s3://bucket/alias-b", "e2e-never"} <= listed
    aliases = {a["name"]: a for a in home.json("assets", "aliases")}
    assert aliases["e2e-alias"]["resolves_to"] == [{"name": "s3://bucket/alias-a", "uri": "s3://bucket/alias-a"},
                                                   {"name": "s3://bucket/alias-b", "uri": "s3://bucket/alias-b"}]
    assert aliases["e2e-alias"]["consuming_dags"] == ["alias_and_consumer", "alias_consumer", "alias_or_consumer"]
    assert (aliases["e2e-unused"]["resolves_to"], aliases["e2e-unused"]["consuming_dags"]) == (
        [], ["unused_alias_consumer"])


def test_airflow3_alias_dag_file_runs_unchanged(home):
    home.add_dag("a3_alias_dag.py", AIRFLOW3)
    scheduler = home.popen("scheduler")
    try:
        wait_for(lambda: {d["dag_id"] for d in home.json("dags", "list")} >= {"a3_alias_producer", "a3_alias_consumer"},
                 deadline=60, what="the DAGs to be parsed")
        home.ok("dags", "trigger", "a3_alias_producer")
        wait_for(lambda: _succeeded(home, "a3_alias_consumer"), deadline=120,
                 what="the consumer's asset-triggered run to succeed")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=60)
    assert _xcom(home, "a3_alias_consumer") == [[{"n": 3}]]
    assert _xcom(home, "a3_alias_producer") == []  # the generator returned None: no XCom, as in Airflow


API_DAGS = '''
from tradewind import Asset, task
from tradewind.definition.assets import AssetAlias, Metadata

with DAG("api_alias_producer", schedule=None, start_date=datetime(2024, 1, 1)):
    @task(outlets=[AssetAlias("api-alias")])
    def produce():
        yield Metadata("s3://bucket/api", {"n": 1}, alias="api-alias")
        return 5

    produce()

with DAG("api_alias_consumer", schedule=AssetAlias("api-alias") | Asset("api-other"), start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="t")
'''


def test_api_lists_aliases_with_what_they_resolve_to(config, db):
    from api_support import make_api, run_to_end, store_dag_file

    store_dag_file(config, db, "api_alias_dags", API_DAGS)
    api = make_api(config, db)
    (alias,) = api.get("assets/aliases", as_="viewer").json()["asset_aliases"]
    assert (alias["name"], alias["resolves_to"], alias["consuming_dags"]) == ("api-alias", [], ["api_alias_consumer"])
    api.post("dags/api_alias_producer/dagRuns", json={"dag_run_id": "r1", "logical_date": "2024-01-02T00:00:00Z"})
    assert run_to_end(config, db, "api_alias_producer", "r1") == "success"
    body = api.get("assets/aliases", params={"name_pattern": "api"}).json()
    assert body["total_entries"] == 1
    assert body["asset_aliases"][0]["resolves_to"] == [{"name": "s3://bucket/api", "uri": "s3://bucket/api"}]
    (event,) = api.get("assets/events").json()["asset_events"]
    assert (event["uri"], event["extra"], event["source_task_id"]) == ("s3://bucket/api", {"n": 1}, "produce")
    assert [a["name"] for a in event["source_aliases"]] == ["api-alias"]
    assert api.get("assets/aliases", params={"name_pattern": "nope"}).json() == {"asset_aliases": [],
                                                                                 "total_entries": 0}
