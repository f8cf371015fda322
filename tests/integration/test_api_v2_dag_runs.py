"""REST API v2 (Airflow 3): /api/v2/dags/{dag_id}/dagRuns — list and its filters, ordering and
pages (offset and cursor), batch list, get, trigger, state and note, clear (dry run), delete,
bulk, clearDagRuns, upstream asset events and the NDJSON ``wait`` stream."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

import pytest
from api_support import Api, make_api, run_to_end, store_dag_file

V2 = "/api/v2"

DAGS = """
def boom():
    raise RuntimeError("boom")

with DAG("params_dag", start_date=datetime(2024, 1, 1), schedule=None, dag_display_name="Params DAG",
         params={"rows": Param(5, type="integer", minimum=1)}):
    first = PythonOperator(task_id="first", python_callable=lambda: 41 + 1)
    second = EmptyOperator(task_id="second")
    first >> second

with DAG("failing", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="boom", python_callable=boom) >> EmptyOperator(task_id="after")
"""

RUN_FIELDS = {"dag_run_id", "dag_id", "logical_date", "queued_at", "start_date", "end_date", "duration",
              "data_interval_start", "data_interval_end", "run_after", "last_scheduling_decision", "run_type",
              "state", "triggered_by", "triggering_user_name", "conf", "note", "dag_versions", "bundle_version",
              "dag_display_name", "partition_key", "partition_date"}


def record(model: str, body: object) -> None:
    """With $TW_AAC_DUMP set, keep the body for checking against the official client's ``model``
    (a development aid: the client is not installed in the project's venv)."""
    target = os.environ.get("TW_AAC_DUMP")
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"model": model, "body": body}) + "\n")


def v2(api: Api, method: str, path: str, model: str | None = None, status: int = 200, **kwargs):
    response = api.request(method, V2 + path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json() if response.content else None
    if model is not None:
        record(model, body)
    return body


def assert_detail(response, status: int, *contains: str) -> dict:
    """An Airflow 3 error: ``detail`` holds the message (and ``field`` names the input at fault)."""
    assert response.status_code == status, response.text
    body = response.json()
    for text in contains:
        assert text in json.dumps(body), body
    return body


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "runs_dags", DAGS)
    return make_api(config, db)


def trigger(api: Api, dag_id: str, run_id: str, day: int, as_: str = "admin", **extra) -> dict:
    return v2(api, "POST", f"/dags/{dag_id}/dagRuns", "DAGRunResponse", as_=as_,
              json={"dag_run_id": run_id, "logical_date": f"2024-01-{day:02d}T00:00:00Z", **extra})


def ids(body: dict) -> list[str]:
    return [r["dag_run_id"] for r in body["dag_runs"]]


def test_trigger_shape_note_and_errors(api) -> None:
    run = trigger(api, "params_dag", "r1", 1, conf={"rows": 7}, note="first try", as_="user")
    assert set(run) == RUN_FIELDS
    assert run["state"] == "queued" and run["run_type"] == "manual" and run["conf"] == {"rows": 7}
    assert run["logical_date"] == "2024-01-01T00:00:00Z" and run["note"] == "first try"
    assert run["dag_display_name"] == "Params DAG" and run["triggering_user_name"] == "user_user"
    assert run["triggered_by"] == "rest_api"
    [version] = run["dag_versions"]
    assert uuid.UUID(version["id"]) and version["version_number"] == 1 and version["dag_id"] == "params_dag"
    assert run["partition_key"] is None and run["bundle_version"] is None

    assert_detail(api.post(f"{V2}/dags/params_dag/dagRuns", json={"dag_run_id": "r1"}), 409, "r1")
    assert_detail(api.post(f"{V2}/dags/params_dag/dagRuns", json={"conf": {"rows": 0}}), 400, "conf.rows")
    bad = assert_detail(api.post(f"{V2}/dags/params_dag/dagRuns", json={"conf": "nope"}), 422)
    assert bad["field"] == "conf" and bad["detail"][0]["loc"] == ["body", "conf"]
    assert assert_detail(api.post(f"{V2}/dags/params_dag/dagRuns", json={"colour": 1}), 422)["field"] == "colour"
    assert_detail(api.post(f"{V2}/dags/params_dag/dagRuns", json={"partition_key": "p"}), 400, "partition_key")
    assert_detail(api.post(f"{V2}/dags/params_dag/dagRuns", json={"data_interval_start": "2024-01-01T00:00:00Z"}),
                  400, "data_interval_end")
    timed = trigger(api, "params_dag", "r2", 2, run_after="2024-01-03T00:00:00Z",
                    data_interval_start="2023-12-31T00:00:00Z", data_interval_end="2024-01-02T00:00:00Z")
    assert timed["run_after"] == "2024-01-03T00:00:00Z" and timed["data_interval_start"] == "2023-12-31T00:00:00Z"
    assert timed["data_interval_end"] == "2024-01-02T00:00:00Z"
    assert_detail(api.post(f"{V2}/dags/nope/dagRuns", json={}), 404, "The Dag with ID: `nope` was not found")
    assert api.post(f"{V2}/dags/params_dag/dagRuns", json={}, as_="viewer").status_code == 403


