"""REST API v2 (Airflow 3): /assets, /assets/aliases, /assets/events (list, create), queued events
per asset and per DAG, and /assets/{id}/materialize."""

from __future__ import annotations

import pytest
from api_support import Api, make_api, store_dag_file
from test_api_v2_dags import dump, v2

from tradewind.persist.models import DagRun

DAGS = """
from tradewind import Asset
from tradewind.definition.assets import AssetAlias

daily = Asset(name="daily", uri="s3://bucket/daily")
weekly = Asset(name="weekly_report", uri="file:///reports/weekly")

with DAG("producer", start_date=datetime(2024, 1, 1), schedule=None, dag_display_name="The Producer"):
    EmptyOperator(task_id="make", outlets=[daily])

with DAG("consumer", start_date=datetime(2024, 1, 1), schedule=[daily], dag_display_name="The Consumer"):
    EmptyOperator(task_id="use")

with DAG("second_consumer", start_date=datetime(2024, 1, 1), schedule=[daily]):
    EmptyOperator(task_id="use")

with DAG("weekly_a", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="make", outlets=[weekly])

with DAG("weekly_b", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="make", outlets=[weekly])

with DAG("on_alias", start_date=datetime(2024, 1, 1), schedule=[AssetAlias("my-alias")]):
    EmptyOperator(task_id="use")
"""


@pytest.fixture
def api(config, db) -> Api:
    api = make_api(config, db)
    store_dag_file(config, db, "asset_dags", DAGS)
    return api


def asset_ids(api: Api) -> dict[str, int]:
    return {a["name"]: a["id"] for a in api.get(v2("assets")).json()["assets"]}


def test_assets_list_filters_and_get(api) -> None:
    body = api.get(v2("assets"), as_="viewer").json()
    dump("AssetCollectionResponse", body)
    assert body["total_entries"] == 2 and [a["name"] for a in body["assets"]] == ["daily", "weekly_report"]
    daily = body["assets"][0]
    assert [d["dag_id"] for d in daily["scheduled_dags"]] == ["consumer", "second_consumer"]
    assert [(t["dag_id"], t["task_id"]) for t in daily["producing_tasks"]] == [("producer", "make")]
    assert daily["consuming_tasks"] == [] and daily["aliases"] == [] and daily["watchers"] == []
    assert daily["last_asset_event"] is None

    def names(**params) -> list[str]:
        response = api.get(v2("assets"), params=params)
        assert response.status_code == 200, response.text
        return [a["name"] for a in response.json()["assets"]]

    assert names(name_pattern="REPORT") == ["weekly_report"]
    assert names(name_prefix_pattern="dai") == ["daily"]
    assert names(uri_pattern="bucket") == ["daily"]
    assert names(uri_prefix_pattern="file://") == ["weekly_report"]
    assert names(dag_ids=["weekly_b"]) == ["weekly_report"]
    assert names(dag_ids=["consumer"]) == ["daily"]
    assert names(order_by="-name") == ["weekly_report", "daily"]
    assert names(limit=1, offset=1) == ["weekly_report"]
    assert api.get(v2("assets"), params={"order_by": "bogus"}).status_code == 400

    one = api.get(v2(f"assets/{daily['id']}")).json()
    dump("AssetResponse", one)
    assert one["name"] == "daily"
    missing = api.get(v2("assets/999"))
    assert missing.status_code == 404 and missing.json()["detail"] == "The Asset with ID: `999` was not found"
    assert api.get(v2("assets"), as_=None).status_code == 401


def test_aliases(api) -> None:
    body = api.get(v2("assets/aliases"), as_="viewer").json()
    dump("AssetAliasCollectionResponse", body)
    assert body["total_entries"] == 1 and body["asset_aliases"][0]["name"] == "my-alias"
    alias_id = body["asset_aliases"][0]["id"]
    assert api.get(v2(f"assets/aliases/{alias_id}")).json() == {"id": alias_id, "name": "my-alias",
                                                                 "group": "asset"}
    assert api.get(v2("assets/aliases"), params={"name_pattern": "nope"}).json()["total_entries"] == 0
    assert api.get(v2("assets/aliases/999")).status_code == 404


