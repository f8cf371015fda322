"""REST API v2 (Airflow 3): /dags (filters, ordering, pages, pause, bulk pause, delete, details),
/dagVersions, /dagSources, /dagTags, /tasks, /dagStats, /dagWarnings and /parseDagFile."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from api_support import store_dag_file

from tradewind.persist.models import DagRun, ParsedFile, Pool


DAGS = """
from tradewind import task

with DAG("alpha", start_date=datetime(2024, 1, 1), schedule="@daily", tags=["team_a", "etl"],
         params={"rows": Param(5, type="integer", minimum=1)}, dag_display_name="Alpha DAG",
         default_args={"owner": "ann"}, dagrun_timeout=timedelta(hours=1)) as alpha:
    first = EmptyOperator(task_id="first", pool="missing_pool")
    second = PythonOperator(task_id="second", python_callable=lambda: 1, retries=2,
                            execution_timeout=timedelta(minutes=5))

    @task
    def third():
        return 1

    first >> second >> third()

with DAG("beta", start_date=datetime(2024, 1, 1), schedule=None, tags=["team_b", "etl"],
         default_args={"owner": "bob"}):
    EmptyOperator(task_id="only")

with DAG("gamma_paused", start_date=datetime(2024, 1, 1), schedule=None, is_paused_upon_creation=True):
    EmptyOperator(task_id="only")
"""


def v2(path: str) -> str:
    return f"/api/v2/{path}"


def ids(body: dict) -> list[str]:
    return [d["dag_id"] for d in body["dags"]]


def dump(name: str, body: object) -> None:
    """Keep a response for checking against the official client's models (when asked to)."""
    folder = os.environ.get("TW_V2_DUMP")
    if folder:
        import json

        with open(os.path.join(folder, f"{name}.json"), "w") as handle:
            json.dump(body, handle)


def add_run(db, dag_id: str, run_id: str, state: str, start: datetime, end: datetime | None = None) -> None:
    with db.session_scope() as session:
        session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type="manual", state=state, run_after=start,
                           start_date=start, end_date=end, conf={}))


def test_list_shape_filters_order_and_pages(api, config, db) -> None:
    store_dag_file(config, db, "three", DAGS)
    body = api.get(v2("dags"), as_="viewer").json()
    dump("DAGCollectionResponse", body)
    assert body["total_entries"] == 3 and ids(body) == ["alpha", "beta", "gamma_paused"]
    alpha = body["dags"][0]
    assert alpha["dag_display_name"] == "Alpha DAG" and alpha["owners"] == ["ann"]
    assert alpha["tags"] == [{"name": "etl", "dag_id": "alpha", "dag_display_name": "Alpha DAG"},
                             {"name": "team_a", "dag_id": "alpha", "dag_display_name": "Alpha DAG"}]
    assert alpha["timetable_periodic"] is True and alpha["is_backfillable"] is True
    assert body["dags"][1]["timetable_periodic"] is False and body["dags"][1]["is_backfillable"] is False
    assert alpha["is_stale"] is False and alpha["bundle_name"] == "dags-folder"
    assert alpha["relative_fileloc"] == "three.py" and alpha["file_token"]

    def listed(**params) -> list[str]:
        response = api.get(v2("dags"), params=params)
        assert response.status_code == 200, response.text
        return ids(response.json())

    assert listed(tags=["etl", "team_b"]) == ["alpha", "beta"]
    assert listed(tags=["etl", "team_b"], tags_match_mode="all") == ["beta"]
    assert listed(owners=["bob"]) == ["beta"]
    assert listed(dag_id_pattern="AMM") == ["gamma_paused"]
    assert listed(dag_id_pattern="alp|bet") == ["alpha", "beta"]
    assert listed(dag_id_prefix_pattern="be") == ["beta"]
    assert listed(dag_display_name_pattern="alpha d") == ["alpha"]
    assert listed(paused="true") == ["gamma_paused"]
    assert listed(timetable_type=["null"]) == ["beta", "gamma_paused"]
    assert listed(bundle_name="other") == []
    assert listed(order_by="-dag_id") == ["gamma_paused", "beta", "alpha"]
    assert listed(order_by=["-dag_display_name"]) == ["gamma_paused", "beta", "alpha"]
    page = api.get(v2("dags"), params={"limit": 1, "offset": 1}).json()
    assert ids(page) == ["beta"] and page["total_entries"] == 3
    assert api.get(v2("dags"), params={"limit": 0}).json() == {"dags": [], "total_entries": 3}

    bad = api.get(v2("dags"), params={"order_by": "nope"})
    assert bad.status_code == 400 and bad.json()["field"] == "order_by"
    invalid = api.get(v2("dags"), params={"tags_match_mode": "some"})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["query", "tags_match_mode"]
    assert api.get(v2("dags"), as_=None).status_code == 401


