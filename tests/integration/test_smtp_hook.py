"""SmtpHook and EmailOperator against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import json

import pytest
from dagrun_support import run_dag
from smtp_support import running_smtp_server, smtp_config

from tradewind.definition.smtp import EmailError
from tradewind.integrations.smtp import SmtpHook


@pytest.fixture
def smtp_server():
    yield from running_smtp_server()


@pytest.fixture
def smtp_conn(smtp_server, monkeypatch):
    """Connection ``smtp_test``: the local server, plain SMTP (SSL and STARTTLS disabled), a sender."""
    _, port = smtp_server
    monkeypatch.setenv("TRADEWIND_CONN_SMTP_TEST", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"from_email": "airflow@example.com", "disable_ssl": True, "disable_tls": True, "timeout": 10}}))
    return "smtp_test"


def test_hook_sends_with_cc_bcc_attachment_and_the_connection_sender(smtp_server, smtp_conn, tmp_path) -> None:
    sink, _ = smtp_server
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    SmtpHook(smtp_conn_id=smtp_conn).send_email_smtp(to="ops@example.com", subject="Nightly", cc=["lead@example.com"],
                                                     bcc="audit@example.com", html_content="<b>ok</b>",
                                                     files=[str(report)])
    [mail] = sink.messages
    assert mail.mail_from == "airflow@example.com"
    assert sorted(mail.rcpt_tos) == ["audit@example.com", "lead@example.com", "ops@example.com"]
    assert mail.subject == "Nightly" and "<b>ok</b>" in mail.html and "Bcc" not in mail.message
    assert mail.attachments() == {"report.csv": b"a,b\n1,2\n"}


def test_hook_as_context_manager_keeps_one_client(smtp_server, smtp_conn) -> None:
    sink, _ = smtp_server
    with SmtpHook(smtp_conn_id=smtp_conn) as hook:
        for n in range(2):
            hook.send_email_smtp(to="a@example.com", subject=f"m{n}", html_content="x", from_email="me@example.com")
        assert hook.smtp_client is not None
    assert hook.smtp_client is None
    assert [m.subject for m in sink.messages] == ["m0", "m1"] and sink.messages[0].mail_from == "me@example.com"
    assert SmtpHook(smtp_conn_id=smtp_conn).test_connection()[0] is True


def test_bad_connection_settings_are_named(monkeypatch) -> None:
    monkeypatch.setenv("TRADEWIND_CONN_SMTP_BAD", '{"conn_type": "smtp", "host": "h", "extra": {"disable_ssl": "maybe"}}')
    with pytest.raises(EmailError, match="'smtp_bad': extra 'disable_ssl' must be true or false"):
        SmtpHook(smtp_conn_id="smtp_bad").settings()
    monkeypatch.setenv("TRADEWIND_CONN_SMTP_NOFROM", "smtp://127.0.0.1:1")
    with pytest.raises(EmailError, match="no sender address"):
        SmtpHook(smtp_conn_id="smtp_nofrom").send_email_smtp(to="a@example.com", subject="s", html_content="b")
    monkeypatch.setenv("TRADEWIND_CONN_SMTP_DOWN",
                       '{"conn_type": "smtp", "host": "127.0.0.1", "port": 1, "extra": {"disable_ssl": true}}')
    with pytest.raises(EmailError, match="cannot connect to SMTP server 127.0.0.1:1"):
        SmtpHook(smtp_conn_id="smtp_down").send_email_smtp(to="a@example.com", subject="s", html_content="b",
                                                            from_email="me@example.com")
    ok, message = SmtpHook(smtp_conn_id="smtp_down").test_connection()
    assert not ok and "127.0.0.1:1" in message
    with pytest.raises(EmailError, match="auth_type 'oauth' is not supported"):
        SmtpHook(auth_type="oauth")


def test_email_operator_through_a_connection_and_through_the_config(config, db, smtp_server, smtp_conn) -> None:
    sink, port = smtp_server
    cfg = smtp_config(config, port, smtp_mail_from="tradewind@example.com")
    (cfg.dags_folder / "mail.html").write_text("<p>Run {{ run_id }} on {{ ds }}</p>")
    result = run_dag(cfg, db, "email_dag", f"""
        from datetime import datetime
        from tradewind import DAG
        from tradewind.integrations.smtp import EmailOperator

        with DAG("email_dag", start_date=datetime(2024, 1, 1), schedule=None, template_searchpath=["{cfg.dags_folder}"]):
            EmailOperator(task_id="via_conn", conn_id="{smtp_conn}", to="ops@example.com",
                          subject="Report {{{{ ds }}}}", html_content="mail.html")
            EmailOperator(task_id="via_config", to=["dev@example.com"], cc="lead@example.com",
                          subject="Config path", html_content="<i>{{{{ dag.dag_id }}}}</i>")
            EmailOperator(task_id="no_recipient", to="", subject="x", html_content="y")
        """)
    assert result.states["via_conn"] == "success" and result.states["via_config"] == "success"
    by_subject = {m.subject: m for m in sink.messages}
    report = next(m for s, m in by_subject.items() if s.startswith("Report "))
    assert report.mail_from == "airflow@example.com" and "<p>Run manual__" in report.html
    config_mail = by_subject["Config path"]
    assert config_mail.mail_from == "tradewind@example.com" and "<i>email_dag</i>" in config_mail.html
    assert sorted(config_mail.rcpt_tos) == ["dev@example.com", "lead@example.com"]
    assert result.states["no_recipient"] == "failed" and "has no recipient in 'to'" in result.logs["no_recipient"]
