"""Email building blocks: addresses, MIME messages, [smtp] validation, alert content, the send_email hook."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest

from tradewind.config import Config, ConfigError
from tradewind.definition.exceptions import TradewindException
from tradewind.definition.notifications import SmtpNotifier, send_email, set_email_sender
from tradewind.execute.email import (
    ConfiguredEmailSender,
    EmailError,
    SmtpSettings,
    alert_content,
    build_message,
    split_addresses,
)


def cfg(tmp_path, **sections) -> Config:
    return Config.load(home=tmp_path, environ={}, overrides=sections)


def test_split_addresses_accepts_strings_separators_and_lists() -> None:
    assert split_addresses("a@x.org, b@x.org;c@x.org") == ["a@x.org", "b@x.org", "c@x.org"]
    assert split_addresses(["a@x.org", "b@x.org; c@x.org"]) == ["a@x.org", "b@x.org", "c@x.org"]
    assert split_addresses(None) == [] and split_addresses("") == []
    with pytest.raises(EmailError, match="is not a string"):
        split_addresses(["a@x.org", 3])


def test_build_message_headers_body_and_recipients(tmp_path) -> None:
    msg, rcpts = build_message("a@x.org", "Hi", "<p>body</p>", from_email="me@x.org", cc="c@x.org",
                               bcc="b@x.org", mime_subtype="alternative")
    assert rcpts == ["a@x.org", "c@x.org", "b@x.org"]
    assert (msg["From"], msg["To"], msg["CC"], msg["Bcc"]) == ("me@x.org", "a@x.org", "c@x.org", None)
    assert msg.get_content_subtype() == "alternative"
    assert "<p>body</p>" in msg.get_payload()[0].get_payload(decode=True).decode()
    with pytest.raises(EmailError, match="no recipient"):
        build_message("", "Hi", "b", from_email="me@x.org")
    with pytest.raises(EmailError, match="smtp_mail_from"):
        build_message("a@x.org", "Hi", "b", from_email="")
    with pytest.raises(EmailError, match=r"cannot attach .*missing\.txt"):
        build_message("a@x.org", "Hi", "b", from_email="me@x.org", files=[str(tmp_path / "missing.txt")])


def test_smtp_settings_defaults_and_bad_values_name_the_setting(tmp_path) -> None:
    s = SmtpSettings.from_config(cfg(tmp_path))
    assert (s.host, s.port, s.starttls, s.ssl, s.timeout, s.retry_limit) == ("localhost", 25, False, False, 30.0, 5)
    with pytest.raises(ConfigError, match=r"\[smtp\] smtp_port = 'abc'"):
        SmtpSettings.from_config(cfg(tmp_path, smtp={"smtp_port": "abc"}))
    with pytest.raises(ConfigError, match="smtp_port = 70000 is not a TCP port"):
        SmtpSettings.from_config(cfg(tmp_path, smtp={"smtp_port": "70000"}))
    with pytest.raises(ConfigError, match="both on"):
        SmtpSettings.from_config(cfg(tmp_path, smtp={"smtp_ssl": "True", "smtp_starttls": "True"}))


def test_custom_email_backend_gets_the_config(tmp_path, monkeypatch) -> None:
    (tmp_path / "my_mailer.py").write_text(textwrap.dedent("""
        SENT = []
        def deliver(to, subject, html_content, *, config, **kwargs):
            SENT.append((to, subject, html_content, config.get("smtp", "smtp_host"), kwargs["cc"]))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = cfg(tmp_path, email={"email_backend": "my_mailer.deliver"})
    ConfiguredEmailSender(config)("a@x.org", "S", "B", cc="c@x.org")
    import my_mailer

    assert my_mailer.SENT == [("a@x.org", "S", "B", "localhost", "c@x.org")]
    with pytest.raises(ConfigError, match=r"\[email\] email_backend = 'nope.missing' is not an importable"):
        ConfiguredEmailSender(cfg(tmp_path, email={"email_backend": "nope.missing"}))("a@x.org", "S", "B")


def test_alert_content_matches_airflows_default(tmp_path) -> None:
    class TI(SimpleNamespace):
        def __repr__(self) -> str:
            return "<TaskInstance: d.t run [up_for_retry]>"

    ti = TI(try_number=2, max_tries=3, hostname="worker-1", dag_id="d", task_id="t")
    subject, body = alert_content({"ti": ti, "dag": None}, ValueError("a < b\nline 2"), config=cfg(tmp_path),
                                  log_location="/logs/attempt=2.log")
    assert subject == "Tradewind alert: <TaskInstance: d.t run [up_for_retry]>"
    assert "Try 2 out of 3<br>" in body
    assert "ValueError: a &lt; b<br>line 2" in body
    assert "Log: /logs/attempt=2.log" in body and "Host: worker-1" in body
    with pytest.raises(ConfigError, match="subject_template"):
        alert_content({"ti": ti, "dag": None}, None, log_location="x",
                      config=cfg(tmp_path, email={"subject_template": str(tmp_path / "none.j2")}))


def test_send_email_needs_a_running_task_and_notifiers_render_per_call() -> None:
    with pytest.raises(TradewindException, match="not at DAG-parse time"):
        send_email("a@x.org", "s", "b")
    sent = []
    previous = set_email_sender(lambda to, subject, html, **kw: sent.append((to, subject, html, kw["cc"])))
    try:
        notifier = SmtpNotifier(to="{{ params.owner }}@x.org", subject="{{ run_id }} failed", cc=["ops@x.org"])
        notifier({"params": {"owner": "ann"}, "run_id": "r1", "dag": None, "ti": None})
        notifier({"params": {"owner": "bob"}, "run_id": "r2", "dag": None, "ti": None})
        SmtpNotifier(to="x@x.org")({"run_id": "r3", "dag": None, "ti": None, "reason": "timed_out"})
    finally:
        set_email_sender(previous)
    assert [s[:2] for s in sent[:2]] == [("ann@x.org", "r1 failed"), ("bob@x.org", "r2 failed")]
    assert sent[2][1] == "Tradewind:  (run r3)" and "Reason: timed_out" in sent[2][2]
    assert sent[0][3] == ["ops@x.org"]
    assert notifier.to == "{{ params.owner }}@x.org"  # the instance itself stays a template
    with pytest.raises(ValueError, match="at least one recipient"):
        SmtpNotifier(to=[])
