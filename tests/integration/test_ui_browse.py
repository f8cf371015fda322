"""UI: the Browse pages (runs, task instances, audit log, import errors, assets) and the API calls they make."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from api_support import run_to_end, store_dag_file
from ui_support import browser, page_data

PAGES = {"/runs": "runs", "/task-instances": "task_instances", "/audit-log": "audit_log",
         "/import-errors": "import_errors", "/assets": "assets"}

DAGS = """
with DAG("shop", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="load") >> EmptyOperator(task_id="report")

with DAG("other", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="only")
"""


def test_every_browse_page_renders_for_every_role(api) -> None:
    for role in ("viewer", "user", "op", "admin"):
        b = browser(api, role)
        for path, view in PAGES.items():
            page = b.get(path)
            assert page.status_code == 200, (role, path, page.text)
            data = page_data(page.text)
            assert data["view"] == view and "success" in data["run_states"]
            assert '<script src="/static/listing.js">' in page.text and '<script src="/static/browse.js">' in page.text
            assert 'aria-current="page"' in page.text
    for path in PAGES:
        response = api.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    assert "Recent asset events" in browser(api, "viewer").get("/assets").text


def test_runs_and_task_instances_lists_with_the_pages_filters(api, config, db) -> None:
    store_dag_file(config, db, "shop", DAGS)
    for dag_id, run_id, day in (("shop", "s1", 1), ("shop", "s2", 2), ("other", "o1", 3)):
        assert api.post(f"dags/{dag_id}/dagRuns", json={"dag_run_id": run_id,
                                                       "logical_date": f"2024-02-0{day}T00:00:00Z"}).status_code == 200
    assert run_to_end(config, db, "shop", "s1") == "success"
    viewer = browser(api, "viewer")
    # What browse.js asks for: every DAG newest first, filtered by DAG, state, type and logical date range.
    runs = viewer.get("/api/v1/dags/~/dagRuns", params={"order_by": "-id", "limit": 50}).json()
    assert [r["dag_run_id"] for r in runs["dag_runs"]] == ["o1", "s2", "s1"]
    done = viewer.get("/api/v1/dags/shop/dagRuns", params={"order_by": "-id", "state": "success",
                                                            "run_type": "manual"}).json()
    assert [r["dag_run_id"] for r in done["dag_runs"]] == ["s1"]
    ranged = viewer.get("/api/v1/dags/~/dagRuns", params={"logical_date_gte": "2024-02-02T00:00:00Z",
                                                          "logical_date_lte": "2024-02-02T23:00:00Z"}).json()
    assert [r["dag_run_id"] for r in ranged["dag_runs"]] == ["s2"]
    tis = viewer.get("/api/v1/dags/shop/dagRuns/~/taskInstances", params={"order_by": "-id", "state": "success"}).json()
    assert sorted((t["dag_run_id"], t["task_id"]) for t in tis["task_instances"]) == [("s1", "load"), ("s1", "report")]
    one = viewer.get("/api/v1/dags/~/dagRuns/~/taskInstances", params={"task_id": "report"}).json()
    assert [(t["dag_id"], t["dag_run_id"], t["map_index"]) for t in one["task_instances"]] == [("shop", "s1", -1)]


def test_audit_log_import_errors_and_assets_lists(api, config, db) -> None:
    from tradewind.parse.dagbag import FileParseResult, ImportErrorInfo
    from tradewind.persist.queries.dags import store_file_results

    store_dag_file(config, db, "shop", DAGS)
    api.patch("dags/shop", params={"update_mask": "is_paused"}, json={"is_paused": True}, as_="user")
    logs = browser(api, "viewer").get("/api/v1/eventLogs", params={"order_by": "-event_log_id", "dag_id": "shop"})
    assert [(e["event"], e["owner"]) for e in logs.json()["event_logs"]] == [("paused", "user_user")]

    bad = str(Path(config.dags_folder) / "broken.py")
    with db.session_scope() as session:
        store_file_results(session, [FileParseResult(bad, errors=[ImportErrorInfo(
            bad, 7, "SyntaxError: <script>alert(1)</script>", "Traceback:\n  <img src=x onerror=alert(1)>")])],
            datetime.now(timezone.utc))
    page = browser(api, "viewer").get("/import-errors")
    assert "<script>alert" not in page.text and "onerror" not in page.text  # rows arrive as JSON, set as text
    errors = browser(api, "viewer").get("/api/v1/importErrors", params={"order_by": "filename"}).json()
    error = errors["import_errors"][0]
    assert (error["filename"], error["lineno"]) == (bad, 7) and error["stack_trace"].startswith("Traceback")
    events = browser(api, "viewer").get("/api/v1/assets/events", params={"order_by": "-timestamp", "limit": 25})
    assert events.status_code == 200 and events.json()["total_entries"] == 0
