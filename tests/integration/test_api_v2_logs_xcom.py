"""REST API ``/api/v2``: a try's log as structured messages (paged, NDJSON stream) and XCom entries
(list with ``~`` and filters, get in its three forms, create, update, delete), on runs the real
scheduler drove to their end."""

from __future__ import annotations

import json

import pytest
from api_support import Api, make_api, run_to_end, store_dag_file
from sqlalchemy import select

from tradewind.persist.models import AuditLog

V2 = "/api/v2"

DAGS = """
import logging

def chatty():
    log = logging.getLogger("chatty")
    for i in range(LINES):
        log.info("line %06d %s", i, "x" * 40)
    print("printed at the end")

def pusher(ti=None):
    ti.xcom_push(key="db_password", value="s3cret")
    ti.xcom_push(key="numbers", value=[1, 2, 3])
    logging.getLogger("pusher").warning("two lines\\nsecond line")
    return {"rows": 3, "api_token": "tok-123"}

with DAG("logs_dag", start_date=datetime(2024, 1, 1), schedule=None, dag_display_name="Log DAG"):
    PythonOperator(task_id="pusher", python_callable=pusher, task_display_name="Pusher task")

with DAG("chatty_dag", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="chatty", python_callable=chatty)
"""
LINES = 25_000  # about 1.7 MB of log: more than one page (1 MiB)


def _run(api, config, db, dag_id: str) -> None:
    made = api.post(f"dags/{dag_id}/dagRuns", json={"dag_run_id": "r1", "logical_date": "2024-01-01T00:00:00Z"})
    assert made.status_code == 200, made.text
    assert run_to_end(config, db, dag_id, "r1") == "success"


@pytest.fixture
def api(config, db) -> Api:
    """The API after a run of ``logs_dag`` (the pusher)."""
    store_dag_file(config, db, "logs_dags", DAGS.replace("LINES", str(LINES)))
    api = make_api(config, db)
    _run(api, config, db, "logs_dag")
    return api


@pytest.fixture
def chatty_api(api, config, db) -> Api:
    """The API after a run of ``chatty_dag`` too (a long log)."""
    _run(api, config, db, "chatty_dag")
    return api


LOG = f"{V2}/dags/logs_dag/dagRuns/r1/taskInstances"
CHATTY = f"{V2}/dags/chatty_dag/dagRuns/r1/taskInstances"


def test_log_is_structured_and_paged(chatty_api) -> None:
    api = chatty_api
    first = api.get(f"{CHATTY}/chatty/logs/1", headers={"Accept": "application/json"}, as_="viewer")
    assert first.status_code == 200, first.text
    body = first.json()
    lines = [m for m in body["content"] if m["event"].startswith("line ")]
    assert lines and lines[0]["event"] == "line 000000 " + "x" * 40
    assert lines[0]["level"] == "info" and lines[0]["timestamp"].startswith("20")
    assert lines[0]["filename"] and isinstance(lines[0]["lineno"], int)
    assert len(lines) < LINES  # one page, not the whole log

    seen = [m["event"] for m in lines]
    token = body["continuation_token"]
    for _ in range(10):
        page = api.get(f"{CHATTY}/chatty/logs/1", params={"token": token}).json()
        if not page["content"]:
            break
        seen += [m["event"] for m in page["content"] if m["event"].startswith("line ")]
        printed = [m for m in page["content"] if m["event"] == "printed at the end"]
        token = page["continuation_token"]
    assert seen == [f"line {i:06d} {'x' * 40}" for i in range(LINES)]  # every line once, in order
    assert printed and printed[0]["chan"] == "stdout"
    # full_content starts again from the beginning.
    again = api.get(f"{CHATTY}/chatty/logs/1", params={"token": token, "full_content": True}).json()
    assert again["content"][0] == body["content"][0]