def test_list_filters_order_and_pages(api, config, db) -> None:
    for day in (1, 2, 3):
        trigger(api, "params_dag", f"p{day}", day)
    trigger(api, "failing", "f1", 5)
    assert run_to_end(config, db, "params_dag", "p1") == "success"
    assert run_to_end(config, db, "failing", "f1") == "failed"

    listed = v2(api, "GET", "/dags/params_dag/dagRuns", "DAGRunCollectionResponse", as_="viewer")
    assert listed["total_entries"] == 3 and ids(listed) == ["p1", "p2", "p3"]
    assert set(listed["dag_runs"][0]) == RUN_FIELDS and listed["dag_runs"][0]["duration"] >= 0
    get = lambda **params: v2(api, "GET", "/dags/~/dagRuns", "DAGRunCollectionResponse", params=params)  # noqa: E731
    assert ids(get(state=["success", "failed"])) == ["p1", "f1"]
    assert ids(get(dag_id_pattern="fail")) == ["f1"]
    assert ids(get(dag_id_prefix_pattern="params", run_id_pattern="2|3")) == ["p2", "p3"]
    assert ids(get(logical_date_gt="2024-01-01T00:00:00Z", logical_date_lt="2024-01-03T00:00:00Z")) == ["p2"]
    assert ids(get(end_date_gte="2000-01-01T00:00:00Z", order_by=["-dag_id"])) == ["p1", "f1"]
    assert ids(get(duration_gte=0, order_by="-run_id")) == ["p1", "f1"]
    assert ids(get(conf_contains="rows")) == []
    assert ids(get(order_by=["state", "-logical_date"])) == ["f1", "p3", "p2", "p1"]
    assert ids(get(run_type=["manual"], triggering_user_name_pattern="admin")) == ["p1", "p2", "p3", "f1"]
    assert ids(get(triggering_user_name_pattern="viewer")) == []
    assert ids(get(dag_version=[1], dag_id_pattern="params")) == ["p1", "p2", "p3"]
    assert ids(get(dag_version=[2])) == [] and ids(get(partition_key_pattern="x")) == []
    assert get(limit=0)["total_entries"] == 4 and get(limit=0)["dag_runs"] == []
    paged = get(limit=2, offset=1, order_by="-id")
    assert ids(paged) == ["p3", "p2"] and paged["total_entries"] == 4

    first = get(limit=3, cursor="")
    assert ids(first) == ["p1", "p2", "p3"] and first["previous_cursor"] is None and first["next_cursor"]
    second = get(limit=3, cursor=first["next_cursor"])
    assert ids(second) == ["f1"] and second["next_cursor"] is None and second["previous_cursor"]
    assert "next_cursor" not in get(limit=1) or get(limit=1)["next_cursor"] is None

    assert_detail(api.get(f"{V2}/dags/~/dagRuns", params={"cursor": "garbage"}), 400, "cursor")
    assert_detail(api.get(f"{V2}/dags/~/dagRuns", params={"order_by": "colour"}), 400, "colour")
    assert_detail(api.get(f"{V2}/dags/~/dagRuns", params={"updated_at_gte": "2024-01-01T00:00:00Z"}), 400,
                  "updated_at_gte")
    assert_detail(api.get(f"{V2}/dags/~/dagRuns", params={"limit": -1}), 422, "limit")
    assert_detail(api.get(f"{V2}/dags/nope/dagRuns"), 404, "nope")

    batch = v2(api, "POST", "/dags/~/dagRuns/list", "DAGRunCollectionResponse",
               json={"dag_ids": ["params_dag"], "states": ["queued"], "order_by": "-run_id", "page_limit": 1})
    assert ids(batch) == ["p3"] and batch["total_entries"] == 2
    batch = v2(api, "POST", "/dags/~/dagRuns/list", json={"start_date_gte": "2000-01-01T00:00:00Z"})
    assert ids(batch) == ["p1", "f1"]
    assert_detail(api.post(f"{V2}/dags/~/dagRuns/list", json={"page_limit": 1, "colour": 2}), 422, "colour")


