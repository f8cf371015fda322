"""REST API ``/api/v2/variables`` and ``/api/v2/pools`` (Airflow 3): CRUD, filters, ordering,
pagination, bulk actions with their existence policies, masking, errors and roles."""

from __future__ import annotations

from sqlalchemy import select

from tradewind.persist.models import AuditLog, TaskInstance
from tradewind.persist.queries import variables as var_queries

V2 = "/api/v2"


def _audit_events(db, prefix: str) -> list[str]:
    with db.read_scope() as session:
        return [e for e in session.scalars(select(AuditLog.event)) if e.startswith(prefix)]


# ----------------------------------------------------------------------------- variables
def test_variable_crud_masking_and_errors(api, db) -> None:
    made = api.post(f"{V2}/variables", json={"key": "region", "value": "eu-west", "description": "where"})
    assert made.status_code == 201, made.text
    assert made.json() == {"key": "region", "value": "eu-west", "description": "where", "is_encrypted": True,
                           "team_name": None}
    # JSON values other than strings are stored as their JSON text.
    assert api.post(f"{V2}/variables", json={"key": "limits", "value": {"a": [1, 2]}}).json()["value"] == \
        '{"a": [1, 2]}'
    with db.read_scope() as session:
        assert var_queries.get_variable(session, "limits", deserialize_json=True) == {"a": [1, 2]}
    # A secret-looking key is masked whenever it is read back.
    secret = api.post(f"{V2}/variables", json={"key": "db_password", "value": "s3cr3t-value"})
    assert secret.status_code == 201 and secret.json()["value"] == "***"
    for response in (api.get(f"{V2}/variables"), api.get(f"{V2}/variables/db_password")):
        assert "s3cr3t-value" not in response.text

    duplicate = api.post(f"{V2}/variables", json={"key": "region", "value": "x"})
    assert duplicate.status_code == 409 and duplicate.json()["detail"] == "The Variable with key: `region` already exists"
    missing = api.get(f"{V2}/variables/nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "The Variable with key: `nope` was not found"
    bad = api.post(f"{V2}/variables", json={"key": "k"})
    assert bad.status_code == 422 and bad.json()["field"] == "value" and isinstance(bad.json()["detail"], list)
    assert api.post(f"{V2}/variables", json={"key": "k", "value": "v", "extra": 1}).status_code == 422
    assert api.post(f"{V2}/variables", json={"key": "k", "value": "v", "team_name": "t"}).json()["field"] == "team_name"

    # PATCH: update_mask limits the change to the named fields.
    patched = api.patch(f"{V2}/variables/region", params={"update_mask": "description"},
                        json={"key": "region", "value": "ignored", "description": "new"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["value"], patched.json()["description"]) == ("eu-west", "new")
    both = api.patch(f"{V2}/variables/region", json={"key": "region", "value": "us-east"}).json()
    assert (both["value"], both["description"]) == ("us-east", None)
    mismatch = api.patch(f"{V2}/variables/region", json={"key": "other", "value": "x"})
    assert mismatch.status_code == 400 and mismatch.json()["field"] == "key"
    assert api.patch(f"{V2}/variables/region", params={"update_mask": "nope"},
                     json={"key": "region", "value": "x"}).json()["field"] == "update_mask"
    assert api.patch(f"{V2}/variables/ghost", json={"key": "ghost", "value": "x"}).status_code == 404

    assert api.delete(f"{V2}/variables/region").status_code == 204
    assert api.get(f"{V2}/variables/region").status_code == 404
    assert api.delete(f"{V2}/variables/region").status_code == 404
    events = _audit_events(db, "variable.")
    assert events.count("variable.create") == 3 and events.count("variable.edit") == 2
    assert events.count("variable.delete") == 1


def test_variable_list_filters_order_and_pages(api) -> None:
    for key in ("alpha", "beta", "alphabet", "gamma_1", "gamma%2"):
        assert api.post(f"{V2}/variables", json={"key": key, "value": key.upper()}).status_code == 201

    def keys(**params) -> list[str]:
        response = api.get(f"{V2}/variables", params=params)
        assert response.status_code == 200, response.text
        return [v["key"] for v in response.json()["variables"]]

    assert keys() == ["alpha", "alphabet", "beta", "gamma%2", "gamma_1"]
    assert keys(order_by="-key") == ["gamma_1", "gamma%2", "beta", "alphabet", "alpha"]
    assert keys(variable_key_pattern="ALPHA") == ["alpha", "alphabet"]
    assert keys(variable_key_pattern="bet|gam") == ["alphabet", "beta", "gamma%2", "gamma_1"]
    assert keys(variable_key_prefix_pattern="gamma_1") == ["gamma_1"]  # "_" is literal
    assert keys(variable_key_prefix_pattern="alpha|beta") == ["alpha", "alphabet", "beta"]
    page = api.get(f"{V2}/variables", params={"limit": 2, "offset": 1}).json()
    assert page["total_entries"] == 5 and [v["key"] for v in page["variables"]] == ["alphabet", "beta"]
    assert api.get(f"{V2}/variables", params={"limit": 0}).json() == {"variables": [], "total_entries": 5}
    wrong = api.get(f"{V2}/variables", params={"order_by": "colour"})
    assert wrong.status_code == 400 and wrong.json()["field"] == "order_by"


def test_variable_bulk_policies(api) -> None:
    api.post(f"{V2}/variables", json={"key": "keep", "value": "1"})
    api.post(f"{V2}/variables", json={"key": "old", "value": "1"})
    body = {"actions": [
        {"action": "create", "entities": [{"key": "keep", "value": "2"}, {"key": "fresh", "value": "2"}]},
        {"action": "create", "action_on_existence": "skip",
         "entities": [{"key": "keep", "value": "3"}, {"key": "new1", "value": "3"}]},
        {"action": "create", "action_on_existence": "overwrite", "entities": [{"key": "old", "value": "4"}]},
        {"action": "update", "entities": [{"key": "keep", "value": "5"}, {"key": "ghost", "value": "5"}]},
        {"action": "update", "action_on_non_existence": "skip", "update_mask": ["description"],
         "entities": [{"key": "keep", "value": "ignored", "description": "d"}, {"key": "ghost", "value": "5"}]},
        {"action": "delete", "action_on_non_existence": "skip", "entities": ["new1", "ghost"]},
        {"action": "delete", "entities": ["ghost"]},
    ]}
    response = api.patch(f"{V2}/variables", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["create"]["success"] == ["new1", "old"]
    assert result["create"]["errors"] == [{"error": "The variables with these keys: ['keep'] already exist.",
                                           "status_code": 409}]
    assert result["update"]["success"] == ["keep"]
    assert [e["status_code"] for e in result["update"]["errors"]] == [404]
    assert result["delete"]["success"] == ["new1"]
    assert "ghost" in result["delete"]["errors"][0]["error"]
    stored = {v["key"]: v for v in api.get(f"{V2}/variables").json()["variables"]}
    assert set(stored) == {"keep", "old"}  # "fresh" was refused with "keep" (policy fail), new1 deleted
    assert (stored["keep"]["value"], stored["keep"]["description"]) == ("1", "d")
    assert stored["old"]["value"] == "4"
    only_delete = api.patch(f"{V2}/variables", json={"actions": [{"action": "delete", "entities": ["old"]}]}).json()
    assert only_delete == {"create": None, "update": None, "delete": {"success": ["old"], "errors": []}}
    assert api.patch(f"{V2}/variables", json={"actions": [{"action": "rename", "entities": []}]}).status_code == 422


def test_variable_roles(api) -> None:
    assert api.get(f"{V2}/variables", as_="viewer").status_code == 403
    assert api.post(f"{V2}/variables", json={"key": "k", "value": "v"}, as_="user").status_code == 403
    assert api.patch(f"{V2}/variables", json={"actions": []}, as_="user").status_code == 403
    assert api.get(f"{V2}/variables", as_=None).status_code == 401
    assert api.post(f"{V2}/variables", json={"key": "k", "value": "v"}, as_="op").status_code == 201
    assert api.delete(f"{V2}/variables/k", as_="user").status_code == 403


# ----------------------------------------------------------------------------- pools
def _occupy(db, pool: str, states: dict[str, int]) -> None:
    """Task instances holding ``pool``'s slots: state -> pool_slots."""
    with db.session_scope() as session:
        for i, (state, slots) in enumerate(states.items()):
            session.add(TaskInstance(dag_id="d", run_id="r", task_id=f"t{i}", state=state, pool=pool,
                                     pool_slots=slots))


def test_pool_crud_usage_and_errors(api, db) -> None:
    made = api.post(f"{V2}/pools", json={"name": "etl", "slots": 10, "description": "loads"})
    assert made.status_code == 201, made.text
    _occupy(db, "etl", {"running": 3, "queued": 2, "scheduled": 1, "deferred": 4, "success": 7})
    got = api.get(f"{V2}/pools/etl").json()
    assert got == {"name": "etl", "slots": 10, "description": "loads", "include_deferred": False,
                   "occupied_slots": 5, "running_slots": 3, "queued_slots": 2, "scheduled_slots": 1,
                   "open_slots": 5, "deferred_slots": 4, "team_name": None}
    duplicate = api.post(f"{V2}/pools", json={"name": "etl", "slots": 1})
    assert duplicate.status_code == 409 and duplicate.json()["detail"] == "The Pool with name: `etl` already exists"
    assert api.get(f"{V2}/pools/nope").json()["detail"] == "The Pool with name: `nope` was not found"
    for body, field in (({"name": "x", "slots": -1}, "slots"), ({"name": "x", "slots": 1, "include_deferred": True},
                                                                 "include_deferred")):
        refused = api.post(f"{V2}/pools", json=body)
        assert refused.status_code == 400 and refused.json()["field"] == field, refused.text
    assert api.post(f"{V2}/pools", json={"name": "x", "slots": -2}).status_code == 422
    assert api.post(f"{V2}/pools", json={"name": "x"}).json()["field"] == "slots"

    patched = api.patch(f"{V2}/pools/etl", params={"update_mask": "slots"}, json={"slots": 12, "description": "no"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["slots"], patched.json()["description"], patched.json()["open_slots"]) == (12, "loads", 7)
    assert api.patch(f"{V2}/pools/etl", json={"description": "d2"}).json()["description"] == "d2"
    assert api.patch(f"{V2}/pools/etl", json={"pool": "renamed"}).json()["field"] == "pool"
    assert api.patch(f"{V2}/pools/ghost", json={"slots": 1}).status_code == 404
    assert api.patch(f"{V2}/pools/etl", params={"update_mask": "bogus"}, json={}).json()["field"] == "update_mask"

    assert api.delete(f"{V2}/pools/default_pool").status_code == 400
    assert api.delete(f"{V2}/pools/etl").status_code == 204
    assert api.delete(f"{V2}/pools/etl").status_code == 404
    events = _audit_events(db, "pool.")
    assert events == ["pool.create", "pool.edit", "pool.edit", "pool.delete"]


def test_pool_list_and_bulk(api) -> None:
    for name, slots in (("b_pool", 2), ("a_pool", 3), ("c_other", 4)):
        assert api.post(f"{V2}/pools", json={"name": name, "slots": slots}).status_code == 201
    listing = api.get(f"{V2}/pools").json()
    assert [p["name"] for p in listing["pools"]] == ["a_pool", "b_pool", "c_other", "default_pool"]
    assert listing["total_entries"] == 4
    assert [p["name"] for p in api.get(f"{V2}/pools", params={"order_by": "-name", "limit": 2}).json()["pools"]] == \
        ["default_pool", "c_other"]
    assert [p["name"] for p in api.get(f"{V2}/pools", params={"pool_name_pattern": "POOL"}).json()["pools"]] == \
        ["a_pool", "b_pool", "default_pool"]
    assert [p["name"] for p in api.get(f"{V2}/pools", params={"pool_name_prefix_pattern": "c"}).json()["pools"]] == \
        ["c_other"]

    result = api.patch(f"{V2}/pools", json={"actions": [
        {"action": "create", "action_on_existence": "overwrite",
         "entities": [{"name": "a_pool", "slots": 30}, {"name": "d_new", "slots": 5}]},
        {"action": "update", "entities": [{"name": "b_pool", "slots": 20, "description": "bee"}]},
        {"action": "delete", "entities": ["c_other", "default_pool"]},
    ]})
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["create"] == {"success": ["a_pool", "d_new"], "errors": []}
    assert body["update"] == {"success": ["b_pool"], "errors": []}
    assert body["delete"]["success"] == ["c_other"]
    assert body["delete"]["errors"] == [{"error": "Default Pool can't be deleted", "status_code": 400}]
    slots = {p["name"]: (p["slots"], p["description"]) for p in api.get(f"{V2}/pools").json()["pools"]}
    assert slots["a_pool"][0] == 30 and slots["b_pool"] == (20, "bee") and slots["d_new"][0] == 5
    assert "c_other" not in slots and "default_pool" in slots
    assert api.patch(f"{V2}/pools", json={"actions": []}, as_="user").status_code == 403
    assert api.get(f"{V2}/pools", as_="viewer").status_code == 200
    assert api.post(f"{V2}/pools", json={"name": "v", "slots": 1}, as_="user").status_code == 403
