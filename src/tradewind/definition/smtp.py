"""Building and sending an email over SMTP, shared by the task alerts of the execute layer
(:mod:`tradewind.execute.email`, ``[smtp]`` settings) and the SMTP hook of the integrations
(:mod:`tradewind.integrations.smtp`, an ``smtp`` connection) — the one module both may import.

Pure standard library. The MIME and SMTP modules are imported when a mail is built or sent,
not with this module: every task try imports the email sender, and importing :mod:`email.mime`
and :mod:`smtplib` up front would cost each forked try time before its claim.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradewind.definition.exceptions import TradewindException

if TYPE_CHECKING:
    import smtplib
    from email.mime.multipart import MIMEMultipart

__all__ = ["EmailError", "SmtpSettings", "build_message", "connect", "deliver", "split_addresses"]


class EmailError(TradewindException):
    """An email could not be built or sent; the message says what and where."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to deliver: server, encryption, credentials, sender, timeout and tries."""

    host: str
    port: int
    starttls: bool
    ssl: bool
    user: str
    password: str
    mail_from: str
    timeout: float
    retry_limit: int


def split_addresses(value: str | Iterable[str] | None) -> list[str]:
    """Addresses from one string (``,`` or ``;`` separated) or a list of them."""
    if not value:
        return []
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise EmailError(f"email address {item!r} is not a string")
        out.extend(part.strip() for part in item.replace(";", ",").split(",") if part.strip())
    return out


def build_message(
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    *,
    from_email: str,
    files: Iterable[str] | None = None,
    cc: str | Iterable[str] | None = None,
    bcc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    custom_headers: dict[str, Any] | None = None,
) -> tuple[MIMEMultipart, list[str]]:
    """The MIME message and every recipient (to + cc + bcc; bcc is not in the headers)."""
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import formatdate

    to_list, cc_list, bcc_list = split_addresses(to), split_addresses(cc), split_addresses(bcc)
    if not to_list:
        raise EmailError(f"email {subject!r} has no recipient in 'to'")
    if not from_email:
        raise EmailError("no sender address: set [smtp] smtp_mail_from (or [email] from_email)")
    msg = MIMEMultipart(mime_subtype)
    msg["Subject"] = subject
    msg["From"] = from_email
    msg["To"] = ", ".join(to_list)
    if cc_list:
        msg["CC"] = ", ".join(cc_list)
    msg["Date"] = formatdate(localtime=True)
    for name, value in (custom_headers or {}).items():
        msg[name] = str(value)
    msg.attach(MIMEText(html_content, "html", mime_charset))
    for file in files or ():
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EmailError(f"cannot attach {path} to email {subject!r}: {exc.strerror or exc}") from None
        part = MIMEApplication(data, Name=path.name)
        part["Content-Disposition"] = f'attachment; filename="{path.name}"'
        msg.attach(part)
    return msg, to_list + cc_list + bcc_list


def deliver(settings: SmtpSettings, sender: str, recipients: list[str], message: str) -> None:
    """Send one message; a connection the server drops is retried up to ``retry_limit`` times."""
    import smtplib

    where = f"{settings.host}:{settings.port}"
    for attempt in range(1, settings.retry_limit + 1):
        try:
            conn = connect(settings)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
            if attempt == settings.retry_limit:
                raise EmailError(f"SMTP server {where} dropped the connection {attempt} times: {exc}") from None
            continue
        except OSError as exc:
            raise EmailError(f"cannot connect to SMTP server {where}: {exc.strerror or exc}") from None
        try:
            if settings.user and settings.password:
                conn.login(settings.user, settings.password)
            conn.sendmail(sender, recipients, message)
        except smtplib.SMTPException as exc:
            raise EmailError(f"SMTP server {where} refused the email: {exc}") from None
        finally:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()
        return


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An open SMTP client (SSL from the start, or STARTTLS after connecting, as the settings say)."""
    import smtplib
    import ssl

    if settings.ssl:
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                context=ssl.create_default_context())
    conn = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    if settings.starttls:
        conn.starttls(context=ssl.create_default_context())
    return conn