def test_get_patch_state_and_note(api, config, db) -> None:
    trigger(api, "failing", "f1", 5)
    assert run_to_end(config, db, "failing", "f1") == "failed"
    got = v2(api, "GET", "/dags/failing/dagRuns/f1", "DAGRunResponse", as_="viewer")
    assert got["state"] == "failed" and got["end_date"] and got["note"] is None
    assert_detail(api.get(f"{V2}/dags/failing/dagRuns/nope"), 404,
                  "The DagRun with dag_id: `failing` and run_id: `nope` was not found")

    noted = v2(api, "PATCH", "/dags/failing/dagRuns/f1", "DAGRunResponse", json={"note": "looked at it"})
    assert noted["note"] == "looked at it" and noted["state"] == "failed"
    # update_mask: only the named field changes.
    masked = v2(api, "PATCH", "/dags/failing/dagRuns/f1", "DAGRunResponse", params={"update_mask": ["state"]},
                json={"state": "success", "note": "ignored"})
    assert masked["state"] == "success" and masked["note"] == "looked at it"
    assert v2(api, "GET", "/dags/failing/dagRuns/f1")["state"] == "success"
    cleared_note = v2(api, "PATCH", "/dags/failing/dagRuns/f1", json={"note": None})
    assert cleared_note["note"] is None
    assert_detail(api.patch(f"{V2}/dags/failing/dagRuns/f1", params={"update_mask": ["conf"]}, json={}), 400,
                  "update_mask")
    assert_detail(api.patch(f"{V2}/dags/failing/dagRuns/f1", json={"state": "running"}), 422, "state")
    assert assert_detail(api.patch(f"{V2}/dags/failing/dagRuns/f1", json={"note": "x" * 1001}), 422)["field"] == "note"
    assert_detail(api.post(f"{V2}/dags/failing/dagRuns", json={"note": "x" * 1001}), 400, "note")
    assert_detail(api.patch(f"{V2}/dags/failing/dagRuns/nope", json={"note": "x"}), 404, "nope")
    assert api.patch(f"{V2}/dags/failing/dagRuns/f1", json={"note": "v"}, as_="viewer").status_code == 403
    events = api.get("eventLogs", params={"event": "dag_run.set_note"}).json()["event_logs"]
    assert [e["owner"] for e in events] == ["admin_user", "admin_user"]


def test_clear_dry_run_then_clear_and_delete(api, config, db) -> None:
    trigger(api, "failing", "f1", 5)
    assert run_to_end(config, db, "failing", "f1") == "failed"
    dry = v2(api, "POST", "/dags/failing/dagRuns/f1/clear", "ClearTaskInstanceCollectionResponse",
             json={"only_failed": True})
    assert dry["total_entries"] == 2
    assert sorted((t["task_id"], t["state"]) for t in dry["task_instances"]) == [
        ("after", "upstream_failed"), ("boom", "failed")]
    assert v2(api, "GET", "/dags/failing/dagRuns/f1")["state"] == "failed"  # a dry run changes nothing
    assert_detail(api.post(f"{V2}/dags/failing/dagRuns/f1/clear", json={"only_new": True}), 400, "only_new")
    assert api.post(f"{V2}/dags/failing/dagRuns/f1/clear", json={}, as_="viewer").status_code == 403

    cleared = v2(api, "POST", "/dags/failing/dagRuns/f1/clear", "DAGRunResponse",
                 json={"dry_run": False, "note": "retrying"})
    assert cleared["state"] == "queued" and cleared["note"] == "retrying"
    tis = api.get("dags/failing/dagRuns/f1/taskInstances").json()["task_instances"]
    assert {t["state"] for t in tis} == {None}

    assert api.delete(f"{V2}/dags/failing/dagRuns/f1", as_="viewer").status_code == 403
    assert api.delete(f"{V2}/dags/failing/dagRuns/f1").status_code == 204
    assert_detail(api.get(f"{V2}/dags/failing/dagRuns/f1"), 404)
    assert_detail(api.delete(f"{V2}/dags/failing/dagRuns/f1"), 404, "f1")