def test_create_event_queues_and_schedules_consumers(api, config, db) -> None:
    daily = asset_ids(api)["daily"]
    assert api.post(v2("assets/events"), json={"asset_id": daily}, as_="viewer").status_code == 403
    bad = api.post(v2("assets/events"), json={"asset_id": daily, "bogus": 1})
    assert bad.status_code == 422 and bad.json()["field"] == "bogus"
    assert api.post(v2("assets/events"), json={"asset_id": 999}).status_code == 404

    made = api.post(v2("assets/events"), json={"asset_id": daily, "extra": {"rows": 3}}, as_="user")
    assert made.status_code == 200, made.text
    event = made.json()
    dump("AssetEventResponse", event)
    assert event["asset_id"] == daily and event["extra"] == {"rows": 3} and event["source_map_index"] == -1
    assert event["name"] == "daily" and event["created_dagruns"] == []

    queued = api.get(v2(f"assets/{daily}/queuedEvents"), as_="viewer").json()
    dump("QueuedEventCollectionResponse", queued)
    assert [(q["dag_id"], q["dag_display_name"]) for q in queued["queued_events"]] == \
        [("consumer", "The Consumer"), ("second_consumer", "second_consumer")]
    one = api.get(v2(f"dags/consumer/assets/{daily}/queuedEvents")).json()
    dump("QueuedEventResponse", one)
    assert one["asset_id"] == daily and one["dag_id"] == "consumer"
    assert api.get(v2("dags/consumer/assets/queuedEvents")).json()["total_entries"] == 1
    assert api.get(v2(f"assets/{daily}/queuedEvents"), params={"before": "2000-01-01T00:00:00Z"}).status_code == 404
    assert api.get(v2(f"assets/{daily}/queuedEvents"), params={"before": "2999-01-01"}).json()["total_entries"] == 2
    bad_before = api.get(v2(f"assets/{daily}/queuedEvents"), params={"before": "yesterday"})
    assert bad_before.status_code == 400 and bad_before.json()["field"] == "before"

    # The scheduler turns the queued event into asset-triggered runs of both consumers.
    from tradewind.execute.executors.inprocess import InProcessExecutor
    from tradewind.schedule.scheduler import Scheduler

    executor = InProcessExecutor(1, config=config, db=db)
    scheduler = Scheduler(config, db, executor)
    try:
        scheduler.run_once()
    finally:
        close = getattr(scheduler, "close", None)
        if close is not None:
            close()
    with db.read_scope() as session:
        runs = sorted((r.dag_id, r.run_type) for r in session.query(DagRun).all())
    assert runs == [("consumer", "asset_triggered"), ("second_consumer", "asset_triggered")]
    events = api.get(v2("assets/events"), params={"asset_id": daily}).json()
    dump("AssetEventCollectionResponse", events)
    assert [r["dag_id"] for r in events["asset_events"][0]["created_dagruns"]] == ["consumer", "second_consumer"]
    assert api.get(v2(f"assets/{daily}")).json()["last_asset_event"]["id"] == event["id"]


def test_event_filters_and_order(api) -> None:
    ids = asset_ids(api)
    for asset in ("daily", "weekly_report", "daily"):
        assert api.post(v2("assets/events"), json={"asset_id": ids[asset]}).status_code == 200
    events = api.get(v2("assets/events")).json()
    assert events["total_entries"] == 3
    first, _, last = (e["timestamp"] for e in events["asset_events"])

    def count(**params) -> int:
        response = api.get(v2("assets/events"), params=params)
        assert response.status_code == 200, response.text
        return response.json()["total_entries"]

    assert count(asset_id=ids["daily"]) == 2
    assert count(name_pattern="weekly") == 1
    assert count(name_prefix_pattern="dai") == 2
    assert count(timestamp_gt=first) == 2
    assert count(timestamp_lte=first) == 1
    assert count(source_dag_id="producer") == 0
    ordered = api.get(v2("assets/events"), params={"order_by": "-timestamp"}).json()["asset_events"]
    assert ordered[0]["timestamp"] == last
    assert api.get(v2("assets/events"), params={"order_by": "uri"}).status_code == 400


