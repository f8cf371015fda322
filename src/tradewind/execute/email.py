"""Email over SMTP: task failure/retry alerts and the sender behind ``send_email``.

* :func:`send_email_smtp` — the default ``[email] email_backend``: builds a MIME message
  (HTML body, attachments, cc/bcc) and delivers it with :mod:`smtplib` using the ``[smtp]``
  settings (Airflow's keys: ``smtp_host``, ``smtp_port``, ``smtp_starttls``, ``smtp_ssl``,
  ``smtp_user``, ``smtp_password``, ``smtp_mail_from``, ``smtp_timeout``,
  ``smtp_retry_limit``).
* :class:`ConfiguredEmailSender` — ``send_email(to, subject, html_content, ...)`` bound to one
  :class:`~tradewind.config.Config`; the runner installs it in the definition layer
  (:func:`tradewind.definition.notifications.set_email_sender`) for each try and DAG callback.
* :func:`send_try_alert` — called by the runner *after* a try's outcome is recorded: a task
  with ``email`` set gets Airflow's alert when the try failed for good
  (``email_on_failure``) or goes up for retry (``email_on_retry``). Delivery problems are
  logged in the task log and never change the outcome.

A custom ``email_backend`` is the dotted path of a function called as
``backend(to, subject, html_content, *, config, files, dryrun, cc, bcc, mime_subtype,
mime_charset, custom_headers, from_email)``.

The MIME, SMTP and HTML modules are imported when a mail is built or sent, not with this
module: every try installs a :class:`ConfiguredEmailSender`, and importing :mod:`email.mime`,
:mod:`smtplib` and :mod:`html` up front cost each forked try ~10 ms before its claim.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tradewind.config import ConfigError
from tradewind.definition.smtp import EmailError as EmailError
from tradewind.definition.smtp import SmtpSettings as BaseSmtpSettings
from tradewind.definition.smtp import build_message, deliver
from tradewind.definition.smtp import split_addresses as split_addresses
from tradewind.execute.logs import TASK_LOGGER
from tradewind.states import TaskInstanceState

log = logging.getLogger(TASK_LOGGER)

#: Airflow's default alert, with the log file's path instead of a web UI link.
DEFAULT_SUBJECT_TEMPLATE = "Tradewind alert: {{ ti }}"
DEFAULT_HTML_TEMPLATE = (
    "Try {{ try_number }} out of {{ max_tries + 1 }}<br>\n"
    "Exception:<br>{{ exception_html }}<br>\n"
    "Log: {{ log_url }}<br>\n"
    "Host: {{ ti.hostname }}<br>\n"
)


class SmtpSettings(BaseSmtpSettings):
    """The ``[smtp]`` section, validated (the fields are :class:`tradewind.definition.smtp.SmtpSettings`)."""

    @classmethod
    def from_config(cls, config: Any) -> "SmtpSettings":
        """Read ``[smtp]``; raises ``ConfigError`` naming a bad setting."""
        settings = cls(
            host=config.get("smtp", "smtp_host", "localhost"),
            port=config.getint("smtp", "smtp_port"),
            starttls=config.getbool("smtp", "smtp_starttls"),
            ssl=config.getbool("smtp", "smtp_ssl"),
            user=config.get("smtp", "smtp_user", ""),
            password=config.get("smtp", "smtp_password", ""),
            mail_from=config.get("smtp", "smtp_mail_from", ""),
            timeout=config.getfloat("smtp", "smtp_timeout"),
            retry_limit=config.getint("smtp", "smtp_retry_limit"),
        )
        if not 0 < settings.port < 65536:
            raise ConfigError(f"setting [smtp] smtp_port = {settings.port} is not a TCP port (1-65535)")
        if settings.retry_limit < 1:
            raise ConfigError(f"setting [smtp] smtp_retry_limit = {settings.retry_limit} must be at least 1")
        if settings.ssl and settings.starttls:
            raise ConfigError("settings [smtp] smtp_ssl and smtp_starttls are both on; choose one")
        return settings


def send_email_smtp(
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    *,
    config: Any,
    files: Iterable[str] | None = None,
    dryrun: bool = False,
    cc: str | Iterable[str] | None = None,
    bcc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    custom_headers: dict[str, Any] | None = None,
    from_email: str | None = None,
    **_ignored: Any,
) -> None:
    """Build the message and deliver it through the ``[smtp]`` server (nothing sent if ``dryrun``)."""
    settings = SmtpSettings.from_config(config)
    sender = from_email or config.get("email", "from_email", "") or settings.mail_from
    msg, recipients = build_message(to, subject, html_content, from_email=sender, files=files, cc=cc, bcc=bcc,
                                    mime_subtype=mime_subtype, mime_charset=mime_charset,
                                    custom_headers=custom_headers)
    if dryrun:
        return
    deliver(settings, sender, recipients, msg.as_string())


class ConfiguredEmailSender:
    """``send_email`` for one configuration: calls ``[email] email_backend`` with ``config=``."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def backend(self) -> Any:
        path = self.config.get("email", "email_backend", "") or f"{__name__}.send_email_smtp"
        module_name, _, attr = path.rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"setting [email] email_backend = {path!r} is not an importable function: {exc}") from None

    def __call__(self, to: Any, subject: str, html_content: str, **kwargs: Any) -> None:
        self.backend()(to, subject, html_content, config=self.config, **kwargs)


