"""REST API: variables (masked secrets), pools, import errors, event logs, assets, backfills, version."""

from __future__ import annotations

from datetime import datetime, timezone

from api_support import assert_problem, store_dag_file

DAGS = """
from tradewind import Asset

with DAG("daily", start_date=datetime(2024, 1, 1), schedule="@daily"):
    EmptyOperator(task_id="t", outlets=[Asset("s3://bucket/daily")])

with DAG("consumer", start_date=datetime(2024, 1, 1), schedule=[Asset("s3://bucket/daily")]):
    EmptyOperator(task_id="t")
"""


def test_variables_crud_and_masking(api) -> None:
    assert api.post("variables", json={"key": "k", "value": "v"}, as_="user").status_code == 403
    assert api.get("variables", as_="user").status_code == 403  # reading variables needs op, as in Airflow
    made = api.post("variables", json={"key": "region", "value": "eu", "description": "where"}, as_="op")
    assert made.status_code == 200 and made.json() == {"key": "region", "value": "eu", "description": "where"}
    api.post("variables", json={"key": "db_password", "value": "hunter2"})
    assert_problem(api.post("variables", json={"key": "region", "value": "us"}), 409, contains="region")
    assert_problem(api.post("variables", json={"key": "", "value": "x"}), 422, field="key")
    assert_problem(api.post("variables", json={"key": "x"}), 422, field="value")
    listing = api.get("variables", as_="op").json()
    assert listing["total_entries"] == 2
    assert {v["key"]: v["value"] for v in listing["variables"]} == {"db_password": "***", "region": "eu"}
    assert api.get("variables/db_password").json()["value"] == "***"
    assert api.get("variables", params={"variable_key_pattern": "reg"}).json()["total_entries"] == 1
    patched = api.patch("variables/region", params={"update_mask": "value"}, json={"key": "region", "value": "us"})
    assert patched.json() == {"key": "region", "value": "us", "description": "where"}
    assert_problem(api.patch("variables/region", json={"key": "other", "value": "x"}), 400, field="key")
    assert_problem(api.patch("variables/nope", json={"value": "x"}), 404)
    assert api.delete("variables/region", as_="op").status_code == 204
    assert_problem(api.get("variables/region"), 404)
    events = [e["event"] for e in api.get("eventLogs", params={"order_by": "event_log_id"}).json()["event_logs"]]
    assert events == ["variable.create", "variable.create", "variable.edit", "variable.delete"]


def test_pools(api) -> None:
    listing = api.get("pools", as_="viewer").json()
    assert [p["name"] for p in listing["pools"]] == ["default_pool"]
    assert listing["pools"][0]["open_slots"] == listing["pools"][0]["slots"]
    assert api.post("pools", json={"name": "gpu", "slots": 2}, as_="user").status_code == 403
    made = api.post("pools", json={"name": "gpu", "slots": 2, "description": "cards"}, as_="op").json()
    assert made["slots"] == 2 and made["occupied_slots"] == 0 and made["include_deferred"] is False
    assert_problem(api.post("pools", json={"name": "gpu", "slots": 3}), 409)
    assert_problem(api.post("pools", json={"name": "neg", "slots": -1}), 422, field="slots")
    assert api.patch("pools/gpu", json={"slots": 4}).json()["slots"] == 4
    assert api.patch("pools/gpu", params={"update_mask": "description"}, json={"description": "x", "slots": 9}) \
        .json() == {**api.get("pools/gpu").json(), "description": "x", "slots": 4}
    assert_problem(api.patch("pools/gpu", json={"name": "renamed"}), 400, field="name")
    assert api.get("pools", params={"limit": 1, "order_by": "-name"}).json()["pools"][0]["name"] == "gpu"
    assert_problem(api.delete("pools/default_pool"), 400, contains="Default Pool")
    assert api.delete("pools/gpu").status_code == 204
    assert_problem(api.delete("pools/gpu"), 404)