def test_delete_queued_events(api) -> None:
    daily = asset_ids(api)["daily"]
    api.post(v2("assets/events"), json={"asset_id": daily})
    assert api.delete(v2(f"dags/consumer/assets/{daily}/queuedEvents"), as_="viewer").status_code == 403
    assert api.delete(v2(f"dags/consumer/assets/{daily}/queuedEvents"), as_="user").status_code == 204
    assert api.get(v2(f"dags/consumer/assets/{daily}/queuedEvents")).status_code == 404
    assert api.get(v2(f"assets/{daily}/queuedEvents")).json()["total_entries"] == 1
    assert api.delete(v2("dags/second_consumer/assets/queuedEvents")).status_code == 204
    assert api.get(v2(f"assets/{daily}/queuedEvents")).status_code == 404
    assert api.delete(v2(f"assets/{daily}/queuedEvents")).status_code == 404
    api.post(v2("assets/events"), json={"asset_id": daily})
    assert api.delete(v2(f"assets/{daily}/queuedEvents"), params={"before": "2000-01-01T00:00:00Z"}).status_code \
        == 404
    assert api.delete(v2(f"assets/{daily}/queuedEvents")).status_code == 204
    assert api.get(v2("dags/consumer/assets/queuedEvents")).status_code == 404
    assert api.get(v2("dags/nope/assets/queuedEvents")).status_code == 404


def test_materialize_triggers_the_producing_dag(api) -> None:
    ids = asset_ids(api)
    assert api.post(v2(f"assets/{ids['daily']}/materialize"), as_="viewer").status_code == 403
    response = api.post(v2(f"assets/{ids['daily']}/materialize"), as_="user")
    assert response.status_code == 200, response.text
    run = response.json()
    dump("DAGRunResponse", run)
    assert run["dag_id"] == "producer" and run["state"] == "queued"
    assert run["run_type"] == "asset_materialization" and run["dag_run_id"].startswith("asset_materialization__")
    assert run["triggering_user_name"] == "user_user" and run["triggered_by"] == "rest_api"
    named = api.post(v2(f"assets/{ids['daily']}/materialize"), json={"dag_run_id": "mine", "conf": {"a": 1}})
    assert named.status_code == 200 and named.json()["dag_run_id"] == "mine" and named.json()["conf"] == {"a": 1}
    again = api.post(v2(f"assets/{ids['daily']}/materialize"), json={"dag_run_id": "mine"})
    assert again.status_code == 409
    several = api.post(v2(f"assets/{ids['weekly_report']}/materialize"))
    assert several.status_code == 409 and "weekly_a" in several.json()["detail"]
    unsupported = api.post(v2(f"assets/{ids['daily']}/materialize"), json={"partition_key": "p"})
    assert unsupported.status_code == 400 and unsupported.json()["field"] == "partition_key"
    assert api.post(v2("assets/999/materialize")).status_code == 404
    runs = api.get("/api/v1/dags/producer/dagRuns").json()
    assert runs["total_entries"] == 2 and {r["run_type"] for r in runs["dag_runs"]} == {"asset_materialization"}
    listed = api.get(v2("dags/producer/dagRuns"), params={"run_type": "asset_materialization"}).json()
    assert listed["total_entries"] == 2
    assert api.get("/api/v1/eventLogs", params={"dag_id": "producer"}).json()["event_logs"][0]["event"] == "trigger"


def test_dag_list_filters_on_assets_and_import_errors(api, db) -> None:
    from datetime import datetime, timezone

    from tradewind.persist.models import DagModel, ImportError_

    def listed(**params) -> list[str]:
        response = api.get(v2("dags"), params=params)
        assert response.status_code == 200, response.text
        return [d["dag_id"] for d in response.json()["dags"]]

    assert listed(has_asset_schedule="true") == ["consumer", "on_alias", "second_consumer"]
    assert listed(has_asset_schedule="false") == ["producer", "weekly_a", "weekly_b"]
    assert listed(asset_dependency="WEEKLY") == ["weekly_a", "weekly_b"]
    assert listed(asset_dependency="s3://bucket/daily") == ["consumer", "producer", "second_consumer"]
    with db.session_scope() as session:
        fileloc = session.get(DagModel, "producer").fileloc
        session.add(ImportError_(filename=fileloc, message="boom", timestamp=datetime.now(timezone.utc)))
        session.get(DagModel, "weekly_b").is_active = False
    assert len(listed(has_import_errors="true")) == 5  # every active DAG of that file
    assert listed(has_import_errors="false") == []
    assert "weekly_b" not in listed() and "weekly_b" in listed(exclude_stale="false")
    stale = api.get(v2("dags/weekly_b")).json()
    assert stale["is_stale"] is True and stale["has_import_errors"] is True
