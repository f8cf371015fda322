"""REST API: /dags/{dag_id}/dagRuns — trigger (conf vs params), list and filters, get, mark state,
clear, delete; on SQLite and PostgreSQL for the core path."""

from __future__ import annotations

import pytest
from api_support import Api, assert_problem, make_api, run_to_end, store_dag_file

DAGS = """
def boom():
    raise RuntimeError("boom")

with DAG("params_dag", start_date=datetime(2024, 1, 1), schedule=None,
         params={"rows": Param(5, type="integer", minimum=1), "mode": Param("fast", enum=["fast", "slow"])}):
    first = PythonOperator(task_id="first", python_callable=lambda: 1)
    second = EmptyOperator(task_id="second")
    first >> second

with DAG("failing", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="boom", python_callable=boom) >> EmptyOperator(task_id="after")
"""


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "runs_dags", DAGS)
    return make_api(config, db)


def test_trigger_validates_conf_against_params(api) -> None:
    body = assert_problem(api.post("dags/params_dag/dagRuns", json={"conf": {"rows": 0}}), 422, field="conf.rows")
    assert "rows" in body["detail"]
    assert_problem(api.post("dags/params_dag/dagRuns", json={"conf": {"mode": "warp"}}), 422, field="conf.mode")
    assert_problem(api.post("dags/params_dag/dagRuns", json={"conf": "nope"}), 422, field="conf")
    assert_problem(api.post("dags/params_dag/dagRuns", json={"logical_date": "yesterday"}), 422, field="logical_date")
    assert_problem(api.post("dags/params_dag/dagRuns", json={"logical_date": "2024-01-01T00:00:00"}), 422,
                   field="logical_date")
    assert_problem(api.post("dags/nope/dagRuns", json={}), 404, contains="nope")
    assert api.post("dags/params_dag/dagRuns", json={}, as_="viewer").status_code == 403

    made = api.post("dags/params_dag/dagRuns", as_="user",
                    json={"dag_run_id": "r1", "logical_date": "2024-03-01T00:00:00Z", "conf": {"rows": 7}})
    assert made.status_code == 200, made.text
    run = made.json()
    assert run["dag_run_id"] == "r1" and run["state"] == "queued" and run["conf"] == {"rows": 7}
    assert run["logical_date"] == run["execution_date"] == "2024-03-01T00:00:00+00:00"
    assert_problem(api.post("dags/params_dag/dagRuns", json={"dag_run_id": "r1"}), 409, contains="r1")
    [entry] = api.get("eventLogs", params={"event": "trigger"}).json()["event_logs"]
    assert entry["owner"] == "user_user" and entry["run_id"] == "r1"
    # Airflow 2's name of the logical date is accepted too.
    old = api.post("dags/params_dag/dagRuns", json={"dag_run_id": "r2", "execution_date": "2024-03-02T00:00:00Z"})
    assert old.json()["logical_date"] == "2024-03-02T00:00:00+00:00"


def test_run_notes_and_the_conf_size_limit(api) -> None:
    made = api.post("dags/params_dag/dagRuns", json={"dag_run_id": "n1", "note": "first try"}, as_="user").json()
    assert made["note"] == "first try"
    assert api.get("dags/params_dag/dagRuns/n1").json()["note"] == "first try"
    noted = api.patch("dags/params_dag/dagRuns/n1/setNote", json={"note": "rerun after fix"}, as_="user")
    assert noted.status_code == 200 and noted.json()["note"] == "rerun after fix"
    assert api.get("dags/params_dag/dagRuns").json()["dag_runs"][0]["note"] == "rerun after fix"
    assert_problem(api.patch("dags/params_dag/dagRuns/n1/setNote", json={"note": "y" * 1001}), 422, field="note")
    assert_problem(api.patch("dags/params_dag/dagRuns/n9/setNote", json={"note": "y"}), 404)
    assert_problem(api.post("dags/params_dag/dagRuns", json={"note": "z" * 1001}), 422, field="note")
    body = assert_problem(api.post("dags/params_dag/dagRuns", json={"conf": {"blob": "x" * 70_000}}), 422,
                          field="conf")
    assert "[core] max_conf_size allows 65536" in body["detail"]
    events = [e["event"] for e in api.get("eventLogs", params={"dag_id": "params_dag"}).json()["event_logs"]]
    assert sorted(events) == ["dag_run.set_note", "trigger"]