def test_log_ndjson_streams_everything(chatty_api) -> None:
    response = chatty_api.get(f"{CHATTY}/chatty/logs/1", headers={"Accept": "application/x-ndjson"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in response.text.splitlines()]
    assert sum(1 for r in records if r.get("event", "").startswith("line ")) == LINES
    assert set(records[-1]) == {"continuation_token"}


def test_log_continuation_lines_and_errors(api) -> None:
    content = api.get(f"{LOG}/pusher/logs/1").json()["content"]
    warning = [m for m in content if m.get("level") == "warning"]
    assert warning and warning[0]["event"] == "two lines\nsecond line"
    assert api.get(f"{LOG}/pusher/logs/2").status_code == 404
    assert api.get(f"{LOG}/nope/logs/1").status_code == 404
    assert api.get(f"{LOG}/pusher/logs/-1").status_code == 422
    bad = api.get(f"{LOG}/pusher/logs/1", params={"token": "garbage!"})
    assert bad.status_code == 400 and bad.json()["field"] == "token"
    assert api.get(f"{LOG}/pusher/logs/1", as_=None).status_code == 401


XCOM = f"{V2}/dags/logs_dag/dagRuns/r1/taskInstances"


def test_xcom_list_filters_and_get(api) -> None:
    listing = api.get(f"{V2}/dags/~/dagRuns/~/taskInstances/~/xcomEntries", as_="viewer")
    assert listing.status_code == 200, listing.text
    entries = listing.json()["xcom_entries"]
    assert [(e["task_id"], e["key"]) for e in entries] == [("pusher", "db_password"), ("pusher", "numbers"),
                                                           ("pusher", "return_value")]
    first = entries[0]
    assert (first["dag_display_name"], first["task_display_name"], first["run_id"], first["map_index"]) == (
        "Log DAG", "Pusher task", "r1", -1)
    assert first["logical_date"] == "2024-01-01T00:00:00Z" and first["run_after"] and first["timestamp"]
    assert listing.json()["total_entries"] == 3

    def keys(path="~", **params):
        response = api.get(f"{XCOM}/{path}/xcomEntries", params=params)
        assert response.status_code == 200, response.text
        return [(e["task_id"], e["key"]) for e in response.json()["xcom_entries"]]

    assert keys("pusher") == [("pusher", "db_password"), ("pusher", "numbers"), ("pusher", "return_value")]
    assert keys("other") == []
    assert keys(xcom_key="numbers") == [("pusher", "numbers")]
    assert keys(xcom_key_pattern="RETURN|numb") == [("pusher", "numbers"), ("pusher", "return_value")]
    assert keys(xcom_key_prefix_pattern="db") == [("pusher", "db_password")]
    assert keys(task_id_prefix_pattern="push", run_id_pattern="r1") != []
    assert keys(task_id_pattern="zzz") == []
    assert len(keys(dag_display_name_pattern="log d")) == 3 and keys(dag_display_name_pattern="zzz") == []
    assert keys(order_by=["-key"])[0] == ("pusher", "return_value")
    assert keys(logical_date_gt="2024-01-01T00:00:00Z") == []
    assert len(keys(run_after_gte="2000-01-01T00:00:00Z", limit=2)) == 2
    assert api.get(f"{XCOM}/~/xcomEntries", params={"order_by": "value"}).json()["field"] == "order_by"

    raw = api.get(f"{XCOM}/pusher/xcomEntries/numbers").json()
    assert raw["value"] == "[1, 2, 3]"  # the stored JSON text
    assert api.get(f"{XCOM}/pusher/xcomEntries/numbers", params={"deserialize": True}).json()["value"] == [1, 2, 3]
    stringified = api.get(f"{XCOM}/pusher/xcomEntries/numbers", params={"deserialize": True, "stringify": True})
    assert stringified.json()["value"] == "[1, 2, 3]"
    # Secrets are masked: the entry's own key, and keys inside the value.
    assert api.get(f"{XCOM}/pusher/xcomEntries/db_password", params={"deserialize": True}).json()["value"] == "***"
    nested = api.get(f"{XCOM}/pusher/xcomEntries/return_value", params={"deserialize": True})
    assert nested.json()["value"] == {"rows": 3, "api_token": "***"} and "tok-123" not in nested.text
    missing = api.get(f"{XCOM}/pusher/xcomEntries/nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "XCom entry with key: `nope` not found"


def test_xcom_create_update_delete(api, db) -> None:
    body = {"key": "manual", "value": {"a": 1}}
    assert api.post(f"{XCOM}/pusher/xcomEntries", json=body, as_="user").status_code == 403
    made = api.post(f"{XCOM}/pusher/xcomEntries", json=body, as_="op")
    assert made.status_code == 201, made.text
    assert (made.json()["key"], made.json()["value"], made.json()["map_index"]) == ("manual", {"a": 1}, -1)
    duplicate = api.post(f"{XCOM}/pusher/xcomEntries", json=body)
    assert duplicate.status_code == 409 and "`manual`" in duplicate.json()["detail"]
    assert api.post(f"{XCOM}/nope/xcomEntries", json=body).status_code == 404
    assert api.post(f"{V2}/dags/logs_dag/dagRuns/nope/taskInstances/pusher/xcomEntries", json=body).status_code == 404
    assert api.post(f"{XCOM}/pusher/xcomEntries", json={"key": "k"}).json()["field"] == "value"

    updated = api.patch(f"{XCOM}/pusher/xcomEntries/manual", json={"value": [4, 5]})
    assert updated.status_code == 200 and updated.json()["value"] == [4, 5]
    assert api.get(f"{XCOM}/pusher/xcomEntries/manual", params={"deserialize": True}).json()["value"] == [4, 5]
    assert api.patch(f"{XCOM}/pusher/xcomEntries/manual", json={"value": 1, "map_index": 3}).status_code == 404
    assert api.patch(f"{XCOM}/pusher/xcomEntries/manual", json={"value": 1}, as_="viewer").status_code == 403

    assert api.delete(f"{XCOM}/pusher/xcomEntries/manual").status_code == 204
    assert api.get(f"{XCOM}/pusher/xcomEntries/manual").status_code == 404
    assert api.delete(f"{XCOM}/pusher/xcomEntries/manual").status_code == 404
    with db.read_scope() as session:
        events = [e for e in session.scalars(select(AuditLog.event).order_by(AuditLog.id)) if e.startswith("xcom.")]
    assert events == ["xcom.create", "xcom.edit", "xcom.delete"]
