"""``from airflow.utils.email import send_email`` in a DAG file's callable and callback, on a real SMTP server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tradewind import compat

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration"))
from smtp_support import running_smtp_server  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def shims():
    assert compat.install() is True


@pytest.fixture
def smtp():
    yield from running_smtp_server()


def test_send_email_from_a_task_and_a_failure_callback(smtp, tmp_path):
    from tradewind.testing.sim import DagSimulator

    sink, port = smtp
    sim = DagSimulator(tmp_path / "home", overrides={"smtp": {
        "smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_timeout": "10", "smtp_mail_from": "etl@example.com"}})
    try:
        path = tmp_path / "mailing.py"
        path.write_text('''
from datetime import datetime
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.utils.email import send_email

def report(ds, **context):
    send_email(to=["team@example.com"], subject=f"Report for {ds}", html_content="<b>42 rows</b>",
               cc="boss@example.com")

def alert(context):
    send_email(to="oncall@example.com", subject=f"{context['task_instance'].task_id} failed",
               html_content=str(context["exception"]))

def broken():
    raise ValueError("no data")

with DAG("mailing", schedule=None, start_date=datetime(2024, 1, 1)):
    PythonOperator(task_id="report", python_callable=report)
    PythonOperator(task_id="broken", python_callable=broken, on_failure_callback=alert)
''')
        result = sim.run(path, logical_date="2024-03-05")
        assert result.states() == {"report": "success", "broken": "failed"}
    finally:
        sim.close()
    by_subject = {m.subject: m for m in sink.messages}
    assert set(by_subject) == {"Report for 2024-03-05", "broken failed"}
    report = by_subject["Report for 2024-03-05"]
    assert report.mail_from == "etl@example.com"
    assert sorted(report.rcpt_tos) == ["boss@example.com", "team@example.com"]
    assert "<b>42 rows</b>" in report.html
    assert "no data" in by_subject["broken failed"].html
