"""REST API ``/api/v1/connections``: CRUD with Airflow's field names, op+ only, secrets never returned."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from api_support import assert_problem
from sqlalchemy import select

from tradewind.definition.hooks import BaseHook
from tradewind.integrations import HOOKS_BY_CONN_TYPE
from tradewind.persist.models import Connection as ConnectionRow

SECRET = "hunter2-very-secret"


def _body(**over):
    body = {"connection_id": "warehouse", "conn_type": "postgres", "host": "db", "login": "etl",
            "schema": "sales", "port": 5432, "password": SECRET,
            "extra": json.dumps({"sslmode": "require", "api_token": "tok-abcdef"}), "description": "dw"}
    body.update(over)
    return body


def test_crud_masking_and_roles(api, db) -> None:
    assert api.post("connections", json=_body(), as_="user").status_code == 403
    assert api.get("connections", as_="user").status_code == 403
    made = api.post("connections", json=_body(), as_="op")
    assert made.status_code == 200, made.text
    shown = made.json()
    assert shown == {"connection_id": "warehouse", "conn_type": "postgres", "description": "dw", "host": "db",
                     "login": "etl", "schema": "sales", "port": 5432,
                     "extra": json.dumps({"api_token": "***", "sslmode": "require"}, sort_keys=True)}
    assert_problem(api.post("connections", json=_body()), 409, contains="warehouse")
    assert_problem(api.post("connections", json=_body(connection_id="")), 422, field="connection_id")
    assert_problem(api.post("connections", json=_body(connection_id="x", extra="{bad")), 400, field="extra")
    assert_problem(api.post("connections", json=_body(connection_id="x", port=70000)), 400, contains="out of range")
    assert_problem(api.post("connections", json=_body(connection_id="x", secret="y")), 422)

    listing = api.get("connections", as_="op").json()
    assert listing["total_entries"] == 1 and listing["connections"] == [shown]
    got = api.get("connections/warehouse").json()
    assert got == shown and "password" not in got
    for response in (api.get("connections"), api.get("connections/warehouse")):
        assert SECRET not in response.text and "tok-abcdef" not in response.text

    with db.session_scope() as s:
        row = s.scalars(select(ConnectionRow)).one()
        assert row.is_encrypted and SECRET not in row.password and "tok-abcdef" not in row.extra

    # PATCH: update_mask limits the change; *** sent back keeps the stored secrets.
    patched = api.patch("connections/warehouse", params={"update_mask": "host"},
                        json={"connection_id": "warehouse", "host": "db2", "login": "ignored"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["host"], patched.json()["login"]) == ("db2", "etl")
    again = api.patch("connections/warehouse", json={"password": "***", "extra": shown["extra"], "port": 6543})
    assert again.status_code == 200 and again.json()["port"] == 6543
    from tradewind.persist.fernet import fernet_from_config
    from tradewind.persist.queries.connections import get_connection

    with db.session_scope() as s:
        stored = get_connection(s, "warehouse", fernet_from_config(api.client.app.state.config))
    assert stored.password == SECRET and stored.extra_dejson["api_token"] == "tok-abcdef"
    assert_problem(api.patch("connections/warehouse", json={"connection_id": "other"}), 400, field="connection_id")
    assert_problem(api.patch("connections/warehouse", params={"update_mask": "nope"}, json={}), 400,
                   field="update_mask")
    assert_problem(api.patch("connections/missing", json={"host": "x"}), 404)

    assert api.delete("connections/warehouse", as_="user").status_code == 403
    assert api.delete("connections/warehouse", as_="op").status_code == 204
    assert_problem(api.get("connections/warehouse"), 404)
    assert_problem(api.delete("connections/warehouse"), 404)
    events = [e["event"] for e in api.get("eventLogs", params={"order_by": "event_log_id"}).json()["event_logs"]]
    assert events == ["connection.create", "connection.edit", "connection.edit", "connection.delete"]


def test_pagination(api) -> None:
    for n in range(5):
        assert api.post("connections", json=_body(connection_id=f"c{n}")).status_code == 200
    page = api.get("connections", params={"limit": 2, "offset": 2}).json()
    assert page["total_entries"] == 5 and [c["connection_id"] for c in page["connections"]] == ["c2", "c3"]


class TcpHook(BaseHook):
    """A hook for the test's ``tcp`` type: a connection succeeds when the host:port accepts a TCP connection."""

    conn_name_attr = "tcp_conn_id"
    conn_type = "tcp"

    def __init__(self, tcp_conn_id: str) -> None:
        super().__init__()
        self.tcp_conn_id = tcp_conn_id

    def get_conn(self) -> socket.socket:
        conn = self.get_connection(self.tcp_conn_id)
        if conn.password != "right-password":
            raise PermissionError(f"bad password {conn.password}")
        return socket.create_connection((conn.host, conn.port), timeout=5)


@pytest.fixture
def tcp_hook(monkeypatch):
    monkeypatch.setitem(HOOKS_BY_CONN_TYPE, "tcp", f"{__name__}:TcpHook")
    server = socket.create_server(("127.0.0.1", 0))
    accepting = threading.Thread(target=lambda: server.accept()[0].close(), daemon=True)
    accepting.start()
    yield server.getsockname()[1]
    server.close()


def test_test_endpoint_uses_the_hook_and_stored_secrets(api, tcp_hook) -> None:
    body = {"connection_id": "tcp1", "conn_type": "tcp", "host": "127.0.0.1", "port": tcp_hook,
            "password": "right-password"}
    assert api.post("connections/test", json=body, as_="user").status_code == 403
    assert api.post("connections", json=body).status_code == 200
    # The form sends *** back: the stored password is used.
    result = api.post("connections/test", json={**body, "password": "***"}, as_="op").json()
    assert result == {"status": True, "message": "Connection successfully tested"}
    failed = api.post("connections/test", json={**body, "connection_id": "other", "password": "wrong-password"})
    assert failed.json()["status"] is False and "bad password ***" in failed.json()["message"]
    unknown = api.post("connections/test", json={**body, "conn_type": "nothing_known"}).json()
    assert unknown["status"] is False and "no hook can test conn_type 'nothing_known'" in unknown["message"]
