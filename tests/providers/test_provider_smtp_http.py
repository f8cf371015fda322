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