def test_clear_dag_runs_and_bulk(api, config, db) -> None:
    for day in (1, 2):
        trigger(api, "params_dag", f"p{day}", day)
        assert run_to_end(config, db, "params_dag", f"p{day}") == "success"
    body = {"dag_runs": [{"dag_run_id": "p1"}, {"dag_run_id": "p2"}]}
    dry = v2(api, "POST", "/dags/params_dag/clearDagRuns", "ClearTaskInstanceCollectionResponse", json=body)
    assert dry["total_entries"] == 4
    assert_detail(api.post(f"{V2}/dags/params_dag/clearDagRuns", json={"dag_runs": [{"dag_run_id": "zz"}]}), 404, "zz")
    assert_detail(api.post(f"{V2}/dags/params_dag/clearDagRuns", json={**body, "partition_key": "k"}), 400,
                  "partition_key")
    done = v2(api, "POST", "/dags/params_dag/clearDagRuns", "DAGRunCollectionResponse",
              json={**body, "dry_run": False, "note": "again"})
    assert ids(done) == ["p1", "p2"] and {r["state"] for r in done["dag_runs"]} == {"queued"}
    assert {r["note"] for r in done["dag_runs"]} == {"again"}

    bulk = v2(api, "PATCH", "/dags/params_dag/dagRuns", "BulkResponse", json={"actions": [
        {"action": "update", "entities": [{"dag_run_id": "p1", "state": "failed", "note": "bulk"}]},
        {"action": "delete", "entities": ["p2", "missing"], "action_on_non_existence": "skip"},
    ]})
    assert bulk["update"] == {"success": ["p1"], "errors": []}
    assert bulk["delete"] == {"success": ["p2"], "errors": []}
    p1 = v2(api, "GET", "/dags/params_dag/dagRuns/p1")
    assert p1["state"] == "failed" and p1["note"] == "bulk"
    assert_detail(api.get(f"{V2}/dags/params_dag/dagRuns/p2"), 404)
    failed = v2(api, "PATCH", "/dags/~/dagRuns", "BulkResponse", json={"actions": [
        {"action": "update", "entities": [{"dag_id": "params_dag", "dag_run_id": "p1", "note": "tilde"}]},
        {"action": "delete", "entities": ["nope"]},
    ]})
    assert failed["update"]["success"] == ["params_dag/p1"]
    assert failed["delete"]["success"] == [] and failed["delete"]["errors"][0]["status_code"] == 404
    assert v2(api, "GET", "/dags/params_dag/dagRuns/p1")["note"] == "tilde"
    assert api.patch(f"{V2}/dags/params_dag/dagRuns", json={"actions": []}, as_="viewer").status_code == 403


def test_wait_streams_states_and_results(api, config, db) -> None:
    trigger(api, "params_dag", "w1", 1)
    with api.client.stream("GET", f"{V2}/dags/params_dag/dagRuns/w1/wait", params={"interval": 0.01},
                           headers={"Authorization": f"Bearer {api.tokens['viewer']}"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
        first = json.loads(next(response.iter_lines()))
    assert first == {"state": "queued"}
    assert run_to_end(config, db, "params_dag", "w1") == "success"
    response = api.get(f"{V2}/dags/params_dag/dagRuns/w1/wait", params={"interval": 1, "result": ["first", "second"]})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == [{"state": "success", "results": {"first": 42}}]
    as_json = api.get(f"{V2}/dags/params_dag/dagRuns/w1/wait", params={"interval": 1},
                      headers={"Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json" and as_json.json() == {"state": "success"}
    assert_detail(api.get(f"{V2}/dags/params_dag/dagRuns/w1/wait", params={"interval": 0}), 422, "interval")
    assert_detail(api.get(f"{V2}/dags/params_dag/dagRuns/nope/wait", params={"interval": 1}), 404, "nope")


def test_upstream_asset_events(api, config, db) -> None:
    store_dag_file(config, db, "asset_dags", """
from tradewind import Asset
orders = Asset("s3://bucket/orders")
with DAG("producer", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="make", outlets=[orders])
with DAG("consumer", start_date=datetime(2024, 1, 1), schedule=[orders]):
    EmptyOperator(task_id="use")
""")
    trigger(api, "producer", "made", 1)
    assert run_to_end(config, db, "producer", "made") == "success"
    from tradewind.persist.models import DagModel
    from tradewind.schedule.assets import create_asset_triggered_run

    with db.session_scope() as session:  # what the scheduler does once the consumer's asset is updated
        dag = session.get(DagModel, "consumer")
        run_id = create_asset_triggered_run(session, dag, dag.latest_version_id, now=datetime.now(timezone.utc)).run_id
    events = v2(api, "GET", f"/dags/consumer/dagRuns/{run_id}/upstreamAssetEvents", "AssetEventCollectionResponse")
    assert events["total_entries"] == 1
    [event] = events["asset_events"]
    assert event["uri"] == "s3://bucket/orders" and event["source_dag_id"] == "producer"
    assert event["source_run_id"] == "made" and event["created_dagruns"][0]["dag_id"] == "consumer"
    assert v2(api, "GET", "/dags/producer/dagRuns/made/upstreamAssetEvents")["asset_events"] == []
    consumed = v2(api, "GET", "/dags/~/dagRuns", params={"consuming_asset_pattern": "orders"})
    assert ids(consumed) == [run_id]
