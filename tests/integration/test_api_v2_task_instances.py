"""REST API v2 (Airflow 3): task instances — list (``~`` for DAGs and runs) with filters, order and
pages, batch list, get (mapped too), listMapped, tries, dependencies, mark state and note (and
their dry runs, by map index, by task group), clearTaskInstances and the bulk update, on a run
the real scheduler ran."""

from __future__ import annotations

import uuid

import pytest
from api_support import Api, make_api, run_to_end, store_dag_file
from test_api_v2_dag_runs import assert_detail, v2

DAGS = """
from datetime import timedelta
from tradewind import TaskGroup, task

def flaky(ti):
    if ti.try_number < 2:
        raise RuntimeError("first try fails")
    return "ok"

with DAG("tis", start_date=datetime(2024, 1, 1), schedule=None, dag_display_name="TI DAG"):
    start = EmptyOperator(task_id="start", task_display_name="Start here")
    with TaskGroup("grp") as grp:
        EmptyOperator(task_id="inner")
    start >> grp

    @task
    def items():
        return [1, 2, 3]

    @task
    def double(x):
        return 2 * x

    double.expand(x=items())
    PythonOperator(task_id="retry", python_callable=flaky, retries=1, retry_delay=timedelta(0))
"""

TI_FIELDS = {"id", "task_id", "dag_id", "dag_run_id", "map_index", "logical_date", "run_after", "start_date",
             "end_date", "duration", "state", "try_number", "max_tries", "task_display_name", "dag_display_name",
             "hostname", "unixname", "pool", "pool_slots", "queue", "priority_weight", "operator", "operator_name",
             "queued_when", "scheduled_when", "pid", "executor", "executor_config", "note", "rendered_map_index",
             "rendered_fields", "trigger", "triggerer_job", "dag_version"}
RUN = "/dags/tis/dagRuns/r1"
TIS = RUN + "/taskInstances"


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "ti_dags", DAGS)
    client = make_api(config, db)
    v2(client, "POST", "/dags/tis/dagRuns", json={"dag_run_id": "r1", "logical_date": "2024-02-01T00:00:00Z"})
    assert run_to_end(config, db, "tis", "r1") == "success"
    return client


def keys(body: dict) -> list[tuple[str, int]]:
    return [(t["task_id"], t["map_index"]) for t in body["task_instances"]]


def test_list_shape_filters_order_and_pages(api) -> None:
    listed = v2(api, "GET", TIS, "TaskInstanceCollectionResponse", as_="viewer", params={"order_by": ["task_id"]})
    assert listed["total_entries"] == 7
    assert keys(listed) == [("double", 0), ("double", 1), ("double", 2), ("grp.inner", -1), ("items", -1),
                            ("retry", -1), ("start", -1)]
    start = listed["task_instances"][-1]
    assert set(start) == TI_FIELDS and uuid.UUID(start["id"])
    assert start["task_display_name"] == "Start here" and start["dag_display_name"] == "TI DAG"
    assert start["state"] == "success" and start["logical_date"] == "2024-02-01T00:00:00Z" and start["run_after"]
    assert start["executor_config"] == "{}" and start["dag_version"]["version_number"] == 1
    assert start["operator"] == "EmptyOperator" and start["pool"] == "default_pool" and start["note"] is None

    get = lambda path=TIS, **params: v2(api, "GET", path, "TaskInstanceCollectionResponse", params=params)  # noqa: E731
    assert keys(get(map_index=[1])) == [("double", 1)]
    assert keys(get(task_id="retry")) == [("retry", -1)]
    assert keys(get(try_number=[2])) == [("retry", -1)]
    assert keys(get(task_display_name_pattern="HERE")) == [("start", -1)]
    assert keys(get(task_group_id="grp")) == [("grp.inner", -1)]
    assert keys(get(operator=["EmptyOperator"], order_by=["-task_id"])) == [("start", -1), ("grp.inner", -1)]
    assert keys(get(map_index=[0, 1, 2], order_by=["-map_index"])) == [("double", 2), ("double", 1), ("double", 0)]
    assert get(state=["failed"])["total_entries"] == 0
    assert get(pool_name_pattern="default", limit=0)["total_entries"] == 7
    assert get(executor=["no-such-executor"])["total_entries"] == 0
    assert get(version_number=[1], limit=0)["total_entries"] == 7
    every = get("/dags/~/dagRuns/~/taskInstances", dag_id_prefix_pattern="ti", run_id_pattern="r1", limit=2, offset=5,
                order_by=["task_id"])
    assert keys(every) == [("retry", -1), ("start", -1)] and every["total_entries"] == 7
    first = get(limit=4, cursor="", order_by=["task_id"])
    assert len(first["task_instances"]) == 4 and first["next_cursor"] and first["previous_cursor"] is None
    assert keys(get(limit=4, cursor=first["next_cursor"], order_by=["task_id"])) == [
        ("items", -1), ("retry", -1), ("start", -1)]
    assert_detail(api.get(f"/api/v2{TIS}", params={"order_by": "colour"}), 400, "colour")
    assert_detail(api.get(f"/api/v2{TIS}", params={"updated_at_lt": "2024-01-01T00:00:00Z"}), 400, "updated_at_lt")
    assert_detail(api.get("/api/v2/dags/tis/dagRuns/nope/taskInstances"), 404, "`nope`")
    assert_detail(api.get("/api/v2/dags/nope/dagRuns/~/taskInstances"), 404, "`nope`")

    batch = v2(api, "POST", "/dags/~/dagRuns/~/taskInstances/list", "TaskInstanceCollectionResponse",
               json={"dag_ids": ["tis"], "task_ids": ["double", "start"], "state": ["success"],
                     "order_by": "-map_index", "page_limit": 2})
    assert keys(batch) == [("double", 2), ("double", 1)] and batch["total_entries"] == 4
    assert_detail(api.post("/api/v2/dags/tis/dagRuns/~/taskInstances/list", json={}), 400, "dag_id")


