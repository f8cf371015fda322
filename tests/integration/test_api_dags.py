"""REST API: /dags (list, filters, pagination, get, pause, delete, details, tasks) and /dagSources."""

from __future__ import annotations

from api_support import assert_problem, store_dag_file


DAGS = """
with DAG("alpha", start_date=datetime(2024, 1, 1), schedule="@daily", tags=["team_a", "etl"],
         description="<script>alert(1)</script>", params={"rows": Param(5, type="integer", minimum=1)},
         dag_display_name="Alpha DAG") as alpha:
    first = EmptyOperator(task_id="first")
    second = PythonOperator(task_id="second", python_callable=lambda: 1, retries=2)
    first >> second

with DAG("beta", start_date=datetime(2024, 1, 1), schedule=None, tags=["team_b"]):
    EmptyOperator(task_id="only")

with DAG("gamma_paused", start_date=datetime(2024, 1, 1), schedule=None, is_paused_upon_creation=True):
    EmptyOperator(task_id="only")
"""


def _ids(body: dict) -> list[str]:
    return [d["dag_id"] for d in body["dags"]]


def test_list_dags_with_filters_order_and_pages(api, config, db) -> None:
    store_dag_file(config, db, "dags_abc", DAGS)
    body = api.get("dags", as_="viewer").json()
    assert body["total_entries"] == 3 and _ids(body) == ["alpha", "beta", "gamma_paused"]
    alpha = body["dags"][0]
    assert alpha["dag_display_name"] == "Alpha DAG" and alpha["is_paused"] is False
    assert {t["name"] for t in alpha["tags"]} == {"team_a", "etl"} and alpha["file_token"] == "alpha"
    assert alpha["description"] == "<script>alert(1)</script>"  # JSON carries it as data, never markup
    assert _ids(api.get("dags", params={"tags": "etl"}).json()) == ["alpha"]
    assert _ids(api.get("dags", params=[("tags", "team_b"), ("tags", "etl")]).json()) == ["alpha", "beta"]
    assert _ids(api.get("dags", params={"dag_id_pattern": "amm"}).json()) == ["gamma_paused"]
    assert _ids(api.get("dags", params={"paused": "true"}).json()) == ["gamma_paused"]
    assert _ids(api.get("dags", params={"order_by": "-dag_id"}).json()) == ["gamma_paused", "beta", "alpha"]
    page = api.get("dags", params={"limit": 1, "offset": 1}).json()
    assert page["total_entries"] == 3 and _ids(page) == ["beta"]
    assert api.get("dags", params={"limit": 1000}).status_code == 200  # capped at maximum_page_limit
    assert_problem(api.get("dags", params={"order_by": "nope"}), 400, field="order_by", contains="dag_id")
    assert_problem(api.get("dags", params={"limit": 0}), 422, field="limit")


def test_get_patch_delete_dag(api, config, db) -> None:
    store_dag_file(config, db, "dags_abc", DAGS)
    assert api.get("dags/beta").json()["dag_id"] == "beta"
    assert_problem(api.get("dags/nope"), 404, contains="nope")
    response = api.patch("dags/beta", params={"update_mask": "is_paused"}, json={"is_paused": True}, as_="user")
    assert response.status_code == 200 and response.json()["is_paused"] is True
    assert api.get("dags/beta").json()["is_paused"] is True
    assert_problem(api.patch("dags/beta", params={"update_mask": "owners"}, json={"is_paused": False}), 400,
                   field="update_mask")
    assert_problem(api.patch("dags/beta", json={"is_paused": "maybe"}), 422, field="is_paused")
    assert_problem(api.patch("dags/beta", json={"is_paused": False, "bogus": 1}), 422, field="bogus")
    assert api.patch("dags/beta", json={"is_paused": False}, as_="viewer").status_code == 403
    events = api.get("eventLogs", params={"dag_id": "beta"}).json()["event_logs"]
    assert [(e["event"], e["owner"]) for e in events] == [("paused", "user_user")]

    assert api.delete("dags/beta", as_="viewer").status_code == 403
    assert api.delete("dags/beta", as_="user").status_code == 204
    assert_problem(api.get("dags/beta"), 404)
    assert_problem(api.delete("dags/beta"), 404)