def test_import_errors_and_event_logs(api, config, db) -> None:
    from tradewind.parse.dagbag import FileParseResult, ImportErrorInfo
    from tradewind.persist.queries.dags import store_file_results

    bad = str(config.dags_folder / "broken.py")
    with db.session_scope() as session:
        store_file_results(session, [FileParseResult(bad, errors=[ImportErrorInfo(bad, 3, "SyntaxError: <b>x</b>",
                                                                                   "Traceback ...")])],
                           datetime.now(timezone.utc))
    errors = api.get("importErrors", as_="viewer").json()
    assert errors["total_entries"] == 1
    error = errors["import_errors"][0]
    assert error["filename"] == bad and error["stack_trace"] == "Traceback ..."
    assert api.get(f"importErrors/{error['import_error_id']}").json() == error
    assert_problem(api.get("importErrors/999"), 404)
    assert_problem(api.get("importErrors/abc"), 422, field="import_error_id")

    api.post("pools", json={"name": "a", "slots": 1})
    api.post("pools", json={"name": "b", "slots": 1})
    api.delete("pools/a")
    logs = api.get("eventLogs", params={"excluded_events": "pool.create", "order_by": "-when"}).json()
    assert [e["event"] for e in logs["event_logs"]] == ["pool.delete"]
    first = api.get("eventLogs", params={"limit": 1}).json()
    assert first["total_entries"] == 3 and first["event_logs"][0]["owner"] == "admin_user"
    one = api.get(f"eventLogs/{first['event_logs'][0]['event_log_id']}", as_="viewer").json()
    assert one["event"] == "pool.create"
    assert_problem(api.get("eventLogs/999"), 404)


def test_assets_and_events(api, config, db) -> None:
    store_dag_file(config, db, "assets_dags", DAGS)
    assets = api.get("assets", as_="viewer").json()
    assert assets["total_entries"] == 1
    asset = assets["assets"][0]
    assert asset["uri"] == "s3://bucket/daily"
    assert [p["dag_id"] for p in asset["producing_tasks"]] == ["daily"]
    assert [c["dag_id"] for c in asset["consuming_dags"]] == ["consumer"]
    assert api.get(f"assets/{asset['id']}").json()["id"] == asset["id"]
    assert_problem(api.get("assets/999"), 404)
    assert api.post("assets/events", json={"asset_id": asset["id"]}, as_="viewer").status_code == 403
    event = api.post("assets/events", json={"asset_id": asset["id"], "extra": {"rows": 1}}, as_="user").json()
    assert event["extra"] == {"rows": 1} and event["source_dag_id"] is None
    events = api.get("assets/events", params={"asset_id": asset["id"]}).json()
    assert events["total_entries"] == 1 and events["asset_events"][0]["id"] == event["id"]
    assert_problem(api.post("assets/events", json={"asset_id": 999}), 404)


def test_backfills(api, config, db) -> None:
    store_dag_file(config, db, "assets_dags", DAGS)
    body = {"dag_id": "daily", "from_date": "2024-01-01T00:00:00Z", "to_date": "2024-01-03T00:00:00Z"}
    assert api.post("backfills", json=body, as_="viewer").status_code == 403
    plan = api.post("backfills/dry_run", json=body).json()
    assert plan["total_entries"] == 3
    made = api.post("backfills", json=body, as_="user")
    assert made.status_code == 200, made.text
    backfill = made.json()
    assert backfill["dag_id"] == "daily" and backfill["completed_at"] is None
    assert_problem(api.post("backfills", json=body), 409, contains="active backfill")
    assert_problem(api.post("backfills", json={**body, "dag_id": "nope"}), 404)
    assert_problem(api.post("backfills", json={**body, "reprocess_behavior": "all"}), 422, field="reprocess_behavior")
    assert_problem(api.post("backfills", json={**body, "from_date": "2024-02-01T00:00:00Z"}), 409)
    listing = api.get("backfills", params={"dag_id": "daily"}).json()
    assert listing["total_entries"] == 1 and listing["backfills"][0]["id"] == backfill["id"]
    assert api.put(f"backfills/{backfill['id']}/pause").json()["is_paused"] is True
    assert api.put(f"backfills/{backfill['id']}/unpause").json()["is_paused"] is False
    cancelled = api.put(f"backfills/{backfill['id']}/cancel", as_="user").json()
    assert cancelled["completed_at"] is not None
    assert_problem(api.put(f"backfills/{backfill['id']}/cancel"), 409)
    assert_problem(api.get("backfills/999"), 404)
    events = [e["event"] for e in api.get("eventLogs", params={"dag_id": "daily"}).json()["event_logs"]]
    assert events == ["backfill.create", "backfill.pause", "backfill.unpause", "backfill.cancel"]


def test_every_error_has_the_problem_shape(api) -> None:
    for response in (api.get("dags/nope"), api.get("dags", params={"limit": "x"}), api.post("pools", json=[]),
                     api.request("PUT", "dags/nope")):
        body = response.json()
        assert set(body) >= {"detail", "status", "title", "type"} and body["status"] == response.status_code
