"""Bridged parts of the smtp and http providers on Tradewind's native hooks, with the real distributions
(``tradewind providers install ... http smtp``, the ``tradewind_venv`` of conftest.py):

- the smtp provider's own ``SmtpNotifier`` / ``send_smtp_notification`` (bridged) calling Tradewind's
  ``SmtpHook.send_email_smtp(smtp_conn_id=..., ...)``, delivering to a real aiosmtpd server;
- the http provider's deferrable ``HttpSensor`` / ``HttpOperator`` paths (its ``HttpTrigger`` /
  ``HttpSensorTrigger``, bridged) on Tradewind's ``HttpAsyncHook``, against a local HTTP server.
"""

from __future__ import annotations

import json

import pytest
from e2e_support import dags_test
from servers import webhook_server  # noqa: F401 - fixture
from smtp_support import running_smtp_server

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv

SMTP_DAG = '''
from datetime import datetime

from airflow.sdk import DAG, task
from airflow.providers.smtp.notifications.smtp import SmtpNotifier, send_smtp_notification

with DAG("smtp_notifier", start_date=datetime(2024, 1, 1), schedule=None,
         on_success_callback=send_smtp_notification(
             smtp_conn_id="smtp_e2e", to="dag-owner@example.com",
             subject="DAG {{ dag.dag_id }} succeeded on {{ ds }}")):
    @task(on_failure_callback=SmtpNotifier(
        smtp_conn_id="smtp_e2e", from_email="alerts@example.com", to=["ops@example.com"],
        cc="lead@example.com", subject="{{ ti.task_id }} failed", html_content="<b>run {{ run_id }}</b>"))
    def fails():
        raise RuntimeError("boom")

    @task(trigger_rule="all_done")
    def finish():
        return "done"

    fails() >> finish()
'''


@pytest.fixture
def smtp_server():
    yield from running_smtp_server()


def test_smtp_notifier_sends_through_the_native_hook(tradewind_venv, tmp_path, smtp_server):
    sink, port = smtp_server
    home = tradewind_venv.home(tmp_path / "home")
    home.add_dag("smtp_notifier_dag.py", SMTP_DAG)
    home.ok("db", "migrate")
    home.env["AIRFLOW_CONN_SMTP_E2E"] = json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, "from_email": "tw@example.com"}})
    run = dags_test(home, "smtp_notifier")
    assert run.states == {"fails": "failed", "finish": "success"}, run.output
    assert run.run_state == "success", run.output
    by_subject = {m.subject: m for m in sink.messages}
    assert set(by_subject) == {"fails failed", "DAG smtp_notifier succeeded on 2024-03-02"}, run.output
    failed = by_subject["fails failed"]
    assert failed.mail_from == "alerts@example.com"
    assert sorted(failed.rcpt_tos) == ["lead@example.com", "ops@example.com"]
    assert "<b>run manual__2024-03-02" in failed.html
    done = by_subject["DAG smtp_notifier succeeded on 2024-03-02"]
    # No from_email / html_content given: the connection's sender and the provider's own template.
    assert done.mail_from == "tw@example.com" and done.rcpt_tos == ["dag-owner@example.com"]
    assert done.html.startswith("<!DOCTYPE html>") and "Try" in done.html  # the provider's email.html


def test_native_hook_takes_the_provider_signature_and_connection_templates(tmp_path, smtp_server, monkeypatch):
    """In-process: subject/body from the connection's template files, smtp_conn_id and unknown
    keyword arguments accepted (as the provider's hook), dryrun sends nothing."""
    from tradewind.integrations.smtp.hooks import SmtpHook

    sink, port = smtp_server
    (tmp_path / "subject.txt").write_text("Weekly\nreport\n")
    (tmp_path / "body.html").write_text("<p>all\ngood</p>\n")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_TPL", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "tw@example.com",
                  "subject_template": str(tmp_path / "subject.txt"),
                  "html_content_template": str(tmp_path / "body.html")}}))
    with SmtpHook("smtp_tpl") as hook:
        assert hook.from_email == "tw@example.com"
        hook.send_email_smtp(to="a@example.com", smtp_conn_id="smtp_tpl", dryrun=True)
        hook.send_email_smtp(to="a@example.com;b@example.com", smtp_conn_id="other", some_future_option=1)
    (message,) = sink.messages
    assert message.subject == "Weeklyreport" and message.html.strip() == "<p>allgood</p>"
    assert message.rcpt_tos == ["a@example.com", "b@example.com"]

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_BARE", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"disable_ssl": True}}))
    hook = SmtpHook("smtp_bare")
    assert hook.from_email is None
    with pytest.raises(Exception, match="subject_template"):
        hook.send_email_smtp(to="a@example.com", from_email="x@example.com", dryrun=True)


