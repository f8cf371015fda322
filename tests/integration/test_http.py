"""HttpHook, HttpOperator and HttpSensor against a real HTTP server on 127.0.0.1 (a thread)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from dagrun_support import run_dag

from tradewind.definition.connection import ConnectionNotFound
from tradewind.definition.exceptions import TradewindException
from tradewind.integrations.http import HttpHook, HttpResponseError


class _Handler(BaseHTTPRequestHandler):
    """``/echo`` answers what it got; ``/status/<n>`` answers n; ``/ready`` is 404 until ``/make-ready``;
    ``/pages?page=n`` answers pages 1-3 with a ``next`` link."""

    server: Any

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.requests.append((self.command, parts.path))
        if parts.path == "/echo":
            self._send(200, {"method": self.command, "query": parse_qs(parts.query), "body": body,
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
        elif parts.path.startswith("/status/"):
            code = int(parts.path.rsplit("/", 1)[1])
            self._send(code, {"error": f"status {code} as asked"})
        elif parts.path == "/make-ready":
            self.server.ready = True
            self._send(200, {"ok": True})
        elif parts.path == "/ready":
            self._send(200, {"state": "ready"}) if self.server.ready else self._send(404, {"state": "absent"})
        elif parts.path == "/pages":
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            self._send(200, {"page": page, "next": page + 1 if page < 3 else None})
        else:
            self._send(404, {"error": "no such path"})

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def _send(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    httpd.ready = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def http_conn(server, monkeypatch):
    """Connection ``http_test``: the server, basic auth, a default header from the extra."""
    port = server.server_address[1]
    monkeypatch.setenv("TRADEWIND_CONN_HTTP_TEST", json.dumps({
        "conn_type": "http", "host": "127.0.0.1", "port": port, "login": "alice", "password": "s3cret",
        "extra": {"X-Team": "data", "timeout": 10}}))
    return "http_test"


def test_run_builds_url_auth_headers_and_sends_form_or_raw_body(http_conn) -> None:
    response = HttpHook("POST", http_conn_id=http_conn).run("echo", data={"a": "1"}, headers={"X-Run": "7"})
    assert response.status_code == 200 and response.ok and response.reason == "OK"
    got = response.json()
    assert got["method"] == "POST" and got["body"] == "a=1"
    assert got["headers"]["x-team"] == "data" and got["headers"]["x-run"] == "7"
    assert got["headers"]["authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    raw = HttpHook("PUT", http_conn_id=http_conn).run("/echo", data='{"x": 1}')
    assert raw.json()["body"] == '{"x": 1}' and raw.json()["method"] == "PUT"
    as_json = HttpHook("POST", http_conn_id=http_conn).run("echo", json={"k": [1, 2]})
    assert json.loads(as_json.json()["body"]) == {"k": [1, 2]}


def test_get_sends_data_as_query_string(http_conn) -> None:
    response = HttpHook("GET", http_conn_id=http_conn).run("echo", data={"day": "2024-01-02", "n": "3"})
    assert response.json()["query"] == {"day": ["2024-01-02"], "n": ["3"]}


def test_error_status_raises_with_the_body_unless_check_response_is_off(http_conn) -> None:
    hook = HttpHook("GET", http_conn_id=http_conn)
    with pytest.raises(HttpResponseError, match=r"500:Internal Server Error .*status 500 as asked") as caught:
        hook.run("status/500")
    assert caught.value.response.status_code == 500
    unchecked = hook.run("status/418", extra_options={"check_response": False})
    assert unchecked.status_code == 418 and not unchecked.ok


def test_unknown_option_missing_connection_and_refused_port_are_clear_errors(http_conn, monkeypatch) -> None:
    with pytest.raises(TradewindException, match="unknown HTTP option 'retries'"):
        HttpHook("GET", http_conn_id=http_conn).run("echo", extra_options={"retries": 3})
    with pytest.raises(ConnectionNotFound, match="nope"):
        HttpHook("GET", http_conn_id="nope").run("echo")
    monkeypatch.setenv("TRADEWIND_CONN_DEAD", "http://127.0.0.1:1")
    with pytest.raises(TradewindException, match=r"HTTP GET http://127.0.0.1:1/x failed: ConnectError"):
        HttpHook("GET", http_conn_id="dead").run("x")


def test_base_url_rules_schema_type_and_full_host(monkeypatch) -> None:
    cases = {
        "A": ("http://h:8080/https", "https://h:8080"),  # schema field carries the scheme
        "B": ("https://api.example.com", "https://api.example.com"),  # conn type https
        "C": ('{"conn_type": "http", "host": "https://x.example.com/v1/"}', "https://x.example.com/v1/"),
    }
    for name, (value, expected) in cases.items():
        monkeypatch.setenv(f"TRADEWIND_CONN_{name}", value)
        hook = HttpHook(http_conn_id=name.lower())
        hook.connection_settings()
        assert hook.base_url == expected, name
    hook = HttpHook(http_conn_id="c")
    hook.connection_settings()
    assert hook.url_for("items") == "https://x.example.com/v1/items"
    assert hook.url_for("http://other/abs") == "http://other/abs"


def test_run_with_advanced_retry_retries_then_raises(http_conn, server) -> None:
    tenacity = pytest.importorskip("tenacity")
    hook = HttpHook("GET", http_conn_id=http_conn)
    with pytest.raises(HttpResponseError, match="503"):
        hook.run_with_advanced_retry({"stop": tenacity.stop_after_attempt(3), "wait": tenacity.wait_none()},
                                     "status/503")
    assert server.requests.count(("GET", "/status/503")) == 3


def test_get_conn_is_a_client_on_the_base_url(http_conn) -> None:
    with HttpHook(http_conn_id=http_conn).get_conn() as client:
        assert client.get("/echo").json()["headers"]["x-team"] == "data"


def test_operator_and_sensor_in_a_dag_run(config, db, http_conn, server) -> None:
    result = run_dag(config, db, "http_dag", f"""
        from datetime import datetime
        from tradewind import DAG, PythonOperator
        from tradewind.integrations.http import HttpOperator, HttpSensor, SimpleHttpOperator

        def make_ready():
            import httpx
            httpx.get("http://127.0.0.1:{server.server_address[1]}/make-ready")

        with DAG("http_dag", start_date=datetime(2024, 1, 1), schedule=None):
            wait = HttpSensor(task_id="wait", http_conn_id="{http_conn}", endpoint="ready", poke_interval=0.01,
                              timeout=30, response_check=lambda r: r.json()["state"] == "ready")
            post = HttpOperator(task_id="post", http_conn_id="{http_conn}", endpoint="echo",
                                data={{"day": "{{{{ ds }}}}"}}, headers={{"X-Run": "{{{{ run_id }}}}"}},
                                response_check=lambda response, ds: response.json()["body"] == "day=" + ds,
                                response_filter=lambda r: r.json()["headers"]["x-run"], log_response=True)
            plain = SimpleHttpOperator(task_id="plain", http_conn_id="{http_conn}", method="GET", endpoint="echo")
            pages = HttpOperator(task_id="pages", http_conn_id="{http_conn}", method="GET", endpoint="pages",
                                 data={{"page": 1}},
                                 pagination_function=lambda r: r.json()["next"] and {{"data": {{"page": r.json()["next"]}}}},
                                 response_filter=lambda rs: [r.json()["page"] for r in rs])
            bad = HttpOperator(task_id="bad", http_conn_id="{http_conn}", method="GET", endpoint="status/502")
            PythonOperator(task_id="make_ready", python_callable=make_ready) >> wait >> post
        """)
    assert result.states["wait"] == "success" and result.states["post"] == "success"
    assert result.xcoms["post"].startswith("manual__")
    assert json.loads(result.xcoms["plain"])["method"] == "GET"
    assert result.xcoms["pages"] == [1, 2, 3]
    assert result.states["bad"] == "failed" and "502:Bad Gateway" in result.logs["bad"]
    assert '"body": "day=' in result.logs["post"]  # log_response


def test_sensor_fails_on_a_status_outside_the_allowlist(config, db, http_conn) -> None:
    result = run_dag(config, db, "http_sensor_dag", f"""
        from datetime import datetime
        from tradewind import DAG
        from tradewind.integrations.http import HttpSensor

        with DAG("http_sensor_dag", start_date=datetime(2024, 1, 1), schedule=None):
            HttpSensor(task_id="wait", http_conn_id="{http_conn}", endpoint="status/500", poke_interval=0.01,
                       timeout=30)
        """)
    assert result.states["wait"] == "failed"
    assert "500:Internal Server Error" in result.logs["wait"]


def test_response_check_false_fails_the_task(config, db, http_conn) -> None:
    result = run_dag(config, db, "http_check_dag", f"""
        from datetime import datetime
        from tradewind import DAG
        from tradewind.integrations.http import HttpOperator

        with DAG("http_check_dag", start_date=datetime(2024, 1, 1), schedule=None):
            HttpOperator(task_id="check", http_conn_id="{http_conn}", method="GET", endpoint="echo",
                         response_check=lambda r: False)
        """)
    assert result.states["check"] == "failed" and "Response check returned False." in result.logs["check"]
