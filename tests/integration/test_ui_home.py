"""UI: the home page (/) and its one data endpoint /ui/data/home, on real runs in a real database."""

from __future__ import annotations

from datetime import timedelta

from api_support import Api, run_to_end, store_dag_file
from sqlalchemy import update
from ui_support import browser, page_data

from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries import jobs as job_queries

DAGS = """
def explode():
    raise RuntimeError("boom")

with DAG("breaks", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="explode", python_callable=explode)

with DAG("works", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="only")
"""


def _trigger(api: Api, dag_id: str, run_id: str, day: int) -> None:
    response = api.post(f"dags/{dag_id}/dagRuns",
                        json={"dag_run_id": run_id, "logical_date": f"2024-02-{day:02d}T00:00:00Z"}, as_="user")
    assert response.status_code == 200, response.text


def _data(api: Api, as_: str = "viewer") -> dict:
    response = api.get("/ui/data/home", as_=as_)
    assert response.status_code == 200, response.text
    return response.json()


def test_home_page_is_for_every_signed_in_user_and_no_longer_a_redirect(api) -> None:
    anonymous = api.client.get("/", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert api.get("/ui/data/home", as_=None).status_code == 401
    for role in ("viewer", "admin"):
        page = browser(api, role).get("/", follow_redirects=False)
        assert page.status_code == 200, page.text
        assert "<h1>Home</h1>" in page.text and '<script src="/static/home.js">' in page.text
        assert "Content-Security-Policy" in page.headers
        assert page_data(page.text)["window_hours"] == 24


def test_failures_of_the_last_day_runs_now_history_health_and_pools(api, config, db) -> None:
    store_dag_file(config, db, "home_dags", DAGS)
    _trigger(api, "breaks", "old_failure", 1)
    _trigger(api, "breaks", "new_failure", 2)
    _trigger(api, "works", "fine", 3)
    _trigger(api, "works", "waiting", 4)  # never driven: stays queued
    assert run_to_end(config, db, "breaks", "old_failure") == "failed"
    assert run_to_end(config, db, "breaks", "new_failure") == "failed"
    assert run_to_end(config, db, "works", "fine") == "success"
    now = utcnow()
    two_days_ago = now - timedelta(hours=30)
    with db.session_scope() as session:  # one failure ended more than a day ago
        session.execute(update(DagRun).where(DagRun.run_id == "old_failure")
                        .values(start_date=two_days_ago, end_date=two_days_ago))
        session.execute(update(TaskInstance).where(TaskInstance.run_id == "old_failure")
                        .values(start_date=two_days_ago, end_date=two_days_ago))
        job_queries.start_job(session, job_queries.SCHEDULER, "sched-host", 11, now)
        job_queries.start_job(session, job_queries.TRIGGERER, "trig-host", 12, now - timedelta(hours=2))

    body = _data(api)
    failed = body["failed_runs"]
    assert failed["total"] == 1
    assert [(r["dag_id"], r["run_id"], r["state"]) for r in failed["items"]] == [("breaks", "new_failure", "failed")]
    assert failed["items"][0]["end_date"] and failed["items"][0]["logical_date"].startswith("2024-02-02")
    tis = body["failed_task_instances"]
    assert tis["total"] == 1
    assert [(t["dag_id"], t["run_id"], t["task_id"]) for t in tis["items"]] == [("breaks", "new_failure", "explode")]
    # The history counts what finished in the window plus what is queued or running now.
    assert body["run_states"] == {"queued": 1, "running": 0, "success": 1, "failed": 1}
    assert [r["run_id"] for r in body["queued_runs"]["items"]] == ["waiting"] and body["queued_runs"]["total"] == 1
    assert body["running_runs"] == {"total": 0, "items": []}
    assert body["running_task_instances"]["total"] == 0
    assert body["dags"]["active"] == 2 and body["import_errors"] == 0
    pools = {p["name"]: p for p in body["pools"]}
    assert pools["default_pool"]["running"] == 0 and pools["default_pool"]["open"] == pools["default_pool"]["slots"]

    health = body["health"]
    assert health["metadatabase"]["status"] == "healthy"
    assert health["scheduler"]["status"] == "healthy" and health["scheduler"]["latest_heartbeat"]
    assert ("sched-host", 11, True) in [(j["hostname"], j["pid"], j["alive"]) for j in health["scheduler"]["jobs"]]
    # A triggerer that stopped heartbeating is down, and the page can say since when.
    assert health["triggerer"]["status"] == "unhealthy"
    assert [(j["hostname"], j["alive"]) for j in health["triggerer"]["jobs"]] == [("trig-host", False)]
    assert health["dag_processor"]["status"] is None and health["dag_processor"]["jobs"] == []
    assert health["workers"]["celery"] is False and health["workers"]["executor"]
    # The same health the monitoring endpoint reports.
    monitor = api.get("/api/v2/monitor/health", as_=None).json()
    for name in ("scheduler", "triggerer", "dag_processor"):
        assert monitor[name]["status"] == health[name]["status"], name


def test_empty_installation_answers_with_zeros_not_errors(api) -> None:
    body = _data(api, as_="admin")
    assert body["failed_runs"] == {"total": 0, "items": []}
    assert body["failed_task_instances"] == {"total": 0, "items": []}
    assert body["run_states"] == {"queued": 0, "running": 0, "success": 0, "failed": 0}
    assert body["health"]["scheduler"]["status"] == "unhealthy" and body["health"]["scheduler"]["jobs"] == []
    assert [p["name"] for p in body["pools"]] == ["default_pool"]


def test_home_script_builds_the_page_with_text_only() -> None:
    from pathlib import Path
    import re

    source = (Path(__file__).resolve().parents[2] / "src/tradewind/observe/ui/static/home.js").read_text()
    assert "tw.el(" in source
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", source)