def test_get_mapped_tries_and_dependencies(api) -> None:
    one = v2(api, "GET", TIS + "/retry", "TaskInstanceResponse", as_="viewer")
    assert one["try_number"] == 2 and one["max_tries"] >= 1 and one["state"] == "success"
    mapped = v2(api, "GET", TIS + "/double/2", "TaskInstanceResponse")
    assert mapped["map_index"] == 2 and mapped["task_id"] == "double"
    assert_detail(api.get(f"/api/v2{TIS}/double"), 404, "map_index: `-1`")
    assert_detail(api.get(f"/api/v2{TIS}/double/7"), 404, "map_index: `7`")

    listed = v2(api, "GET", TIS + "/double/listMapped", "TaskInstanceCollectionResponse",
                params={"order_by": "-map_index", "limit": 2})
    assert keys(listed) == [("double", 2), ("double", 1)] and listed["total_entries"] == 3
    assert v2(api, "GET", TIS + "/start/listMapped")["total_entries"] == 0
    assert_detail(api.get(f"/api/v2{TIS}/nope/listMapped"), 404, "nope")

    tries = v2(api, "GET", TIS + "/retry/tries", "TaskInstanceHistoryCollectionResponse")
    assert tries["total_entries"] == 2 and [t["try_number"] for t in tries["task_instances"]] == [1, 2]
    assert tries["task_instances"][1]["state"] == "success" and tries["task_instances"][0]["state"] != "success"
    second = v2(api, "GET", TIS + "/retry/tries/2", "TaskInstanceHistoryResponse")
    assert second["try_number"] == 2 and second["executor_config"] == "{}" and second["dag_display_name"] == "TI DAG"
    assert_detail(api.get(f"/api/v2{TIS}/retry/tries/3"), 404, "try_number: `3`")
    mapped_tries = v2(api, "GET", TIS + "/double/1/tries", "TaskInstanceHistoryCollectionResponse")
    assert [(t["map_index"], t["try_number"]) for t in mapped_tries["task_instances"]] == [(1, 1)]
    v2(api, "GET", TIS + "/double/1/tries/1", "TaskInstanceHistoryResponse")
    assert v2(api, "GET", TIS + "/double/tries", params={"map_index": 0})["total_entries"] == 1

    links = v2(api, "GET", TIS + "/double/links", "ExtraLinkCollectionResponse", params={"map_index": 1})
    assert links == {"extra_links": {}, "total_entries": 0}
    assert_detail(api.get(f"/api/v2{TIS}/double/links"), 404, "map_index: `-1`")

    deps = v2(api, "GET", TIS + "/start/dependencies", "TaskDependencyCollectionResponse")
    assert deps["dependencies"] and all(d["name"] and d["reason"] for d in deps["dependencies"])
    mapped_deps = v2(api, "GET", TIS + "/double/0/dependencies", "TaskDependencyCollectionResponse")
    assert mapped_deps["dependencies"]
    assert_detail(api.get(f"/api/v2{TIS}/nope/dependencies"), 404, "nope")