def test_patch_dags_pauses_every_matching_dag_and_records_each(api, config, db) -> None:
    store_dag_file(config, db, "dags_abc", DAGS)
    body = api.patch("dags", params={"dag_id_pattern": "a"}, json={"is_paused": True}, as_="user").json()
    assert body["total_entries"] == 3 and all(d["is_paused"] for d in body["dags"])
    assert _ids(api.get("dags", params={"paused": "true"}).json()) == ["alpha", "beta", "gamma_paused"]
    back = api.patch("dags", params={"dag_id_pattern": "~", "tags": "team_b"}, json={"is_paused": False}).json()
    assert _ids(back) == ["beta"] and back["dags"][0]["is_paused"] is False
    events = [(e["event"], e["dag_id"]) for e in api.get("eventLogs", params={"order_by": "event_log_id"}).json()[
        "event_logs"] if e["event"] in ("paused", "unpaused")]
    assert events == [("paused", "alpha"), ("paused", "beta"), ("unpaused", "beta")]  # gamma was paused already
    assert_problem(api.patch("dags", json={"is_paused": True}), 422, field="dag_id_pattern")
    assert api.patch("dags", params={"dag_id_pattern": "a"}, json={"is_paused": True}, as_="viewer").status_code == 403


def test_delete_refused_while_a_task_runs(api, config, db) -> None:
    from datetime import datetime, timezone

    from tradewind.persist.models import TaskInstance

    store_dag_file(config, db, "dags_abc", DAGS)
    run = api.post("dags/beta/dagRuns", json={"dag_run_id": "r1"}).json()
    with db.session_scope() as session:
        session.add(TaskInstance(dag_id="beta", run_id=run["dag_run_id"], task_id="only", state="running",
                                 start_date=datetime.now(timezone.utc)))
    assert_problem(api.delete("dags/beta"), 409, contains="running")
    assert api.get("dags/beta").status_code == 200


def test_details_tasks_and_source(api, config, db) -> None:
    path = store_dag_file(config, db, "dags_abc", DAGS)
    details = api.get("dags/alpha/details", as_="viewer").json()
    assert details["params"]["rows"]["value"] == 5 and details["params"]["rows"]["schema"]["minimum"] == 1
    assert details["catchup"] is False and details["timezone"] == "UTC" and details["version_number"] == 1
    tasks = api.get("dags/alpha/tasks").json()
    assert tasks["total_entries"] == 2 and [t["task_id"] for t in tasks["tasks"]] == ["first", "second"]
    second = api.get("dags/alpha/tasks/second").json()
    assert second["retries"] == 2 and second["downstream_task_ids"] == [] and second["upstream_task_ids"] == ["first"]
    assert second["retry_delay"]["__type"] == "TimeDelta"
    assert [t["task_id"] for t in api.get("dags/alpha/tasks", params={"order_by": "-task_id"}).json()["tasks"]] \
        == ["second", "first"]
    assert_problem(api.get("dags/alpha/tasks/nope"), 404, contains="nope")
    assert_problem(api.get("dags/nope/tasks"), 404)

    source = api.get("dagSources/alpha", as_="viewer")
    assert source.status_code == 200 and source.json()["content"] == open(path).read()
    text = api.get("dagSources/alpha", headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and 'DAG("alpha"' in text.text
    # Only files of known DAGs: a path is just an unknown DAG id.
    assert_problem(api.get("dagSources/..%2F..%2Fetc%2Fpasswd"), 404)
    assert api.get("dagSources/alpha", as_=None).status_code == 401


def test_unauthenticated_and_public(api) -> None:
    assert api.get("dags", as_=None).status_code == 401
    version = api.get("version", as_=None)
    assert version.status_code == 200 and "version" in version.json()
    assert api.get("openapi.json").json()["paths"]["/api/v1/dags"]
