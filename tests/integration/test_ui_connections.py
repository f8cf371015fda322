"""UI: the Admin > Connections page (op and admin) and the API calls its dialogs make through the session."""

from __future__ import annotations

import json

from ui_support import browser, nav_paths, page_data

from tradewind.persist.fernet import fernet_from_config
from tradewind.persist.queries.connections import get_connection

SECRET = "pg-secret-123"


def test_page_and_nav_only_for_op_and_admin(api) -> None:
    for role in ("viewer", "user", "op", "admin"):
        b = browser(api, role)
        page = b.get("/connections")
        home = b.get("/dags").text
        if role in ("op", "admin"):
            assert page.status_code == 200, role
            assert '<script src="/static/connections.js">' in page.text
            assert "/connections" in nav_paths(home)
            data = page_data(page.text)
            assert data["view"] == "connections" and data["can"] == {"create": True, "edit": True, "delete": True}
            assert isinstance(data["testable"], list)
        else:
            assert page.status_code == 403 and page.json()["status"] == 403
            assert "/connections" not in nav_paths(home)
    script = browser(api, "op").get("/static/connections.js")
    assert script.status_code == 200 and "connections/test" in script.text


def test_dialog_calls_keep_secrets_and_never_show_them(api, config) -> None:
    op = browser(api, "op")
    created = op.write("POST", "connections", json={
        "connection_id": "warehouse", "conn_type": "postgres", "host": "db", "login": "etl", "password": SECRET,
        "port": 5432, "schema": "sales", "extra": json.dumps({"sslmode": "require", "private_key": "pk-0987654"}),
        "description": "<script>alert(1)</script>"})
    assert created.status_code == 200, created.text
    shown = op.get("/api/v1/connections").json()["connections"][0]
    assert json.loads(shown["extra"]) == {"private_key": "***", "sslmode": "require"} and "password" not in shown
    # The edit dialog saves every field with update_mask, "***" for an untouched password and the masked extra.
    saved = op.write("PATCH", "connections/warehouse",
                     params={"update_mask": ["conn_type", "description", "host", "login", "schema", "port", "extra",
                                             "password"]},
                     json={"conn_type": "postgres", "description": "dw", "host": "db2", "login": "etl",
                           "schema": "sales", "port": 5432, "extra": shown["extra"], "password": "***"})
    assert saved.status_code == 200, saved.text
    with api.client.app.state.db.session_scope() as session:
        stored = get_connection(session, "warehouse", fernet_from_config(config))
    assert (stored.host, stored.password, stored.extra_dejson["private_key"]) == ("db2", SECRET, "pk-0987654")
    page = op.get("/connections").text
    assert SECRET not in page and "pk-0987654" not in page
    assert browser(api, "user").write("DELETE", "connections/warehouse").status_code == 403
    refused = op.client.request("DELETE", "/api/v1/connections/warehouse")  # no CSRF header
    assert refused.status_code == 403
    assert op.write("DELETE", "connections/warehouse").status_code == 204
