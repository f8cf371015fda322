"""``Connection``: Airflow's URI and JSON forms, the environment lookup, the backend and clear errors."""

from __future__ import annotations

import json

import pytest

from tradewind.definition import masking
from tradewind.definition.connection import (
    Connection,
    ConnectionNotFound,
    InvalidConnectionError,
    get_connection,
    set_connection_backend,
)


def test_uri_fields_and_round_trip():
    conn = Connection(conn_id="wh", uri="postgresql://etl:p%40ss%2Fw@db.example:5433/sales?sslmode=require&x=1")
    assert (conn.conn_type, conn.host, conn.login, conn.password, conn.port, conn.schema) == (
        "postgres", "db.example", "etl", "p@ss/w", 5433, "sales")
    assert conn.extra_dejson == {"sslmode": "require", "x": "1"}
    again = Connection(conn_id="wh", uri=conn.get_uri())
    assert again == conn


def test_uri_with_a_json_extra_and_dashes_in_the_type():
    extra = {"endpoint_url": "http://localhost:9000", "retries": 3}
    conn = Connection(conn_id="s3", conn_type="aws", extra=extra)
    assert "__extra__=" in conn.get_uri()
    assert Connection(conn_id="s3", uri=conn.get_uri()).extra_dejson == extra
    assert Connection(conn_id="g", uri="google-cloud-platform://").conn_type == "google_cloud_platform"


def test_json_form_and_to_dict():
    text = json.dumps({"conn_type": "http", "host": "api.example", "port": "8443", "extra": {"timeout": 5}})
    conn = Connection.from_json(text, "api")
    assert (conn.conn_id, conn.port, conn.extra_dejson) == ("api", 8443, {"timeout": 5})
    assert conn.to_dict()["extra"] == {"timeout": 5}
    assert Connection.from_json(conn.as_json(), "api") == conn


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"uri": "nothing-here"}, "is not a URI"),
    ({"uri": "http://h:99999"}, "bad port in URI"),
    ({"uri": "http://h", "host": "x"}, "either uri or the separate fields"),
    ({"conn_type": "http", "port": "eighty"}, "port 'eighty' is not a number"),
    ({"conn_type": "http", "port": 0}, "out of range"),
    ({"conn_type": "http", "extra": 5}, "extra must be a JSON string or a dict"),
    ({"uri": "http://h?__extra__=%7Bbad"}, "__extra__ is not JSON"),
])
def test_bad_input_names_the_problem(kwargs, message):
    with pytest.raises(InvalidConnectionError, match=message) as info:
        Connection(conn_id="c1", **kwargs)
    assert "'c1'" in str(info.value)


def test_bad_json_is_named():
    with pytest.raises(InvalidConnectionError, match="not valid JSON"):
        Connection.from_json("{nope", "c1")
    with pytest.raises(InvalidConnectionError, match="JSON must be an object"):
        Connection.from_json("[1]", "c1")
    with pytest.raises(InvalidConnectionError, match=r"unknown field\(s\) hots"):
        Connection.from_json('{"hots": "x"}', "c1")


def test_env_lookup_order_and_forms(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MY_DB", "mysql://a:b@airflow-host/db")
    assert get_connection("my_db").host == "airflow-host"
    monkeypatch.setenv("TRADEWIND_CONN_MY_DB", '{"conn_type": "mysql", "host": "tradewind-host"}')
    assert get_connection("my_db").host == "tradewind-host"  # ours wins over Airflow's
    assert Connection.get("my_db").conn_type == "mysql"


class _DictBackend:
    def __init__(self, conns: dict[str, Connection]) -> None:
        self.conns = conns

    def get(self, conn_id: str) -> Connection | None:
        return self.conns.get(conn_id)


def test_backend_after_the_environment_and_not_found(monkeypatch):
    stored = Connection(conn_id="wh", conn_type="postgres", host="stored-host")
    previous = set_connection_backend(_DictBackend({"wh": stored}))
    try:
        assert get_connection("wh") is stored
        monkeypatch.setenv("TRADEWIND_CONN_WH", "postgres://env-host")
        assert get_connection("wh").host == "env-host"
        with pytest.raises(ConnectionNotFound, match="The conn_id `other` isn't defined: set TRADEWIND_CONN_OTHER"):
            get_connection("other")
    finally:
        set_connection_backend(previous)


def test_reading_a_connection_registers_its_secrets_for_masking(monkeypatch):
    masking.forget_secrets()
    monkeypatch.setenv("TRADEWIND_CONN_API",
                       json.dumps({"conn_type": "http", "login": "svc", "password": "p@ss word!",
                                   "extra": {"api_key": "k-0123456789", "region": "eu-west-1"}}))
    try:
        conn = get_connection("api")
        text = f"{conn.login} {conn.password} {conn.get_uri()} {conn.extra_dejson}"
        redacted = masking.redact_text(text)
        assert "p@ss word!" not in redacted and "p%40ss%20word%21" not in redacted
        assert "k-0123456789" not in redacted and "eu-west-1" in redacted and "svc" in redacted
    finally:
        masking.forget_secrets()
