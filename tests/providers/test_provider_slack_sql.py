"""apache-airflow-providers-slack's SqlToSlackWebhookOperator from PyPI, unchanged: it finds the SQL
hook with ``Connection.get_hook`` (a real SQLite file, Tradewind's SqliteHook), renders its message
on a second pass (``times_rendered``, ``_do_render_template_fields``, ``get_template_env``) and posts
it to a local webhook server. Both venvs, as in test_provider_slack.py."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from e2e_support import dags_test, home_with_dag, venv_or_skip
from servers import RecordingHttpServer, webhook_server  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv (Apache Airflow from PyPI)

TOKEN = "T000SQL/B000SQL/sqlreporttoken"


@pytest.fixture(scope="module", params=["airflow", "tradewind"])
def venv(request: pytest.FixtureRequest):
    return venv_or_skip(request.param, ["slack"])


def test_query_rows_are_rendered_into_the_webhook_message(venv, tmp_path: Path,
                                                          webhook_server: RecordingHttpServer):  # noqa: F811
    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE stock (name TEXT, qty INTEGER)")
        db.executemany("INSERT INTO stock VALUES (?, ?)", [("bolt", 2), ("nut", 9), ("washer", 4)])
    home = home_with_dag(venv, tmp_path / "home", "provider_slack_sql_dag.py")
    home.env["AIRFLOW_CONN_SHOP_SQLITE"] = json.dumps({"conn_type": "sqlite", "host": str(shop)})
    home.env["AIRFLOW_CONN_SLACK_E2E"] = json.dumps(
        {"conn_type": "slackwebhook", "host": webhook_server.url, "password": TOKEN})

    run = dags_test(home, "provider_slack_sql")
    assert run.states == {"report": "success", "through_get_hook": "success"}, run.output
    post, second = webhook_server.received()
    assert post.path == f"/{TOKEN}"
    assert post.json()["text"] == ("Low stock on 2024-03-02: 2 items\n"
                                   "[{'name': 'bolt', 'qty': 2}, {'name': 'washer', 'qty': 4}]")
    # A conn type only a bridged provider serves: the class its provider info names, from its files.
    assert second.json()["text"] == "sent by SlackWebhookHook"
