"""REST API ``/api/v2/connections`` (Airflow 3): CRUD, filters, bulk, masking (passwords never in
clear), the real connection test, errors and roles."""

from __future__ import annotations

import json

from sqlalchemy import select

from tradewind.persist.fernet import fernet_from_config
from tradewind.persist.models import AuditLog
from tradewind.persist.queries.connections import get_connection

V2 = "/api/v2"
SECRET = "hunter2-very-secret"


def _body(**over):
    body = {"connection_id": "warehouse", "conn_type": "postgres", "host": "db", "login": "etl",
            "schema": "sales", "port": 5432, "password": SECRET,
            "extra": json.dumps({"sslmode": "require", "api_token": "tok-abcdef"}), "description": "dw"}
    body.update(over)
    return body


def _stored(api, db, conn_id):
    with db.read_scope() as session:
        return get_connection(session, conn_id, fernet_from_config(api.client.app.state.config))


def test_connection_crud_masking_and_errors(api, db) -> None:
    made = api.post(f"{V2}/connections", json=_body())
    assert made.status_code == 201, made.text
    shown = made.json()
    assert shown == {"connection_id": "warehouse", "conn_type": "postgres", "description": "dw", "host": "db",
                     "login": "etl", "schema": "sales", "port": 5432, "password": "***", "team_name": None,
                     "extra": json.dumps({"api_token": "***", "sslmode": "require"}, sort_keys=True)}
    for response in (api.get(f"{V2}/connections"), api.get(f"{V2}/connections/warehouse")):
        assert response.status_code == 200 and SECRET not in response.text and "tok-abcdef" not in response.text
    assert api.get(f"{V2}/connections/warehouse").json() == shown

    duplicate = api.post(f"{V2}/connections", json=_body())
    assert duplicate.status_code == 409 and "`warehouse` already exists" in duplicate.json()["detail"]
    assert api.post(f"{V2}/connections", json=_body(connection_id="bad id!")).json()["field"] == "connection_id"
    assert api.post(f"{V2}/connections", json=_body(connection_id="x", extra="{bad")).json()["field"] == "extra"
    assert api.post(f"{V2}/connections", json=_body(connection_id="x", secret="y")).status_code == 422
    missing = api.get(f"{V2}/connections/ghost")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "The Connection with connection_id: `ghost` was not found"

    # PATCH: update_mask limits the change; *** sent back keeps the stored secrets.
    patched = api.patch(f"{V2}/connections/warehouse", params={"update_mask": "host"},
                        json={"connection_id": "warehouse", "conn_type": "postgres", "host": "db2", "login": "no"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["host"], patched.json()["login"]) == ("db2", "etl")
    again = api.patch(f"{V2}/connections/warehouse", json={"connection_id": "warehouse", "conn_type": "postgres",
                                                           "password": "***", "extra": shown["extra"], "port": 6543})
    assert again.status_code == 200 and again.json()["port"] == 6543
    stored = _stored(api, db, "warehouse")
    assert stored.password == SECRET and stored.extra_dejson["api_token"] == "tok-abcdef"
    mismatch = api.patch(f"{V2}/connections/warehouse", json={"connection_id": "other", "conn_type": "x"})
    assert mismatch.status_code == 400 and mismatch.json()["field"] == "connection_id"
    assert api.patch(f"{V2}/connections/warehouse", params={"update_mask": "nope"},
                     json={"connection_id": "warehouse", "conn_type": "x"}).json()["field"] == "update_mask"
    assert api.patch(f"{V2}/connections/ghost", json={"connection_id": "ghost", "conn_type": "x"}).status_code == 404

    assert api.delete(f"{V2}/connections/warehouse").status_code == 204
    assert api.delete(f"{V2}/connections/warehouse").status_code == 404
    with db.read_scope() as session:
        events = [e for e in session.scalars(select(AuditLog.event).order_by(AuditLog.id)) if
                  e.startswith("connection.")]
    assert events == ["connection.create", "connection.edit", "connection.edit", "connection.delete"]


def test_connection_list_filters_and_bulk(api, db) -> None:
    for conn_id in ("b_db", "a_db", "c_http"):
        assert api.post(f"{V2}/connections", json=_body(connection_id=conn_id)).status_code == 201

    def ids(**params):
        response = api.get(f"{V2}/connections", params=params)
        assert response.status_code == 200, response.text
        return [c["connection_id"] for c in response.json()["connections"]]

    assert ids() == ["b_db", "a_db", "c_http"]  # default order: id (creation)
    assert ids(order_by="connection_id") == ["a_db", "b_db", "c_http"]
    assert ids(order_by=["conn_type", "-connection_id"]) == ["c_http", "b_db", "a_db"]
    assert ids(connection_id_pattern="_DB") == ["b_db", "a_db"]
    assert ids(connection_id_prefix_pattern="c") == ["c_http"]
    page = api.get(f"{V2}/connections", params={"limit": 1, "offset": 1}).json()
    assert page["total_entries"] == 3 and [c["connection_id"] for c in page["connections"]] == ["a_db"]

    result = api.patch(f"{V2}/connections", json={"actions": [
        {"action": "create", "action_on_existence": "skip",
         "entities": [_body(connection_id="a_db", host="ignored"), _body(connection_id="d_new", password="pw-d")]},
        {"action": "update", "update_mask": ["host"],
         "entities": [{"connection_id": "b_db", "conn_type": "postgres", "host": "b-host"}]},
        {"action": "delete", "entities": ["c_http", {"connection_id": "ghost", "conn_type": "x"}]},
    ]})
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["create"] == {"success": ["d_new"], "errors": []}
    assert body["update"] == {"success": ["b_db"], "errors": []}
    assert body["delete"]["success"] == [] and body["delete"]["errors"][0]["status_code"] == 404
    assert "pw-d" not in result.text
    assert ids(order_by="connection_id") == ["a_db", "b_db", "c_http", "d_new"]  # delete refused as a whole
    assert _stored(api, db, "a_db").host == "db" and _stored(api, db, "b_db").host == "b-host"
    assert _stored(api, db, "d_new").password == "pw-d"


def test_connection_test_runs_the_real_hook(api, tmp_path) -> None:
    body = {"connection_id": "local", "conn_type": "sqlite", "host": str(tmp_path / "data.db")}
    assert api.post(f"{V2}/connections/test", json=body, as_="user").status_code == 403
    ok = api.post(f"{V2}/connections/test", json=body, as_="op")
    assert ok.status_code == 200 and ok.json()["status"] is True, ok.text
    assert (tmp_path / "data.db").exists()  # the hook really connected
    broken = api.post(f"{V2}/connections/test", json={**body, "host": str(tmp_path / "no" / "such" / "x.db")})
    assert broken.status_code == 200 and broken.json()["status"] is False and broken.json()["message"]
    unknown = api.post(f"{V2}/connections/test", json={**body, "conn_type": "nothing_known"}).json()
    assert unknown["status"] is False and "nothing_known" in unknown["message"]
    assert api.post(f"{V2}/connections/test", json={"conn_type": "sqlite"}).json()["field"] == "connection_id"


def test_connection_roles(api) -> None:
    assert api.get(f"{V2}/connections", as_="user").status_code == 403
    assert api.post(f"{V2}/connections", json=_body(), as_="user").status_code == 403
    assert api.patch(f"{V2}/connections", json={"actions": []}, as_="viewer").status_code == 403
    assert api.get(f"{V2}/connections", as_=None).status_code == 401
    assert api.post(f"{V2}/connections", json=_body(), as_="op").status_code == 201