# ------------------------------------------------------------------------------------------ http
HTTP_DAG = '''
from datetime import datetime

from airflow.sdk import DAG, BaseOperator, task
from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor


class ProviderTriggerOperator(BaseOperator):
    """Defers to the http provider's own (bridged) HttpTrigger, as provider operators do."""

    def execute(self, context):
        from airflow.providers.http.triggers.http import HttpTrigger

        self.defer(trigger=HttpTrigger(http_conn_id="http_e2e", method="GET", endpoint="/data",
                                       data={"page": "provider"}), method_name="done")

    def done(self, context, event):
        from airflow.providers.http.triggers.http import HttpResponseSerializer

        assert event["status"] == "success", event
        response = HttpResponseSerializer.deserialize(event["response"])
        return {"status": response.status_code, "json": response.json()}


with DAG("http_deferrable", start_date=datetime(2024, 1, 1), schedule=None):
    ready = HttpSensor(task_id="ready", http_conn_id="http_e2e", endpoint="/ready", deferrable=True,
                      poke_interval=0.2, timeout=60)
    fetch = HttpOperator(task_id="fetch", http_conn_id="http_e2e", method="GET", endpoint="/data",
                         data={"page": "1"}, deferrable=True, response_filter=lambda r: r.json())
    post = HttpOperator(task_id="post", http_conn_id="http_e2e", endpoint="/data", data='{"x": 1}',
                        headers={"Content-Type": "application/json"}, deferrable=True,
                        warn_on_non_idempotent=False)
    broken = HttpOperator(task_id="broken", http_conn_id="http_e2e", method="GET", endpoint="/missing",
                          deferrable=True)
    provider = ProviderTriggerOperator(task_id="provider")
    # One deferral per page: the next page's request is built from the previous response.
    pages = HttpOperator(task_id="pages", http_conn_id="http_e2e", method="GET", endpoint="/data",
                         data={"page": "1"}, deferrable=True,
                         pagination_function=lambda r: {"data": {"page": "2"}} if r.json()["path"].endswith("=1") else None,
                         response_filter=lambda responses: [r.json()["path"] for r in responses])

    @task
    def check(fetched, posted, from_provider, paged):
        assert paged == ["/data?page=1", "/data?page=2"], paged
        assert fetched == {"path": "/data?page=1", "method": "GET"}, fetched
        assert posted == '{"path": "/data", "method": "POST"}', posted
        assert from_provider == {"status": 200, "json": {"path": "/data?page=provider", "method": "GET"}}
        return "checked"

    ready >> [fetch, post, provider, broken, pages]
    check(fetch.output, post.output, provider.output, pages.output)
'''


class _RoutingServer:
    """/ready answers 404 for the first ``not_ready`` requests, then 200; /data echoes the path and
    method as JSON; anything else is 404. Records every (method, path)."""

    def __init__(self, not_ready: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[tuple[str, str]] = []
        self.not_ready = not_ready
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.seen.append((self.command, self.path))
                if self.path == "/ready":
                    ready = sum(1 for _, p in server.seen if p == "/ready") > server.not_ready
                    status, body = (200, b"ready") if ready else (404, b"not yet")
                elif self.path.startswith("/data"):
                    status, body = 200, json.dumps({"path": self.path, "method": self.command}).encode()
                else:
                    status, body = 404, b"no such page"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format, *args):  # noqa: A002 - base class name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def routing_server():
    server = _RoutingServer(not_ready=2)
    yield server
    server.stop()


def test_deferrable_http_sensor_and_operator_and_the_providers_trigger(tradewind_venv, tmp_path, routing_server):
    home = tradewind_venv.home(tmp_path / "home")
    home.add_dag("http_deferrable_dag.py", HTTP_DAG)
    home.ok("db", "migrate")
    home.env["AIRFLOW_CONN_HTTP_E2E"] = routing_server.url
    run = dags_test(home, "http_deferrable")
    assert run.states == {"ready": "success", "fetch": "success", "post": "success", "provider": "success",
                          "broken": "failed", "pages": "success", "check": "success"}, run.output
    assert "Unexpected error in the operation: 404:Not Found" in run.output
    # The first poke ran in the task and found 404; the trigger asked until the third answer was 200.
    assert routing_server.seen.count(("GET", "/ready")) == 3
    assert ("POST", "/data") in routing_server.seen
    # Page 2 was asked for (after page 1); the task's output above holds each page once. A second
    # request for it is the hook's retry after a connection error or timeout, seen on a loaded machine.
    assert routing_server.seen.index(("GET", "/data?page=2")) > routing_server.seen.index(("GET", "/data?page=1"))


def test_http_async_hook_in_process(routing_server, monkeypatch):
    """Tradewind's HttpAsyncHook with the provider's signature: aiohttp-style response, errors as
    '<status>:<reason>', 5xx retried retry_limit times."""
    import asyncio

    from tradewind.integrations.http.hooks import HttpAsyncHook

    monkeypatch.setenv("AIRFLOW_CONN_HTTP_ASYNC", routing_server.url)

    async def scenario():
        hook = HttpAsyncHook(method="GET", http_conn_id="http_async", retry_delay=0)
        response = await hook.run(None, "data", data={"q": "1"}, headers={"X-Test": "yes"})
        assert (response.status, response.reason, response.url) == (200, "OK", routing_server.url + "/data?q=1")
        assert await response.json() == {"path": "/data?q=1", "method": "GET"}
        assert (await response.read()).startswith(b"{") and response.get_encoding() == "utf-8"
        with pytest.raises(Exception, match="^404:Not Found$"):
            await hook.run(endpoint="/elsewhere")
        unchecked = await hook.run(endpoint="/elsewhere", extra_options={"check_response": False})
        assert unchecked.status == 404 and await unchecked.text() == "no such page"
        posted = await HttpAsyncHook(http_conn_id="http_async").run(endpoint="/data", json={"a": 1})
        assert await posted.json() == {"path": "/data", "method": "POST"}

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="Retry limit"):
        HttpAsyncHook(retry_limit=0)


