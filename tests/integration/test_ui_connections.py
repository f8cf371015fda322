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


def test_connection_types_catalogue_for_the_dialog(api) -> None:
    for role in ("viewer", "user"):
        assert browser(api, role).get("/ui/data/connections/types").status_code == 403, role
    assert api.client.get("/ui/data/connections/types").status_code == 401
    answer = browser(api, "op").get("/ui/data/connections/types")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    types = {t["conn_type"]: t for t in body["connection_types"]}
    assert body["total_entries"] == len(types)
    assert {"sqlite", "postgres", "mysql", "aws", "http", "smtp", "generic"} <= set(types)
    assert list(types) == sorted(types)
    for entry in types.values():
        assert set(entry["hidden_fields"]) <= set(body["standard_fields"])
        assert entry["hook_name"]
        for field in entry["extra_fields"]:
            assert field["name"] and field["label"] and field["type"] in (
                "string", "password", "integer", "number", "boolean", "select")
    pg = types["postgres"]
    assert pg["hook_name"] == "Postgres" and pg["testable"] is True
    assert pg["hook_class"] == "tradewind.integrations.sql.postgres:PostgresHook"
    assert pg["relabeling"]["schema"] == "Database"
    sslmode = next(f for f in pg["extra_fields"] if f["name"] == "sslmode")
    assert sslmode["type"] == "select" and "require" in sslmode["options"]
    aws = types["aws"]
    assert aws["hook_name"] == "Amazon Web Services"
    assert {"host", "port"} <= set(aws["hidden_fields"]) and aws["relabeling"]["login"] == "AWS Access Key ID"
    assert {"region_name", "endpoint_url"} <= {f["name"] for f in aws["extra_fields"]}
    assert types["sqlite"]["hidden_fields"] == ["schema", "login", "password", "port"]
    assert types["smtp"]["testable"] is False  # connections test has no SMTP hook registered
    script = browser(api, "op").get("/static/connections.js").text
    assert "/ui/data/connections/types" in script


def test_hook_declarations_are_read() -> None:
    """A hook's own get_ui_field_behaviour / get_connection_form_widgets (Airflow's names) shape its type."""
    from tradewind.observe.ui import connections as ui

    class StringField:
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs

    class BooleanField(StringField):
        pass

    class Hook:
        hook_name = "Made Up"

        @classmethod
        def get_ui_field_behaviour(cls):
            return {"hidden_fields": ["port", "not_a_field"], "relabeling": {"host": "Account"},
                    "placeholders": {"login": "user@example.com"}}

        @classmethod
        def get_connection_form_widgets(cls):
            return {"extra__madeup__warehouse": StringField("Warehouse", description="Compute to use"),
                    "insecure": BooleanField(label="Skip TLS checks")}

    out = ui._from_hook(Hook, "madeup")
    assert out["hidden_fields"] == ["port"]
    assert out["relabeling"] == {"host": "Account"} and out["placeholders"] == {"login": "user@example.com"}
    assert out["extra_fields"] == [
        {"name": "warehouse", "label": "Warehouse", "type": "string", "description": "Compute to use"},
        {"name": "insecure", "label": "Skip TLS checks", "type": "boolean"}]

    class Broken:
        @classmethod
        def get_ui_field_behaviour(cls):
            raise RuntimeError("provider bug")

    assert ui._from_hook(Broken, "broken") == {}
    field = ui._schema_field("region", {"label": "Region", "schema": {"type": ["string", "null"],
                                                                       "enum": ["eu", "us", None]}})
    assert field == {"name": "region", "label": "Region", "type": "select", "options": ["eu", "us"]}