def test_patch_state_note_dry_runs_and_auth(api) -> None:
    dry = v2(api, "PATCH", TIS + "/start/dry_run", "TaskInstanceCollectionResponse",
             json={"new_state": "failed", "include_downstream": True})
    assert sorted(keys(dry)) == [("grp.inner", -1), ("start", -1)]
    assert v2(api, "GET", TIS + "/start")["state"] == "success"  # nothing changed

    marked = v2(api, "PATCH", TIS + "/start", "TaskInstanceCollectionResponse",
                json={"new_state": "failed", "note": "bad input"})
    assert keys(marked) == [("start", -1)]
    assert marked["task_instances"][0]["state"] == "failed" and marked["task_instances"][0]["note"] == "bad input"
    masked = v2(api, "PATCH", TIS + "/start", params={"update_mask": ["note"]},
                json={"new_state": "success", "note": "only the note"})
    assert masked["task_instances"][0]["state"] == "failed" and masked["task_instances"][0]["note"] == "only the note"
    assert v2(api, "GET", "/dags/tis/dagRuns/r1")["state"] in ("running", "queued", "failed")

    one = v2(api, "PATCH", TIS + "/double/1", "TaskInstanceCollectionResponse", json={"new_state": "skipped"})
    assert keys(one) == [("double", 1)] and one["task_instances"][0]["state"] == "skipped"
    assert v2(api, "GET", TIS + "/double/0")["state"] == "success"
    by_query = v2(api, "PATCH", TIS + "/double", params={"map_index": 2}, json={"note": "two"})
    assert keys(by_query) == [("double", 2)] and v2(api, "GET", TIS + "/double/2")["note"] == "two"
    mapped_dry = v2(api, "PATCH", TIS + "/double/0/dry_run", "TaskInstanceCollectionResponse",
                    json={"new_state": "failed"})
    assert keys(mapped_dry) == [("double", 0)]

    assert_detail(api.patch(f"/api/v2{TIS}/start", json={"new_state": "running"}), 400, "new_state")
    assert assert_detail(api.patch(f"/api/v2{TIS}/start", json={"new_state": "bogus"}), 422)["field"] == "new_state"
    assert assert_detail(api.patch(f"/api/v2{TIS}/start", json={"note": "x" * 1001}), 422)["field"] == "note"
    assert_detail(api.patch(f"/api/v2{TIS}/start", params={"update_mask": ["pool"]}, json={}), 400, "update_mask")
    assert_detail(api.patch(f"/api/v2{TIS}/nope", json={"new_state": "success"}), 404, "nope")
    assert api.patch(f"/api/v2{TIS}/start", json={"note": "x"}, as_="viewer").status_code == 403
    assert api.patch(f"/api/v2{TIS}/start/dry_run", json={"new_state": "success"}, as_="viewer").status_code == 403
    events = api.get("eventLogs", params={"event": "task_instance.set_note"}).json()["event_logs"]
    assert len(events) == 3 and {e["owner"] for e in events} == {"admin_user"}


def test_task_group_instances(api) -> None:
    dry = v2(api, "PATCH", RUN + "/taskGroupInstances/grp/dry_run", "TaskInstanceCollectionResponse",
             json={"new_state": "failed"})
    assert keys(dry) == [("grp.inner", -1)] and dry["task_instances"][0]["state"] == "success"
    done = v2(api, "PATCH", RUN + "/taskGroupInstances/grp", "TaskInstanceCollectionResponse",
              json={"new_state": "failed"})
    assert done["task_instances"][0]["state"] == "failed"
    assert_detail(api.patch(f"/api/v2{RUN}/taskGroupInstances/nope", json={"new_state": "failed"}), 404, "nope")


