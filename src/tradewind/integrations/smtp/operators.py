"""``EmailOperator``: send an email as a task."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.notifications import send_email
from tradewind.integrations.smtp.hooks import SmtpHook

__all__ = ["EmailOperator"]


class EmailOperator(BaseOperator):
    """Sends ``html_content`` (a template; ``.html`` files are read) to ``to``/``cc``/``bcc``.

    With ``conn_id`` the mail goes through that ``smtp`` connection (:class:`SmtpHook`, Airflow 3's
    SMTP provider); without it, through the configured ``[smtp]``/``[email]`` settings, like
    Airflow 2's ``send_email``.
    """

    template_fields = ("to", "from_email", "subject", "html_content", "files", "cc", "bcc")
    template_fields_renderers = {"html_content": "html"}
    template_ext = (".html",)
    ui_color = "#e6faf9"

    def __init__(
        self,
        *,
        to: str | Iterable[str],
        subject: str,
        html_content: str,
        from_email: str | None = None,
        files: list[str] | None = None,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        conn_id: str | None = None,
        custom_headers: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to = to
        self.subject = subject
        self.html_content = html_content
        self.from_email = from_email
        self.files = files or []
        self.cc = cc
        self.bcc = bcc
        self.mime_subtype = mime_subtype
        self.mime_charset = mime_charset
        self.conn_id = conn_id
        self.custom_headers = custom_headers

    def execute(self, context: dict[str, Any]) -> None:
        options = {"files": self.files, "cc": self.cc, "bcc": self.bcc, "mime_subtype": self.mime_subtype,
                   "mime_charset": self.mime_charset, "custom_headers": self.custom_headers}
        if self.conn_id:
            SmtpHook(smtp_conn_id=self.conn_id).send_email_smtp(
                to=self.to, subject=self.subject, html_content=self.html_content, from_email=self.from_email,
                **options)
        else:
            send_email(self.to, self.subject, self.html_content, from_email=self.from_email, **options)
        self.task_logger(context).info("Sent email %r to %s", self.subject, self.to)