# --------------------------------------------------------------------------- task alerts
def _template(config: Any, key: str, default: str) -> str:
    path = config.get("email", key, "")
    if not path:
        return default
    try:
        return Path(os.path.expanduser(path)).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"setting [email] {key} = {path!r}: cannot read the template ({exc.strerror or exc})") from None


def alert_content(context: dict[str, Any], exception: BaseException | None, *, config: Any,
                  log_location: str) -> tuple[str, str]:
    """Subject and HTML body of a task's failure/retry alert (Airflow's template variables).

    Templates see the task context plus ``exception``, ``exception_html``, ``try_number``,
    ``max_tries`` (Airflow's meaning: the retries, so "out of ``max_tries + 1``") and
    ``log_url`` (the try's log file).
    """
    import html

    from tradewind.definition.templating import make_jinja_env

    ti = context["ti"]
    text = "" if exception is None else (f"{type(exception).__name__}: {exception}" if str(exception)
                                         else type(exception).__name__)
    extra = {
        "exception": exception,
        "exception_html": html.escape(text).replace("\n", "<br>"),
        "try_number": ti.try_number,
        "max_tries": max(int(ti.max_tries or 1) - 1, 0),
        "log_url": log_location,
    }
    env = make_jinja_env(context.get("dag"), native=False)
    full = {**context, **extra}
    subject = env.from_string(_template(config, "subject_template", DEFAULT_SUBJECT_TEMPLATE)).render(full)
    body = env.from_string(_template(config, "html_content_template", DEFAULT_HTML_TEMPLATE)).render(full)
    return subject.strip(), body


def send_try_alert(task: Any, context: dict[str, Any], state: TaskInstanceState,
                   exception: BaseException | None, *, config: Any, log_location: str) -> bool:
    """Email the task's ``email`` addresses about a failed / up-for-retry try, if it asks for it.

    Returns True when a mail was sent. Errors are logged (naming the SMTP server and the
    recipients) and swallowed: the outcome is already recorded and must not change.
    """
    recipients = getattr(task, "email", None)
    if not recipients:
        return False
    if state is TaskInstanceState.FAILED and getattr(task, "email_on_failure", True):
        kind = "failure"
    elif state is TaskInstanceState.UP_FOR_RETRY and getattr(task, "email_on_retry", True):
        kind = "retry"
    else:
        return False
    try:
        subject, body = alert_content(context, exception, config=config, log_location=log_location)
        ConfiguredEmailSender(config)(recipients, subject, body)
    except Exception as exc:  # noqa: BLE001 - a broken mail setup must not change the task's state
        log.error("Could not send the %s email to %s: %s (the task's state is unchanged; check the [smtp] "
                  "and [email] settings)", kind, _shown(recipients), exc)
        return False
    log.info("Sent the %s email to %s", kind, _shown(recipients))
    return True


def _shown(recipients: Any) -> str:
    return recipients if isinstance(recipients, str) else ", ".join(map(str, recipients))
