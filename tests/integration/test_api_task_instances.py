"""REST API: task instances (list, ~ batch, get, tries, dependencies, mark, clear), their logs
(continuation token, text/plain, no traversal) and XCom entries, on runs the real scheduler ran."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from api_support import Api, assert_problem, make_api, run_to_end, store_dag_file

DAGS = """
def produce(ti):
    print("producing <script>alert('x')</script>")
    ti.xcom_push(key="api_token", value="s3cr3t-value")
    return {"rows": 3}

def boom():
    print("about to fail")
    raise RuntimeError("boom")

with DAG("pipe", start_date=datetime(2024, 1, 1), schedule=None):
    a = PythonOperator(task_id="produce", python_callable=produce)
    b = PythonOperator(task_id="boom", python_callable=boom, retries=0)
    c = EmptyOperator(task_id="after")
    a >> b >> c
"""


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "pipe", DAGS)
    client = make_api(config, db)
    client.post("dags/pipe/dagRuns", json={"dag_run_id": "r1", "logical_date": "2024-02-01T00:00:00Z"})
    assert run_to_end(config, db, "pipe", "r1") == "failed"
    return client


TI = "dags/pipe/dagRuns/r1/taskInstances"


def test_list_get_and_filters(api) -> None:
    body = api.get(TI, as_="viewer").json()
    assert body["total_entries"] == 3
    states = {t["task_id"]: t["state"] for t in body["task_instances"]}
    assert states == {"produce": "success", "boom": "failed", "after": "upstream_failed"}
    produce = api.get(f"{TI}/produce").json()
    assert produce["try_number"] == 1 and produce["logical_date"] == "2024-02-01T00:00:00+00:00"
    assert produce["dag_run_id"] == "r1" and produce["map_index"] == -1 and produce["duration"] is not None
    assert [t["task_id"] for t in api.get(TI, params={"state": "failed"}).json()["task_instances"]] == ["boom"]
    assert api.get(TI, params={"limit": 1, "offset": 1}).json()["task_instances"][0]["task_id"] == "boom"
    every = api.get("dags/~/dagRuns/~/taskInstances", params={"task_id": ["produce", "after"]}).json()
    assert sorted(t["task_id"] for t in every["task_instances"]) == ["after", "produce"]
    batch = api.post("dags/~/dagRuns/~/taskInstances/list", json={"dag_ids": ["pipe"], "state": ["success"]}).json()
    assert [t["task_id"] for t in batch["task_instances"]] == ["produce"]
    assert_problem(api.get(f"{TI}/nope"), 404, contains="nope")
    assert_problem(api.get("dags/pipe/dagRuns/nope/taskInstances"), 404)
    assert_problem(api.get(f"{TI}/produce/3"), 404)  # no mapped instance 3
    assert api.get(f"{TI}/produce/listMapped").json()["total_entries"] == 0


def test_tries_and_dependencies(api) -> None:
    tries = api.get(f"{TI}/boom/tries").json()
    assert tries["total_entries"] == 1 and tries["task_instances"][0]["state"] == "failed"
    assert "boom" in tries["task_instances"][0]["error"]
    assert api.get(f"{TI}/boom/tries/1").json()["try_number"] == 1
    assert_problem(api.get(f"{TI}/boom/tries/2"), 404, contains="try number 2")
    deps = api.get(f"{TI}/after/dependencies", as_="viewer").json()["dependencies"]
    assert deps and any("upstream_failed" in d["reason"] or "state" in d["reason"] for d in deps)


def test_mark_state_with_downstream(api) -> None:
    body = {"new_state": "success", "include_downstream": True}
    dry = api.patch(f"{TI}/boom", json=body).json()  # dry run by default, as Airflow 2
    assert sorted(t["task_id"] for t in dry["task_instances"]) == ["after", "boom"]
    assert api.get(f"{TI}/boom").json()["state"] == "failed"
    assert api.patch(f"{TI}/boom", json={**body, "dry_run": False}, as_="viewer").status_code == 403
    done = api.patch(f"{TI}/boom", json={**body, "dry_run": False}, as_="user")
    assert done.status_code == 200
    assert {t["task_id"]: t["state"] for t in done.json()["task_instances"]} == {"boom": "success", "after": "success"}
    assert_problem(api.patch(f"{TI}/boom", json={"new_state": "running"}), 422, field="new_state")
    assert_problem(api.patch(f"{TI}/nope", json={"new_state": "success"}), 404)
    [entry] = api.get("eventLogs", params={"event": "set_state"}).json()["event_logs"]
    assert entry["owner"] == "user_user" and entry["task_id"] == "boom"


def test_update_task_instances_state_by_run_or_date(api) -> None:
    path = "dags/pipe/updateTaskInstancesState"
    dry = api.post(path, json={"task_id": "boom", "execution_date": "2024-02-01T00:00:00Z", "new_state": "success",
                               "include_downstream": True}).json()
    assert sorted(t["task_id"] for t in dry["task_instances"]) == ["after", "boom"]
    assert dry["task_instances"][0]["dag_run_id"] == "r1" and api.get(f"{TI}/boom").json()["state"] == "failed"
    done = api.post(path, json={"task_id": "boom", "dag_run_id": "r1", "new_state": "skipped", "dry_run": False},
                    as_="user")
    assert done.status_code == 200 and api.get(f"{TI}/boom").json()["state"] == "skipped"
    assert_problem(api.post(path, json={"task_id": "boom", "new_state": "success"}), 422, field="dag_run_id")
    assert_problem(api.post(path, json={"task_id": "boom", "new_state": "success",
                                        "execution_date": "2030-01-01T00:00:00Z"}), 404)
    assert_problem(api.post(path, json={"task_id": "boom", "new_state": "success",
                                        "execution_date": "2024-02-01T00:00:00"}), 422, field="execution_date")


def test_clear_task_instances(api) -> None:
    path = "dags/pipe/clearTaskInstances"
    dry = api.post(path, json={}).json()  # dry run, only failed: Airflow's defaults
    assert [t["task_id"] for t in dry["task_instances"]] == ["boom", "after"] or \
        sorted(t["task_id"] for t in dry["task_instances"]) == ["after", "boom"]
    up = api.post(path, json={"task_ids": ["boom"], "only_failed": False, "include_upstream": True}).json()
    assert sorted(t["task_id"] for t in up["task_instances"]) == ["boom", "produce"]
    assert_problem(api.post(path, json={"task_ids": ["nope"]}), 422, field="task_ids")
    pair = api.post(path, json={"task_ids": [["boom", -1]], "only_failed": False}).json()  # (task_id, map_index)
    assert [(t["task_id"], t["map_index"]) for t in pair["task_instances"]] == [("boom", -1)]
    assert_problem(api.post(path, json={"only_failed": True, "only_running": True, "dry_run": True}), 422)
    assert_problem(api.post(path, json={"dag_run_id": "nope"}), 404)
    assert api.post(path, json={"dry_run": False}, as_="viewer").status_code == 403
    done = api.post(path, json={"dry_run": False, "task_ids": ["boom"], "dag_run_id": "r1"}, as_="user").json()
    assert [t["task_id"] for t in done["task_instances"]] == ["boom"] and done["task_instances"][0]["state"] is None
    assert api.get("dags/pipe/dagRuns/r1").json()["state"] == "queued"
    assert api.get("eventLogs", params={"event": "clear"}).json()["event_logs"][0]["owner"] == "user_user"


def test_task_instance_notes_are_the_users_and_round_trip(api, config, db) -> None:
    boom = api.get(f"{TI}/boom").json()
    assert boom["note"] is None  # the scheduler's reason for a state change is not the user's note
    body = api.patch(f"{TI}/boom/setNote", json={"note": "known flaky"}, as_="user")
    assert body.status_code == 200, body.text
    assert body.json()["note"] == "known flaky" and body.json()["task_id"] == "boom"
    assert api.get(f"{TI}/boom").json()["note"] == "known flaky"
    assert {t["task_id"]: t["note"] for t in api.get(TI).json()["task_instances"]}["boom"] == "known flaky"
    assert_problem(api.patch(f"{TI}/boom/setNote", json={"note": "x" * 1001}), 422, field="note", contains="1000")
    assert api.patch(f"{TI}/boom/setNote", json={"note": "x"}, as_="viewer").status_code == 403
    assert_problem(api.patch(f"{TI}/boom/4/setNote", json={"note": "x"}), 404)  # no mapped instance 4
    assert_problem(api.patch(f"{TI}/nope/setNote", json={"note": "x"}), 404)
    [entry] = api.get("eventLogs", params={"event": "task_instance.set_note"}).json()["event_logs"]
    assert entry["owner"] == "user_user" and entry["task_id"] == "boom"
    assert api.patch(f"{TI}/boom/setNote", json={"note": None}).json()["note"] is None


def test_logs_follow_with_a_token(api, config) -> None:
    path = f"{TI}/boom/logs/1"
    first = api.get(path, as_="viewer").json()
    assert "about to fail" in first["content"] and first["end_of_log"] is True
    again = api.get(path, params={"token": first["continuation_token"]}).json()
    assert again["content"] == "" and again["end_of_log"] is True
    full = api.get(path, params={"full_content": "true", "token": first["continuation_token"]}).json()
    assert full["content"] == first["content"]
    text = api.get(f"{TI}/produce/logs/1", headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "<script>alert('x')</script>" in text.text and text.headers["X-Continuation-Token"]
    assert_problem(api.get(path, params={"token": "garbage!"}), 400, field="token")
    assert_problem(api.get(f"{TI}/boom/logs/2"), 404)
    assert_problem(api.get(f"{TI}/after/logs/1"), 404)  # never ran
    assert_problem(api.get("dags/pipe/dagRuns/r1/taskInstances/..%2F..%2F..%2Fetc/logs/1"), 404)


def test_a_running_try_log_is_followed_line_by_line(api, config, db) -> None:
    from tradewind.execute.logs import log_path
    from tradewind.persist.models import TaskInstance
    from tradewind.workloads import TaskKey

    api.post("dags/pipe/dagRuns", json={"dag_run_id": "live"})
    with db.session_scope() as session:
        session.add(TaskInstance(dag_id="pipe", run_id="live", task_id="produce", state="running", try_number=1,
                                 start_date=datetime.now(timezone.utc)))
    log = Path(log_path(config.logs_folder, TaskKey("pipe", "live", "produce", -1, 1)))
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("line one\npartial")
    path = "dags/pipe/dagRuns/live/taskInstances/produce/logs/1"
    first = api.get(path).json()
    assert first["content"] == "line one\n" and first["end_of_log"] is False  # partial line held back
    with log.open("a") as handle:
        handle.write(" line two\nline three\n")
    second = api.get(path, params={"token": first["continuation_token"]}).json()
    assert second["content"] == "partial line two\nline three\n" and second["end_of_log"] is False


def test_xcom_entries(api) -> None:
    base = f"{TI}/produce/xcomEntries"
    entries = api.get(base, as_="viewer").json()
    assert entries["total_entries"] == 2 and sorted(e["key"] for e in entries["xcom_entries"]) == \
        ["api_token", "return_value"]
    value = api.get(f"{base}/return_value").json()
    assert value["value"] == '{"rows": 3}'  # stored JSON text unless deserialize
    assert api.get(f"{base}/return_value", params={"deserialize": "true", "stringify": "false"}).json()["value"] \
        == {"rows": 3}
    assert api.get(f"{base}/api_token").json()["value"] == "***"  # a secret-looking key is masked
    assert_problem(api.get(f"{base}/nope"), 404, contains="nope")
    every = api.get("dags/~/dagRuns/~/taskInstances/~/xcomEntries", params={"xcom_key": "return_value"}).json()
    assert every["total_entries"] == 1