def test_filters_on_runs(api, config, db) -> None:
    store_dag_file(config, db, "three", DAGS)
    add_run(db, "alpha", "a1", "failed", datetime(2024, 3, 1, tzinfo=timezone.utc),
            datetime(2024, 3, 1, 1, tzinfo=timezone.utc))
    add_run(db, "alpha", "a2", "success", datetime(2024, 3, 2, tzinfo=timezone.utc),
            datetime(2024, 3, 2, 1, tzinfo=timezone.utc))
    add_run(db, "beta", "b1", "failed", datetime(2024, 2, 1, tzinfo=timezone.utc))

    def listed(**params) -> list[str]:
        return ids(api.get(v2("dags"), params=params).json())

    assert listed(last_dag_run_state="failed") == ["beta"]
    assert listed(last_dag_run_state="success") == ["alpha"]
    assert listed(dag_run_state=["failed"]) == ["alpha", "beta"]
    assert listed(dag_run_start_date_gte="2024-02-15T00:00:00Z") == ["alpha"]
    assert listed(dag_run_start_date_lt="2024-02-15T00:00:00Z") == ["beta"]
    assert listed(dag_run_end_date_gt="2024-03-01T12:00:00Z") == ["alpha"]
    assert listed(order_by=["-last_run_start_date", "dag_id"])[:2] == ["alpha", "beta"]

    stats = api.get(v2("dagStats"), params=[("dag_ids", "alpha"), ("dag_ids", "beta")], as_="viewer").json()
    dump("DagStatsCollectionResponse", stats)
    assert stats["total_entries"] == 2
    counts = {d["dag_id"]: {s["state"]: s["count"] for s in d["stats"]} for d in stats["dags"]}
    assert counts == {"alpha": {"queued": 0, "running": 0, "success": 1, "failed": 1},
                      "beta": {"queued": 0, "running": 0, "success": 0, "failed": 1}}
    assert stats["dags"][0]["dag_display_name"] == "Alpha DAG"


def test_get_patch_delete_and_details(api, config, db) -> None:
    store_dag_file(config, db, "three", DAGS)
    one = api.get(v2("dags/alpha")).json()
    dump("DAGResponse", one)
    assert one["dag_id"] == "alpha" and one["max_active_tasks"] == 16
    missing = api.get(v2("dags/nope"))
    assert missing.status_code == 404 and missing.json()["detail"] == "Dag with id nope was not found"

    paused = api.patch(v2("dags/beta"), params={"update_mask": "is_paused"}, json={"is_paused": True}, as_="user")
    assert paused.status_code == 200 and paused.json()["is_paused"] is True
    assert api.get(v2("dags/beta")).json()["is_paused"] is True
    assert api.patch(v2("dags/beta"), json={"is_paused": False}, as_="viewer").status_code == 403
    bad_mask = api.patch(v2("dags/beta"), params={"update_mask": "owners"}, json={"is_paused": False})
    assert bad_mask.status_code == 400 and bad_mask.json()["field"] == "update_mask"
    unknown = api.patch(v2("dags/beta"), json={"is_paused": False, "bogus": 1})
    assert unknown.status_code == 422 and unknown.json()["field"] == "bogus"
    events = api.get("eventLogs", params={"dag_id": "beta"}).json()["event_logs"]
    assert [e["event"] for e in events] == ["paused"] and events[0]["owner"] == "user_user"

    details = api.get(v2("dags/alpha/details"), as_="viewer").json()
    dump("DAGDetailsResponse", details)
    assert details["catchup"] is False and details["concurrency"] == 16 and details["timezone"] == "UTC"
    assert details["dag_run_timeout"] == "PT1H"
    assert details["params"]["rows"]["value"] == 5
    assert details["latest_dag_version"]["version_number"] == 1
    assert details["latest_dag_version"]["dag_display_name"] == "Alpha DAG"

    assert api.delete(v2("dags/beta"), as_="viewer").status_code == 403
    deleted = api.delete(v2("dags/beta"), as_="user")
    assert deleted.status_code == 200 and deleted.json()["dag_id"] == "beta"
    assert api.get(v2("dags/beta")).status_code == 404
    assert api.delete(v2("dags/beta")).status_code == 404


