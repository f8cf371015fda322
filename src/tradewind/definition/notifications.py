"""Email for DAG authors: ``send_email`` and notifiers usable as callbacks.

``send_email(to, subject, html_content, ...)`` is Airflow's ``airflow.utils.email.send_email``.
Sending needs the ``[smtp]``/``[email]`` settings, which the definition layer never reads:
the task runner (and the DAG-callback runner) installs a sender bound to its configuration
with :func:`set_email_sender` for the time of a try or callback, so ``send_email`` works in
tasks, callbacks and notifiers, and raises a clear error anywhere else (e.g. at parse time).

Notifiers (Airflow's ``BaseNotifier``) are callables taking the context, so they can be
given wherever a callback is accepted::

    DAG(..., on_failure_callback=SmtpNotifier(to="team@example.com"))
    BashOperator(..., on_retry_callback=send_smtp_notification(to=["a@x.org"], subject="{{ ti.task_id }}"))

Their ``template_fields`` are rendered with the callback's context before ``notify`` runs.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable, Iterable
from typing import Any

from tradewind.definition.exceptions import TradewindException

__all__ = [
    "BaseNotifier",
    "SmtpNotifier",
    "send_email",
    "send_smtp_notification",
    "set_email_sender",
]

#: ``sender(to, subject, html_content, **kwargs)``; installed by the execute layer.
EmailSender = Callable[..., Any]

_sender: EmailSender | None = None


def set_email_sender(sender: EmailSender | None) -> EmailSender | None:
    """Install the function :func:`send_email` delegates to; returns the previous one."""
    global _sender
    previous, _sender = _sender, sender
    return previous


def send_email(
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    files: list[str] | None = None,
    dryrun: bool = False,
    cc: str | Iterable[str] | None = None,
    bcc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    custom_headers: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Send an email with the configured backend (``[email] email_backend``, SMTP by default).

    ``to``/``cc``/``bcc``: one address, a comma/semicolon separated string, or a list.
    ``files``: paths attached to the message. ``dryrun``: build the message, do not send.
    Raises :class:`TradewindException` outside a running task or callback, and whatever
    the backend raises when the mail cannot be delivered.
    """
    if _sender is None:
        raise TradewindException(
            "send_email() was called where no email settings are available: it works inside a "
            "running task, a task/DAG callback or a notifier (the runner provides the [smtp] "
            "settings), not at DAG-parse time"
        )
    _sender(to, subject, html_content, files=files, dryrun=dryrun, cc=cc, bcc=bcc,
            mime_subtype=mime_subtype, mime_charset=mime_charset, custom_headers=custom_headers, **kwargs)


class BaseNotifier(abc.ABC):
    """A callback object: render ``template_fields`` with the context, then :meth:`notify`.

    Subclasses set ``template_fields`` and implement ``notify(context)``. Each call works
    on a copy, so one notifier instance can serve many tasks and runs.
    """

    template_fields: tuple[str, ...] = ()
    template_ext: tuple[str, ...] = ()

    @property
    def log(self) -> Any:
        """A logger named after the class (Airflow's notifiers log through ``self.log``)."""
        import logging

        return logging.getLogger(f"tradewind.notifiers.{type(self).__name__}")

    def render_template_fields(self, context: dict[str, Any], jinja_env: Any = None) -> None:
        """Render each template field in place with ``context`` (the DAG's Jinja environment)."""
        from tradewind.definition import templating

        if jinja_env is None:
            jinja_env = templating.make_jinja_env(context.get("dag"))
        for name in self.template_fields:
            value = getattr(self, name)
            setattr(self, name, templating.render_value(value, context, jinja_env, template_ext=self.template_ext))

    def get_template_env(self, dag: Any = None) -> Any:
        """The DAG's Jinja environment (Airflow's Templater method; the smtp provider's notifier calls it)."""
        from tradewind.definition import templating

        return templating.make_jinja_env(dag)

    def _do_render_template_fields(self, parent: Any, template_fields: Any, context: dict[str, Any],
                                   jinja_env: Any, seen_oids: Any) -> None:
        """Render ``template_fields`` of ``parent`` in place (Airflow's Templater method, which
        provider notifiers call to render fields they filled in themselves)."""
        from tradewind.definition import templating

        for name in template_fields:
            value = getattr(parent, name)
            setattr(parent, name, templating.render_value(value, context, jinja_env,
                                                          template_ext=getattr(parent, "template_ext", ())))

    @abc.abstractmethod
    def notify(self, context: dict[str, Any]) -> None:
        """Send the notification; ``context`` is the task's or DAG run's callback context."""

    def __call__(self, context: dict[str, Any]) -> None:
        rendered = copy.copy(self)
        rendered.render_template_fields(context)
        rendered.notify(context)


#: The subject and body :class:`SmtpNotifier` uses when none are given.
DEFAULT_NOTIFIER_SUBJECT = (
    "Tradewind: {% if ti %}{{ ti.dag_id }}.{{ ti.task_id }} {{ ti.state }}{% elif dag %}{{ dag.dag_id }}{% endif %}"
    " (run {{ run_id }})"
)
DEFAULT_NOTIFIER_HTML = (
    "{% if dag %}DAG: {{ dag.dag_id }}<br>\n{% endif %}"
    "Run: {{ run_id }}<br>\n"
    "{% if ti %}Task: {{ ti.task_id }} (try {{ ti.try_number }}), state {{ ti.state }}<br>\n"
    "Host: {{ ti.hostname }}<br>\n{% endif %}"
    "{% if reason is defined and reason %}Reason: {{ reason }}<br>\n{% endif %}"
    "{% if exception is defined and exception %}Exception:<br>{{ exception | string | e }}<br>\n{% endif %}"
)


class SmtpNotifier(BaseNotifier):
    """Send an email through the configured SMTP settings (Airflow's ``SmtpNotifier``).

    ``subject`` and ``html_content`` are templates (defaults name the DAG, run, task and
    state); ``to``, ``cc``, ``bcc``, ``from_email`` and ``files`` are templated too.
    """

    template_fields = ("from_email", "to", "subject", "html_content", "files", "cc", "bcc",
                       "mime_subtype", "mime_charset", "custom_headers")

    def __init__(
        self,
        to: str | Iterable[str],
        from_email: str | None = None,
        subject: str | None = None,
        html_content: str | None = None,
        files: list[str] | None = None,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        custom_headers: dict[str, Any] | None = None,
    ) -> None:
        if not to:
            raise ValueError("SmtpNotifier needs at least one recipient in 'to'")
        self.to = to if isinstance(to, str) else list(to)
        self.from_email = from_email
        self.subject = subject or DEFAULT_NOTIFIER_SUBJECT
        self.html_content = html_content or DEFAULT_NOTIFIER_HTML
        self.files = files
        self.cc = cc
        self.bcc = bcc
        self.mime_subtype = mime_subtype
        self.mime_charset = mime_charset
        self.custom_headers = custom_headers

    def notify(self, context: dict[str, Any]) -> None:
        extra = {"from_email": self.from_email} if self.from_email else {}
        send_email(self.to, self.subject, self.html_content, files=self.files, cc=self.cc, bcc=self.bcc,
                   mime_subtype=self.mime_subtype, mime_charset=self.mime_charset,
                   custom_headers=self.custom_headers, **extra)


#: Airflow's function-style name for the SMTP notifier.
send_smtp_notification = SmtpNotifier