def test_clear_task_instances(api) -> None:
    path = "/dags/tis/clearTaskInstances"
    assert v2(api, "POST", path, "TaskInstanceCollectionResponse", json={})["total_entries"] == 0  # only failed
    dry = v2(api, "POST", path, "TaskInstanceCollectionResponse",
             json={"only_failed": False, "task_ids": ["start"], "include_downstream": True, "dag_run_id": "r1"})
    assert sorted(keys(dry)) == [("grp.inner", -1), ("start", -1)]
    assert {t["state"] for t in dry["task_instances"]} == {"success"}
    pair = v2(api, "POST", path, json={"only_failed": False, "task_ids": [["double", 1]]})
    assert keys(pair) == [("double", 1)]

    assert_detail(api.post(f"/api/v2{path}", json={"task_ids": ["nope"]}), 400, "task_ids")
    assert_detail(api.post(f"/api/v2{path}", json={"dag_run_id": "nope"}), 404, "nope")
    assert_detail(api.post(f"/api/v2{path}", json={"run_on_latest_version": True}), 400, "run_on_latest_version")
    assert_detail(api.post(f"/api/v2{path}", json={"reset_dag_runs": False}), 400, "reset_dag_runs")
    assert_detail(api.post("/api/v2/dags/nope/clearTaskInstances", json={}), 404, "nope")
    assert api.post(f"/api/v2{path}", json={}, as_="viewer").status_code == 403

    cleared = v2(api, "POST", path, "TaskInstanceCollectionResponse",
                 json={"dry_run": False, "only_failed": False, "task_ids": ["retry"], "note": "rerun",
                       "prevent_running_task": True})
    assert keys(cleared) == [("retry", -1)]
    again = v2(api, "GET", TIS + "/retry")
    assert again["state"] is None and again["note"] == "rerun"
    assert v2(api, "GET", "/dags/tis/dagRuns/r1")["state"] == "queued"
    assert keys(v2(api, "GET", TIS, params={"state": ["no_status"]})) == [("retry", -1)]
    waiting = v2(api, "GET", TIS + "/retry/dependencies", "TaskDependencyCollectionResponse")["dependencies"]
    assert any("queued" in d["reason"] or "running" in d["reason"] for d in waiting), waiting


def test_bulk_update(api) -> None:
    bulk = v2(api, "PATCH", TIS, "BulkResponse", json={"actions": [
        {"action": "update", "entities": [{"task_id": "start", "new_state": "failed"},
                                          {"task_id": "double", "map_index": 0, "note": "zero"}]},
        {"action": "delete", "entities": ["grp.inner", {"task_id": "double", "map_index": 2}]},
        {"action": "delete", "entities": ["nope", "double[9]"], "action_on_non_existence": "skip"},
    ]})
    assert bulk["update"] == {"success": ["start", "double[0]"], "errors": []}
    assert bulk["delete"] == {"success": ["grp.inner", "double[2]"], "errors": []}
    assert_detail(api.get(f"/api/v2{TIS}/grp.inner"), 404)
    assert keys(v2(api, "GET", TIS + "/double/listMapped")) == [("double", 0), ("double", 1)]
    assert v2(api, "GET", TIS + "/start")["state"] == "failed" and v2(api, "GET", TIS + "/double/0")["note"] == "zero"
    missing = v2(api, "PATCH", "/dags/~/dagRuns/~/taskInstances", json={"actions": [
        {"action": "update", "entities": [{"dag_id": "tis", "dag_run_id": "r1", "task_id": "nope", "note": "x"}]},
        {"action": "update", "action_on_non_existence": "skip",
         "entities": [{"dag_id": "tis", "dag_run_id": "r1", "task_id": "items", "note": "tilde"}]},
    ]})
    assert missing["update"]["errors"][0]["status_code"] == 404 and missing["update"]["success"] == ["tis/r1/items"]
    assert v2(api, "GET", TIS + "/items")["note"] == "tilde"
    assert_detail(api.patch("/api/v2/dags/~/dagRuns/~/taskInstances", json={"actions": [
        {"action": "update", "entities": [{"task_id": "items", "note": "x"}]}]}), 400, "dag_id")
    assert api.patch(f"/api/v2{TIS}", json={"actions": []}, as_="viewer").status_code == 403


def test_delete_task_instance(api) -> None:
    assert api.delete(f"/api/v2{TIS}/start", as_="viewer").status_code == 403
    gone = api.delete(f"/api/v2{TIS}/start")
    assert gone.status_code == 200 and gone.json() is None
    assert_detail(api.get(f"/api/v2{TIS}/start"), 404, "task_id: `start`")
    assert_detail(api.delete(f"/api/v2{TIS}/start"), 404, "start")
    assert api.delete(f"/api/v2{TIS}/double", params={"map_index": 1}).status_code == 200
    assert keys(v2(api, "GET", TIS + "/double/listMapped")) == [("double", 0), ("double", 2)]
    assert v2(api, "GET", TIS + "/double/1/tries", status=404) is not None
    events = api.get("eventLogs", params={"event": "delete_task_instance"}).json()["event_logs"]
    assert [(e["task_id"], e["map_index"]) for e in events] == [("start", -1), ("double", 1)]