def test_bulk_pause_by_pattern(api, config, db) -> None:
    store_dag_file(config, db, "three", DAGS)
    response = api.patch(v2("dags"), params={"dag_id_pattern": "a"}, json={"is_paused": True}, as_="user")
    assert response.status_code == 200, response.text
    body = response.json()
    assert ids(body) == ["alpha", "beta", "gamma_paused"] and all(d["is_paused"] for d in body["dags"])
    response = api.patch(v2("dags"), params={"dag_id_prefix_pattern": "alp"}, json={"is_paused": False})
    assert ids(response.json()) == ["alpha"]
    listed = {d["dag_id"]: d["is_paused"] for d in api.get(v2("dags")).json()["dags"]}
    assert listed == {"alpha": False, "beta": True, "gamma_paused": True}
    assert api.patch(v2("dags"), json={"is_paused": True}, as_="viewer").status_code == 403
    assert api.patch(v2("dags"), json={}).status_code == 422


def test_versions_and_sources(api, config, db) -> None:
    path = store_dag_file(config, db, "three", DAGS)
    store_dag_file(config, db, "three", DAGS.replace('"only"', '"only_now"'))
    versions = api.get(v2("dags/beta/dagVersions")).json()
    dump("DAGVersionCollectionResponse", versions)
    assert [v["version_number"] for v in versions["dag_versions"]] == [1, 2]
    assert versions["total_entries"] == 2 and versions["dag_versions"][0]["bundle_name"] == "dags-folder"
    assert [v["version_number"] for v in
            api.get(v2("dags/beta/dagVersions"), params={"order_by": "-version_number"}).json()["dag_versions"]] \
        == [2, 1]
    assert api.get(v2("dags/beta/dagVersions"), params={"version_number": 2}).json()["total_entries"] == 1
    assert api.get(v2("dags/~/dagVersions")).json()["total_entries"] == 5
    one = api.get(v2("dags/beta/dagVersions/2")).json()
    assert one["version_number"] == 2 and one["id"] == versions["dag_versions"][1]["id"]
    assert api.get(v2("dags/beta/dagVersions/9")).status_code == 404
    assert api.get(v2("dags/nope/dagVersions")).status_code == 404

    source = api.get(v2("dagSources/beta"), as_="viewer").json()
    dump("DAGSourceResponse", source)
    assert "only_now" in source["content"] and source["version_number"] == 2
    assert source["dag_display_name"] == "beta"
    text = api.get(v2("dagSources/beta"), headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == open(path).read()
    assert api.get(v2("dagSources/beta"), params={"version_number": 2}).status_code == 200
    old = api.get(v2("dagSources/beta"), params={"version_number": 1})  # the code as version 1 was parsed
    assert old.status_code == 200 and old.json()["version_number"] == 1 and "only_now" not in old.json()["content"]
    assert api.get(v2("dagSources/nope")).status_code == 404


def test_tags(api, config, db) -> None:
    store_dag_file(config, db, "three", DAGS)
    body = api.get(v2("dagTags"), as_="viewer").json()
    dump("DAGTagCollectionResponse", body)
    assert body == {"tags": ["etl", "team_a", "team_b"], "total_entries": 3}
    assert api.get(v2("dagTags"), params={"order_by": "-name", "limit": 1}).json() == \
        {"tags": ["team_b"], "total_entries": 3}
    assert api.get(v2("dagTags"), params={"tag_name_pattern": "TEAM"}).json()["tags"] == ["team_a", "team_b"]
    assert api.get(v2("dagTags"), params={"tag_name_prefix_pattern": "et"}).json()["tags"] == ["etl"]
    assert api.get(v2("dagTags"), params={"order_by": "dag_id"}).status_code == 400


def test_tasks(api, config, db) -> None:
    store_dag_file(config, db, "three", DAGS)
    body = api.get(v2("dags/alpha/tasks"), as_="viewer").json()
    dump("TaskCollectionResponse", body)
    assert [t["task_id"] for t in body["tasks"]] == ["first", "second", "third"] and body["total_entries"] == 3
    second = api.get(v2("dags/alpha/tasks/second")).json()
    dump("TaskResponse", second)
    assert second["retries"] == 2 and second["downstream_task_ids"] == ["third"]
    assert second["execution_timeout"] == {"__type": "TimeDelta", "days": 0, "seconds": 300, "microseconds": 0}
    assert second["class_ref"]["class_name"] == "PythonOperator" and second["class_ref"]["module_path"]
    third = api.get(v2("dags/alpha/tasks/third")).json()
    assert third["class_ref"]["module_path"] and third["class_ref"]["class_name"]
    assert third["operator_name"] == "@task"
    assert [t["task_id"] for t in api.get(v2("dags/alpha/tasks"), params={"order_by": "-task_id"})
            .json()["tasks"]] == ["third", "second", "first"]
    assert api.get(v2("dags/alpha/tasks"), params={"order_by": "nope"}).status_code == 400
    assert api.get(v2("dags/alpha/tasks/nope")).status_code == 404
    assert api.get(v2("dags/nope/tasks")).status_code == 404


def test_warnings_for_missing_pools(api, config, db) -> None:
    store_dag_file(config, db, "three", DAGS)
    body = api.get(v2("dagWarnings"), as_="viewer").json()
    dump("DAGWarningCollectionResponse", body)
    assert body["total_entries"] == 1
    warning = body["dag_warnings"][0]
    assert warning["dag_id"] == "alpha" and warning["warning_type"] == "non-existent pool"
    assert "missing_pool" in warning["message"] and warning["dag_display_name"] == "Alpha DAG"
    assert api.get(v2("dagWarnings"), params={"dag_id": "beta"}).json()["total_entries"] == 0
    assert api.get(v2("dagWarnings"), params={"warning_type": "asset conflict"}).json()["total_entries"] == 0
    assert api.get(v2("dagWarnings"), params={"warning_type": "bogus"}).status_code == 422
    with db.session_scope() as session:
        session.add(Pool(pool="missing_pool", slots=1))
    assert api.get(v2("dagWarnings")).json()["total_entries"] == 0


def test_parse_dag_file_marks_the_file_for_the_dag_processor(api, config, db) -> None:
    path = store_dag_file(config, db, "three", DAGS)
    token = api.get(v2("dags/alpha")).json()["file_token"]
    assert api.put(v2(f"parseDagFile/{token}"), as_="viewer").status_code == 403
    response = api.put(v2(f"parseDagFile/{token}"), as_="user")
    assert response.status_code == 201, response.text
    with db.read_scope() as session:
        row = session.get(ParsedFile, path)
        assert row is not None and row.content_hash == "" and row.mtime == -1.0

    from tradewind.schedule.dag_processor import DagProcessor

    processor = DagProcessor(config, db)
    try:
        assert path in processor.list_and_queue()[1]  # queued although its bytes did not change
    finally:
        processor.close()
    assert api.put(v2("parseDagFile/L2V0Yy9wYXNzd2Q"), as_="user").status_code == 404  # /etc/passwd
    assert api.put(v2("parseDagFile/%25%25"), as_="user").status_code == 404