def test_list_filters_pages_and_all_dags(api, config, db) -> None:
    for i in range(1, 4):
        api.post("dags/params_dag/dagRuns", json={"dag_run_id": f"p{i}", "logical_date": f"2024-01-0{i}T00:00:00Z"})
    api.post("dags/failing/dagRuns", json={"dag_run_id": "f1", "logical_date": "2024-01-05T00:00:00Z"})
    assert run_to_end(config, db, "params_dag", "p1") == "success"
    assert run_to_end(config, db, "failing", "f1") == "failed"

    runs = api.get("dags/params_dag/dagRuns", as_="viewer").json()
    assert runs["total_entries"] == 3 and [r["dag_run_id"] for r in runs["dag_runs"]] == ["p1", "p2", "p3"]
    assert [r["dag_run_id"] for r in api.get("dags/params_dag/dagRuns", params={"state": "success"}).json()
            ["dag_runs"]] == ["p1"]
    ranged = api.get("dags/params_dag/dagRuns", params={"logical_date_gte": "2024-01-02T00:00:00Z",
                                                         "logical_date_lte": "2024-01-03T00:00:00Z"}).json()
    assert [r["dag_run_id"] for r in ranged["dag_runs"]] == ["p2", "p3"]
    legacy = api.get("dags/params_dag/dagRuns", params={"execution_date_gte": "2024-01-03T00:00:00Z"}).json()
    assert [r["dag_run_id"] for r in legacy["dag_runs"]] == ["p3"]
    page = api.get("dags/params_dag/dagRuns", params={"limit": 2, "offset": 2, "order_by": "-logical_date"}).json()
    assert page["total_entries"] == 3 and [r["dag_run_id"] for r in page["dag_runs"]] == ["p1"]
    every = api.get("dags/~/dagRuns", params={"state": ["success", "failed"]}).json()
    assert sorted(r["dag_run_id"] for r in every["dag_runs"]) == ["f1", "p1"]
    batch = api.post("dags/~/dagRuns/list", json={"dag_ids": ["failing"], "page_limit": 10}).json()
    assert [r["dag_run_id"] for r in batch["dag_runs"]] == ["f1"] and batch["total_entries"] == 1
    assert api.get("dags/params_dag/dagRuns", params={"run_type": "scheduled"}).json()["total_entries"] == 0
    assert_problem(api.get("dags/nope/dagRuns"), 404)
    assert_problem(api.get("dags/params_dag/dagRuns/nope"), 404, contains="nope")
    assert api.get("dags/params_dag/dagRuns/p1").json()["state"] == "success"


def test_mark_clear_and_delete_a_run(api, config, db) -> None:
    api.post("dags/failing/dagRuns", json={"dag_run_id": "f1"})
    assert run_to_end(config, db, "failing", "f1") == "failed"

    assert_problem(api.patch("dags/failing/dagRuns/f1", json={"state": "running"}), 422, field="state")
    assert api.patch("dags/failing/dagRuns/f1", json={"state": "success"}, as_="viewer").status_code == 403
    marked = api.patch("dags/failing/dagRuns/f1", json={"state": "success"}, as_="user")
    assert marked.status_code == 200 and marked.json()["state"] == "success"
    states = {t["task_id"]: t["state"] for t in
              api.get("dags/failing/dagRuns/f1/taskInstances").json()["task_instances"]}
    assert states == {"boom": "success", "after": "success"}

    dry = api.post("dags/failing/dagRuns/f1/clear", json={}).json()  # dry run by default
    assert sorted(t["task_id"] for t in dry["task_instances"]) == ["after", "boom"]
    assert api.get("dags/failing/dagRuns/f1").json()["state"] == "success"
    cleared = api.post("dags/failing/dagRuns/f1/clear", json={"dry_run": False}, as_="user").json()
    assert cleared["state"] == "queued"
    assert {t["state"] for t in api.get("dags/failing/dagRuns/f1/taskInstances").json()["task_instances"]} == {None}
    events = [e["event"] for e in api.get("eventLogs", params={"run_id": "f1"}).json()["event_logs"]]
    assert events == ["trigger", "set_run_state", "clear"]

    assert api.delete("dags/failing/dagRuns/f1", as_="viewer").status_code == 403
    assert api.delete("dags/failing/dagRuns/f1", as_="user").status_code == 204
    assert_problem(api.get("dags/failing/dagRuns/f1"), 404)
    assert api.get("dags/~/dagRuns/~/taskInstances", params={"task_id": "boom"}).json()["total_entries"] == 0


@pytest.mark.postgres
def test_trigger_list_and_clear_on_postgres(pg_db, config) -> None:
    store_dag_file(config, pg_db, "runs_dags", DAGS)
    api = make_api(config, pg_db)
    api.post("dags/failing/dagRuns", json={"dag_run_id": "f1"})
    assert_problem(api.post("dags/failing/dagRuns", json={"dag_run_id": "f1"}), 409)
    assert run_to_end(config, pg_db, "failing", "f1") == "failed"
    assert api.get("dags", params={"tags": "nope"}).json()["total_entries"] == 0
    assert api.get("dags/~/dagRuns", params={"state": "failed"}).json()["total_entries"] == 1
    tis = api.get("dags/failing/dagRuns/f1/taskInstances", params={"order_by": "-task_id"}).json()
    assert [(t["task_id"], t["state"]) for t in tis["task_instances"]] == [("boom", "failed"),
                                                                           ("after", "upstream_failed")]
    cleared = api.post("dags/failing/clearTaskInstances", json={"dry_run": False, "task_ids": ["boom"],
                                                                 "include_downstream": True}).json()
    assert sorted(t["task_id"] for t in cleared["task_instances"]) == ["after", "boom"]
    assert api.get("dags/failing/dagRuns/f1").json()["state"] == "queued"
