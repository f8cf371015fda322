"""Human-in-the-loop requests under ``/api/v2`` embed Airflow 3's task-instance bodies (the same
the task-instance routes answer, and one try's body for ``.../hitlDetails/tries/{n}``), while
``/api/v1`` keeps embedding its own (a real approval task left waiting by the real scheduler)."""

from __future__ import annotations

from uuid import UUID

import pytest
from api_support import Api, make_api, store_dag_file
from official_client_support import run_until_deferred

DAGS = """
from airflow.providers.standard.operators.hitl import ApprovalOperator

with DAG("approval", start_date=datetime(2024, 1, 1), schedule=None, dag_display_name="Approval flow"):
    ApprovalOperator(task_id="approve", subject="Ship it?")
"""
V2 = "/api/v2"
TI = f"{V2}/dags/approval/dagRuns/r1/taskInstances/approve"


@pytest.fixture
def waiting(config, db) -> Api:
    """The app, with run ``r1`` of ``approval`` whose approval task waits (deferred) for an answer."""
    store_dag_file(config, db, "approval_dags", DAGS)
    api = make_api(config, db)
    made = api.post("dags/approval/dagRuns", json={"dag_run_id": "r1"})
    assert made.status_code == 200, made.text
    run_until_deferred(config, db, "approval", "r1")
    return api


def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_v2_requests_embed_airflow_3_task_instances(waiting: Api) -> None:
    ti = _ok(waiting.get(TI))
    one = _ok(waiting.get(f"{V2}/hitlDetails/approval/r1/approve"))
    assert one["subject"] == "Ship it?" and one["response_received"] is False
    embedded = one["task_instance"]
    assert embedded == ti  # the task-instance route's own body, Airflow 3's fields and all
    assert UUID(embedded["id"]) and embedded["run_after"] and embedded["executor_config"] == "{}"
    assert embedded["dag_display_name"] == "Approval flow" and embedded["state"] == "deferred"
    assert _ok(waiting.get(f"{TI}/-1/hitlDetails"))["task_instance"] == ti
    listed = _ok(waiting.get(f"{V2}/dags/~/dagRuns/~/hitlDetails"))
    assert listed["total_entries"] == 1 and listed["hitl_details"][0]["task_instance"] == ti


def test_v2_request_of_one_try_embeds_that_try(waiting: Api) -> None:
    try_body = _ok(waiting.get(f"{TI}/tries/1"))
    detail = _ok(waiting.get(f"{TI}/-1/hitlDetails/tries/1"))
    assert detail["task_instance"] == try_body  # Airflow's HITLDetailHistory: a TaskInstanceHistoryResponse
    assert detail["task_instance"]["try_number"] == 1 and "id" not in detail["task_instance"]
    missing = waiting.get(f"{TI}/-1/hitlDetails/tries/2")
    assert missing.status_code == 404 and "try 2" in missing.json()["detail"]


def test_v1_requests_keep_v1_task_instances(waiting: Api) -> None:
    ti = _ok(waiting.get("dags/approval/dagRuns/r1/taskInstances/approve"))
    one = _ok(waiting.get("hitlDetails/approval/r1/approve"))
    assert one["task_instance"] == ti and one["pending"] is True
    listed = _ok(waiting.get("dags/~/dagRuns/~/hitlDetails"))
    assert [d["task_instance"] for d in listed["hitl_details"]] == [ti]
