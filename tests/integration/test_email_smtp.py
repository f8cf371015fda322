"""Email over a real local SMTP server: send_email, task failure/retry alerts, notifiers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from smtp_support import running_smtp_server, smtp_config
from sqlalchemy import select

from tradewind.execute.email import ConfiguredEmailSender, EmailError, send_email_smtp
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler

HEADER = """
from datetime import datetime, timedelta
from tradewind import DAG, BashOperator, PythonOperator, TaskFailNoRetry
from tradewind.definition.notifications import SmtpNotifier, send_email
"""


@pytest.fixture
def smtp_server():
    yield from running_smtp_server()


def run_dag(config, db, dag_id: str, body: str, conf: dict | None = None) -> tuple[str, dict[str, str]]:
    """Write the DAG file, parse it, trigger a run and drive it to its end with the real scheduler."""
    from tradewind.execute.executors.inprocess import InProcessExecutor

    (config.dags_folder / f"{dag_id}.py").write_text(HEADER + textwrap.dedent(body))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        set_paused(s, dag_id, False)
        found = latest_snapshot(s, dag_id)
        assert found is not None, "the DAG file did not parse"
        version, snapshot = found
        run_id = create_manual_run(s, snapshot, version.id, conf=conf, now=utcnow()).run_id
    scheduler = Scheduler(config, db, InProcessExecutor(config=config, db=db), only_run=(dag_id, run_id))
    for _ in range(100):
        scheduler.run_once()
        with db.read_scope() as s:
            state = s.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if state in ("success", "failed"):
            break
    with db.read_scope() as s:
        tis = {ti.task_id: ti.state for ti in s.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id))}
    return state, tis


def test_send_email_smtp_delivers_to_cc_bcc_with_attachment(config, smtp_server, tmp_path: Path) -> None:
    sink, port = smtp_server
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    send_email_smtp("ops@example.com; dev@example.com", "Nightly report", "<b>All good</b>",
                    config=smtp_config(config, port), cc="lead@example.com", bcc=["audit@example.com"],
                    files=[str(attachment)], custom_headers={"X-Run": "42"})
    [mail] = sink.messages
    assert mail.mail_from == "tradewind@example.com"
    assert mail.rcpt_tos == ["ops@example.com", "dev@example.com", "lead@example.com", "audit@example.com"]
    assert mail.subject == "Nightly report"
    assert mail.message["To"] == "ops@example.com, dev@example.com"
    assert mail.message["CC"] == "lead@example.com"
    assert mail.message["Bcc"] is None
    assert mail.message["X-Run"] == "42"
    assert "<b>All good</b>" in mail.html
    assert mail.attachments() == {"report.csv": b"a,b\n1,2\n"}


def test_dryrun_and_configured_sender_use_from_email(config, smtp_server) -> None:
    sink, port = smtp_server
    cfg = smtp_config(config, port)
    send_email_smtp("x@example.com", "s", "b", config=cfg, dryrun=True)
    assert sink.messages == []
    ConfiguredEmailSender(cfg)("x@example.com", "hello", "body", from_email="me@example.com")
    assert [(m.mail_from, m.subject) for m in sink.messages] == [("me@example.com", "hello")]


def test_unreachable_server_is_a_clear_error(config) -> None:
    from smtp_support import free_port

    port = free_port()  # nothing listens there
    with pytest.raises(EmailError, match=f"cannot connect to SMTP server 127.0.0.1:{port}"):
        send_email_smtp("x@example.com", "s", "b", config=smtp_config(config, port))


def test_retry_then_failure_emails_with_airflow_content(config, db, smtp_server) -> None:
    sink, port = smtp_server
    cfg = smtp_config(config, port)
    state, tis = run_dag(cfg, db, "mail_fail", """
        def boom():
            raise ValueError("disk <full>")

        with DAG("mail_fail", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            PythonOperator(task_id="load", python_callable=boom, email=["oncall@example.com"],
                           retries=1, retry_delay=timedelta(0))
            PythonOperator(task_id="quiet", python_callable=boom, email="quiet@example.com",
                           email_on_failure=False)
    """)
    assert state == "failed" and tis == {"load": "failed", "quiet": "failed"}
    assert [m.rcpt_tos for m in sink.messages] == [["oncall@example.com"], ["oncall@example.com"]]
    retry, failure = sink.messages
    assert retry.subject.startswith("Tradewind alert: <TaskInstance: mail_fail.load ")
    assert retry.subject.endswith("[up_for_retry]>")
    assert failure.subject.endswith("[failed]>")
    assert "Try 1 out of 2" in retry.html and "Try 2 out of 2" in failure.html
    assert "ValueError: disk &lt;full&gt;" in failure.html
    assert "task_id=load/attempt=2.log" in failure.html
    assert "Host: " in failure.html


def test_email_on_retry_false_and_templates_from_config(config, db, smtp_server, tmp_path: Path) -> None:
    sink, port = smtp_server
    (tmp_path / "subject.j2").write_text("[{{ dag.dag_id }}] {{ ti.task_id }} try {{ try_number }}")
    (tmp_path / "body.j2").write_text("<p>{{ exception_html }} ({{ params.team }}, {{ ds }})</p>")
    cfg = smtp_config(config, port)
    cfg = type(cfg).load(home=cfg.home, environ={}, overrides={
        "core": {"load_examples": "False"},
        "smtp": {"smtp_host": "127.0.0.1", "smtp_port": str(port)},
        "email": {"subject_template": str(tmp_path / "subject.j2"),
                  "html_content_template": str(tmp_path / "body.j2")}})
    run_dag(cfg, db, "mail_tpl", """
        with DAG("mail_tpl", schedule=None, start_date=datetime(2024, 1, 1), params={"team": "data"}) as dag:
            BashOperator(task_id="sh", bash_command="exit 3", email=["a@example.com"], email_on_retry=False,
                         retries=1, retry_delay=timedelta(0))
    """)
    [mail] = sink.messages  # the retry sent nothing
    assert mail.subject == "[mail_tpl] sh try 2"
    assert "non-zero exit code 3. (data, 20" in mail.html


def test_smtp_failure_is_logged_and_never_changes_the_outcome(config, db) -> None:
    from smtp_support import free_port

    cfg = smtp_config(config, free_port())  # no server
    state, tis = run_dag(cfg, db, "mail_down", """
        with DAG("mail_down", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            BashOperator(task_id="ok", bash_command="true", email=["a@example.com"])
            BashOperator(task_id="bad", bash_command="exit 1", email=["a@example.com"])
    """)
    assert tis == {"ok": "success", "bad": "failed"}
    log_text = next((cfg.logs_folder / "dag_id=mail_down").rglob("task_id=bad/attempt=1.log")).read_text()
    assert "Could not send the failure email to a@example.com: cannot connect to SMTP server 127.0.0.1" in log_text


def test_send_email_and_smtp_notifier_from_tasks_and_callbacks(config, db, smtp_server) -> None:
    sink, port = smtp_server
    cfg = smtp_config(config, port)
    state, tis = run_dag(cfg, db, "mail_api", """
        def report(ds, **context):
            send_email(["boss@example.com"], f"Report {ds}", "<h1>numbers</h1>")

        def fail():
            raise TaskFailNoRetry("no data")

        with DAG("mail_api", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            PythonOperator(task_id="report", python_callable=report)
            PythonOperator(task_id="fetch", python_callable=fail, on_failure_callback=SmtpNotifier(
                to="oncall@example.com", subject="{{ ti.task_id }} failed in {{ run_id }}",
                html_content="{{ exception }}"))
    """, conf={"x": 1})
    assert tis == {"report": "success", "fetch": "failed"}
    by_to = {m.rcpt_tos[0]: m for m in sink.messages}
    assert set(by_to) == {"boss@example.com", "oncall@example.com"}
    assert by_to["boss@example.com"].subject.startswith("Report 20")
    notified = by_to["oncall@example.com"]
    assert notified.subject.startswith("fetch failed in manual__")
    assert "no data" in notified.html
