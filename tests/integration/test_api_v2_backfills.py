"""REST API ``/api/v2/backfills`` (Airflow 3): create (through the action layer), dry run, list,
get, pause, unpause, cancel; errors and roles."""

from __future__ import annotations

import pytest
from api_support import Api, make_api, store_dag_file
from sqlalchemy import select

from tradewind.persist.models import AuditLog, BackfillDagRun

V2 = "/api/v2"

DAGS = """
with DAG("daily", start_date=datetime(2024, 1, 1), schedule="@daily", dag_display_name="Daily load",
         params={"rows": Param(5, type="integer", minimum=1)}):
    EmptyOperator(task_id="t")

with DAG("manual", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="t")
"""
BODY = {"dag_id": "daily", "from_date": "2024-01-01T00:00:00Z", "to_date": "2024-01-03T00:00:00Z"}


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "backfill_dags", DAGS)
    return make_api(config, db)


def test_dry_run_lists_dates_and_writes_nothing(api, db) -> None:
    plan = api.post(f"{V2}/backfills/dry_run", json=BODY)
    assert plan.status_code == 200, plan.text
    assert plan.json() == {"total_entries": 3, "backfills": [
        {"logical_date": f"2024-01-0{d}T00:00:00Z", "partition_key": None, "partition_date": None}
        for d in (1, 2, 3)]}
    backwards = api.post(f"{V2}/backfills/dry_run", json={**BODY, "run_backwards": True}).json()
    assert [b["logical_date"][:10] for b in backwards["backfills"]] == ["2024-01-03", "2024-01-02", "2024-01-01"]
    with db.read_scope() as session:
        assert session.scalars(select(BackfillDagRun)).first() is None
    assert api.get(f"{V2}/backfills", params={"dag_id": "daily"}).json() == {"backfills": [], "total_entries": 0}
    assert api.post(f"{V2}/backfills/dry_run", json=BODY, as_="viewer").status_code == 403


def test_create_list_get_pause_unpause_cancel(api, db) -> None:
    assert api.post(f"{V2}/backfills", json=BODY, as_="viewer").status_code == 403
    made = api.post(f"{V2}/backfills", json={**BODY, "dag_run_conf": {"rows": 7}, "max_active_runs": 2}, as_="user")
    assert made.status_code == 200, made.text
    backfill = made.json()
    assert {k: backfill[k] for k in ("dag_id", "dag_display_name", "from_date", "to_date", "dag_run_conf",
                                     "is_paused", "reprocess_behavior", "max_active_runs", "completed_at")} == {
        "dag_id": "daily", "dag_display_name": "Daily load", "from_date": "2024-01-01T00:00:00Z",
        "to_date": "2024-01-03T00:00:00Z", "dag_run_conf": {"rows": 7}, "is_paused": False,
        "reprocess_behavior": "none", "max_active_runs": 2, "completed_at": None}
    assert backfill["updated_at"] == backfill["created_at"]
    bid = backfill["id"]

    assert api.get(f"{V2}/backfills/{bid}").json() == backfill
    listing = api.get(f"{V2}/backfills", params={"dag_id": "daily"}, as_="viewer").json()
    assert listing == {"backfills": [backfill], "total_entries": 1}

    assert api.put(f"{V2}/backfills/{bid}/pause", as_="viewer").status_code == 403
    assert api.put(f"{V2}/backfills/{bid}/pause", as_="user").json()["is_paused"] is True
    assert api.put(f"{V2}/backfills/{bid}/unpause").json()["is_paused"] is False
    cancelled = api.put(f"{V2}/backfills/{bid}/cancel", as_="user")
    assert cancelled.status_code == 200 and cancelled.json()["completed_at"] is not None
    assert cancelled.json()["updated_at"] == cancelled.json()["completed_at"]
    for verb in ("cancel", "pause", "unpause"):
        assert api.put(f"{V2}/backfills/{bid}/{verb}").status_code == 409
    with db.read_scope() as session:
        events = [e for e in session.scalars(select(AuditLog.event).order_by(AuditLog.id)) if e.startswith("backfill")]
    assert events == ["backfill.create", "backfill.pause", "backfill.unpause", "backfill.cancel"]

    # A second backfill once the first is done; the list pages and orders by id.
    second = api.post(f"{V2}/backfills", json=BODY).json()["id"]
    ids = [b["id"] for b in api.get(f"{V2}/backfills", params={"dag_id": "daily", "order_by": "-id"}).json()[
        "backfills"]]
    assert ids == [second, bid]
    page = api.get(f"{V2}/backfills", params={"dag_id": "daily", "limit": 1, "offset": 1}).json()
    assert page["total_entries"] == 2 and [b["id"] for b in page["backfills"]] == [second]


def test_errors(api) -> None:
    assert api.post(f"{V2}/backfills", json=BODY).status_code == 200
    duplicate = api.post(f"{V2}/backfills", json=BODY)
    assert duplicate.status_code == 409 and "active backfill" in duplicate.json()["detail"]
    assert api.post(f"{V2}/backfills", json={**BODY, "dag_id": "nope"}).status_code == 404
    bad_enum = api.post(f"{V2}/backfills", json={**BODY, "dag_id": "manual", "reprocess_behavior": "all"})
    assert bad_enum.status_code == 422 and bad_enum.json()["field"] == "reprocess_behavior"
    naive = api.post(f"{V2}/backfills", json={**BODY, "dag_id": "manual", "from_date": "2024-01-01T00:00:00"})
    assert naive.status_code == 400 and naive.json()["field"] == "from_date", naive.text
    unscheduled = api.post(f"{V2}/backfills/dry_run", json={**BODY, "dag_id": "manual"})
    assert unscheduled.status_code == 400 and unscheduled.json()["field"] == "dag_id", unscheduled.text
    latest = api.post(f"{V2}/backfills", json={**BODY, "run_on_latest_version": False})
    assert latest.status_code == 400 and latest.json()["field"] == "run_on_latest_version"
    assert api.post(f"{V2}/backfills", json={**BODY, "surprise": 1}).status_code == 422
    missing = api.get(f"{V2}/backfills/999")
    assert missing.status_code == 404 and "999" in missing.json()["detail"]
    assert api.get(f"{V2}/backfills/-1").status_code == 422
    assert api.put(f"{V2}/backfills/999/pause").status_code == 404
    assert api.get(f"{V2}/backfills").json()["field"] == "dag_id"  # dag_id is required
    assert api.get(f"{V2}/backfills", params={"dag_id": "nope"}).status_code == 404
    assert api.get(f"{V2}/backfills", params={"dag_id": "daily", "order_by": "dag_id"}).json()["field"] == "order_by"
