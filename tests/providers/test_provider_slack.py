"""apache-airflow-providers-slack from PyPI, unchanged: incoming webhooks posted to a local HTTP server.

Each test runs in both venvs, ``pip install apache-airflow-providers-slack`` (Airflow pulled in) and
``tradewind providers install slack`` (no Airflow core) (bridged: the provider loads from its
installed distribution, its ``airflow`` core imports from Tradewind). Our DAG file
``dags/provider_slack_dag.py`` uses SlackWebhookOperator, SlackWebhookHook and the webhook notifier
as an ``on_success_callback``; the server (``servers.RecordingHttpServer``) records what arrived.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_support import dags_test, home_with_dag, task_log, venv_or_skip
from servers import RecordingHttpServer, webhook_server  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv (Apache Airflow from PyPI)

TOKEN = "T000E2E/B000E2E/secretwebhooktoken"


@pytest.fixture(scope="module", params=["airflow", "tradewind"])
def venv(request: pytest.FixtureRequest):
    """pip install apache-airflow-providers-... (Airflow pulled in), or tradewind providers install (no core)."""
    return venv_or_skip(request.param, ["slack"])


@pytest.fixture
def home(venv, tmp_path: Path, webhook_server: RecordingHttpServer):  # noqa: F811
    home = home_with_dag(venv, tmp_path / "home", "provider_slack_dag.py")
    home.env["AIRFLOW_CONN_SLACK_E2E"] = json.dumps(
        {"conn_type": "slackwebhook", "host": webhook_server.url, "password": TOKEN})
    return home


def test_webhook_operator_hook_and_notifier_post_to_the_webhook_url(home, webhook_server):  # noqa: F811
    run = dags_test(home, "provider_slack")
    assert run.states == {"announce": "success", "with_blocks": "success"}, run.output
    assert run.run_state == "success"

    posts = webhook_server.received()
    assert [(r.method, r.path) for r in posts] == [("POST", f"/{TOKEN}")] * 3, posts
    assert all(r.headers["content-type"].startswith("application/json") for r in posts)
    bodies = [r.json() for r in posts]
    assert bodies[0] == {"text": "Run of provider_slack for 2024-03-02 started"}
    assert bodies[1] == {"text": "fallback text", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*bold* report"}}]}
    # The notifier renders its template with the task's context.
    assert bodies[2]["text"] == "with_blocks done", bodies[2]
    # The token is a secret: it does not appear in the task log.
    assert TOKEN not in task_log(home, "provider_slack", "announce")


def test_a_refused_webhook_fails_the_task_with_slacks_answer(home, webhook_server):  # noqa: F811
    webhook_server.status, webhook_server.reply = 404, b"no_service"
    run = dags_test(home, "provider_slack")
    assert run.states == {"announce": "failed", "with_blocks": "upstream_failed"}, run.output
    log = task_log(home, "provider_slack", "announce")
    assert "no_service" in log and "404" in log, log[-3000:]


def test_connection_stored_with_connections_add(home, webhook_server):  # noqa: F811
    """The connection from the metadata database (``tradewind connections add``, password encrypted at
    rest) instead of the environment: the provider's hook reads it the same way."""
    del home.env["AIRFLOW_CONN_SLACK_E2E"]
    home.ok("connections", "add", "slack_e2e", "--conn-type", "slackwebhook", "--conn-host", webhook_server.url,
            "--conn-password", TOKEN)
    run = dags_test(home, "provider_slack")
    assert run.states == {"announce": "success", "with_blocks": "success"}, run.output
    assert [r.path for r in webhook_server.received()] == [f"/{TOKEN}"] * 3


def test_web_api_post_operator_calls_chat_post_message(home, webhook_server):  # noqa: F811
    webhook_server.reply = b'{"ok": true, "channel": "C0E2E", "ts": "1709337600.000100"}'
    home.env["AIRFLOW_CONN_SLACK_API_E2E"] = json.dumps(
        {"conn_type": "slack", "password": "xoxb-e2e-bot-token", "extra": {"base_url": webhook_server.url + "/api/"}})
    run = dags_test(home, "provider_slack_api")
    assert run.states == {"post": "success", "read_answer": "success"}, run.output
    (call,) = webhook_server.received()
    assert (call.method, call.path) == ("POST", "/api/chat.postMessage")
    assert call.headers["authorization"] == "Bearer xoxb-e2e-bot-token"
    body = call.json()
    assert (body["channel"], body["text"]) == ("#e2e", "Report for 2024-03-02 is ready"), body
    assert "xoxb-e2e-bot-token" not in task_log(home, "provider_slack_api", "post")



def test_providers_get_reports_slack_as_bridged(venv, tmp_path):
    home = home_with_dag(venv, tmp_path / "home")
    info = home.json("providers", "get", "slack")
    assert (info["mode"], info["installed_version"]) == ("bridged", info["version"]), info
    assert info["installed_version"]