def test_deferrable_http_through_a_real_triggerer(tradewind_venv, tmp_path):
    """Under `tradewind standalone` (scheduler, triggerer, ...): the sensor's and the operators'
    triggers (Tradewind's and the provider's bridged HttpTrigger) run in the triggerer process."""
    import signal
    import subprocess

    from cli_support import wait_for
    from service_support import free_port

    server = _RoutingServer(not_ready=4)
    home = tradewind_venv.home(tmp_path / "home")
    home.add_dag("http_deferrable_dag.py", HTTP_DAG)
    home.ok("db", "migrate")
    home.env.update({"AIRFLOW_CONN_HTTP_E2E": server.url, "TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"})
    proc = subprocess.Popen([str(tradewind_venv.bin / "tradewind"), "standalone", "--port", str(free_port())],
                            env=home.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def states() -> dict[str, str]:
        runs = home.json("dags", "list-runs", "http_deferrable")
        if not runs:
            return {}
        return {r["task_id"]: r["state"] for r in
                home.json("tasks", "states-for-dag-run", "http_deferrable", runs[0]["run_id"])}

    try:
        wait_for(lambda: any(d["dag_id"] == "http_deferrable" for d in home.json("dags", "list")),
                 deadline=90, interval=0.5, what="the DAG parsed")
        home.ok("dags", "trigger", "http_deferrable")
        final = ("success", "failed", "upstream_failed", "skipped")
        wait_for(lambda: len(states()) == 7 and all(s in final for s in states().values()), deadline=120,
                 interval=0.5, what="every task done")
        assert states() == {"ready": "success", "fetch": "success", "post": "success", "provider": "success",
                            "broken": "failed", "pages": "success", "check": "success"}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        server.stop()
    logs = {p.parent.name: p.read_text() for p in (home.path / "logs").glob("dag_id=http_deferrable/*/*/attempt=1.log")}
    for task_id in ("ready", "fetch", "provider", "pages"):
        assert "deferr" in logs[f"task_id={task_id}"].lower(), logs[f"task_id={task_id}"]
    assert server.seen.count(("GET", "/ready")) == 5, out[-3000:]


def test_smtp_notifier_async_path(tradewind_venv, smtp_server):
    """The provider's SmtpNotifier.async_notify (``async with`` the hook, ``asend_email_smtp``) on
    Tradewind's SmtpHook, in the venv's interpreter."""
    sink, port = smtp_server
    code = '''
import asyncio
import tradewind.compat
tradewind.compat.install()
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

notifier = SmtpNotifier(smtp_conn_id="smtp_async", from_email="async@example.com", to="ops@example.com",
                        subject="async subject", html_content="<i>async body</i>")
asyncio.run(notifier.async_notify({}))
print("sent")
'''
    from venv_support import _clean_env

    env = _clean_env()
    env["AIRFLOW_CONN_SMTP_ASYNC"] = json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"disable_ssl": True, "disable_tls": True}})
    result = tradewind_venv.python("-c", code, env=env)
    assert "sent" in result.stdout
    (message,) = sink.messages
    assert (message.subject, message.mail_from, message.rcpt_tos) == ("async subject", "async@example.com",
                                                                      ["ops@example.com"])
    assert "<i>async body</i>" in message.html


def test_providers_http_event_trigger_on_the_async_hook(tradewind_venv, tmp_path, routing_server):
    """The provider's HttpEventTrigger (for AssetWatchers) polls through Tradewind's HttpAsyncHook until
    its async response check passes."""
    (tmp_path / "checks.py").write_text(
        "async def ready(response):\n    return response.status_code == 200 and response.text == 'ready'\n")
    code = '''
import asyncio
import tradewind.compat
tradewind.compat.install()
from airflow.providers.http.triggers.http import HttpEventTrigger, HttpResponseSerializer

async def first_event():
    trigger = HttpEventTrigger(response_check_path="checks.ready", http_conn_id="http_event", method="GET",
                               endpoint="/ready", poll_interval=0.1)
    async for event in trigger.run():
        return event

event = asyncio.run(first_event())
print("EVENT", event.payload["status"], HttpResponseSerializer.deserialize(event.payload["response"]).text)
'''
    from venv_support import _clean_env

    env = _clean_env()
    env.update({"AIRFLOW_CONN_HTTP_EVENT": routing_server.url, "PYTHONPATH": str(tmp_path)})
    result = tradewind_venv.python("-c", code, env=env, timeout=60)
    assert "EVENT success ready" in result.stdout, result.stdout + result.stderr
    assert routing_server.seen.count(("GET", "/ready")) == 3  # two 404s (failed polls), then 200
