"""``SmtpHook``: send email through the server of an ``smtp`` connection (Airflow's SMTP provider).

Connection fields: ``host``, ``port``, ``login``/``password``; ``extra`` keys ``from_email``
(the default sender), ``disable_ssl`` and ``disable_tls`` (as Airflow, SSL is on unless
disabled; STARTTLS is used when SSL is off and TLS is not disabled), ``timeout`` (seconds,
default 30) and ``retry_limit`` (connection attempts, default 5), ``subject_template`` and
``html_content_template`` (paths of files used when ``send_email_smtp`` gets no subject / body).
Without a port: 465 with SSL, else 587 with STARTTLS, else 25.

``send_email_smtp`` takes the real provider's keyword arguments, including the ``smtp_conn_id``
its ``SmtpNotifier`` passes (the hook's own connection is used, as in Airflow); ``asend_email_smtp``
and ``async with`` run the same delivery in a worker thread, for notifiers called asynchronously.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tradewind.definition.hooks import BaseHook
from tradewind.definition.smtp import EmailError, SmtpSettings, build_message, connect, deliver

if TYPE_CHECKING:
    import smtplib

__all__ = ["SmtpHook"]


def _flag(extra: dict[str, Any], key: str, conn_id: str) -> bool:
    value = extra.get(key, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise EmailError(f"connection {conn_id!r}: extra {key!r} must be true or false, got {value!r}")
    return value


class SmtpHook(BaseHook):
    """SMTP client configured by connection ``smtp_conn_id``; use as a context manager or call
    :meth:`send_email_smtp` directly."""

    conn_name_attr: ClassVar[str] = "smtp_conn_id"
    default_conn_name: ClassVar[str] = "smtp_default"
    conn_type: ClassVar[str] = "smtp"
    hook_name: ClassVar[str] = "SMTP"

    def __init__(self, smtp_conn_id: str = default_conn_name, auth_type: str = "basic") -> None:
        super().__init__()
        if auth_type != "basic":
            raise EmailError(f"SmtpHook auth_type {auth_type!r} is not supported; only 'basic' (login/password)")
        self.smtp_conn_id = smtp_conn_id
        self.smtp_client: smtplib.SMTP | None = None

    def settings(self) -> SmtpSettings:
        """The connection read into delivery settings; bad extras are named."""
        conn = self.get_connection(self.smtp_conn_id)
        extra = conn.extra_dejson
        cid = self.smtp_conn_id
        use_ssl = not _flag(extra, "disable_ssl", cid)
        starttls = not use_ssl and not _flag(extra, "disable_tls", cid)
        try:
            timeout = float(extra.get("timeout", 30))
            retry_limit = int(extra.get("retry_limit", 5))
        except (TypeError, ValueError):
            raise EmailError(f"connection {cid!r}: extra timeout/retry_limit must be numbers, got "
                             f"{extra.get('timeout')!r}/{extra.get('retry_limit')!r}") from None
        if retry_limit < 1:
            raise EmailError(f"connection {cid!r}: extra retry_limit must be at least 1, got {retry_limit}")
        if not conn.host:
            raise EmailError(f"connection {cid!r} has no host (the SMTP server)")
        return SmtpSettings(host=conn.host, port=conn.port or (465 if use_ssl else 587 if starttls else 25),
                            starttls=starttls, ssl=use_ssl, user=conn.login or "", password=conn.password or "",
                            mail_from=str(extra.get("from_email") or ""), timeout=timeout, retry_limit=retry_limit)

    @property
    def from_email(self) -> str | None:
        """The connection's ``from_email`` extra, ``None`` when unset (the notifier then refuses)."""
        return self.settings().mail_from or None

    @property
    def subject_template(self) -> str | None:
        return self.get_connection(self.smtp_conn_id).extra_dejson.get("subject_template")

    @property
    def html_content_template(self) -> str | None:
        return self.get_connection(self.smtp_conn_id).extra_dejson.get("html_content_template")

    @staticmethod
    def _read_template(template_path: str) -> str:
        """A template file's text on one line, as the provider reads it."""
        try:
            return Path(template_path).read_text().replace("\n", "").strip()
        except OSError as exc:
            raise EmailError(f"cannot read SMTP template file {template_path!r}: {exc}") from None

    def get_conn(self) -> "smtplib.SMTP":
        """An open, logged-in SMTP client (kept as ``self.smtp_client`` until :meth:`close`)."""
        settings = self.settings()
        try:
            client = connect(settings)
            if settings.user and settings.password:
                client.login(settings.user, settings.password)
        except OSError as exc:
            raise EmailError(f"cannot connect to SMTP server {settings.host}:{settings.port}: {exc}") from None
        self.smtp_client = client
        return client

    def close(self) -> None:
        if self.smtp_client is not None:
            import smtplib

            try:
                self.smtp_client.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp_client.close()
            self.smtp_client = None

    def __enter__(self) -> "SmtpHook":
        self.get_conn()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def aget_conn(self) -> "SmtpHook":
        await asyncio.to_thread(self.get_conn)
        return self

    async def __aenter__(self) -> "SmtpHook":
        return await self.aget_conn()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
            status = client.noop()[0]
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            self.close()
        return (status == 250), f"SMTP server answered NOOP with {status}"

    def send_email_smtp(
        self,
        *,
        to: str | Iterable[str],
        subject: str | None = None,
        html_content: str | None = None,
        from_email: str | None = None,
        files: Iterable[str] | None = None,
        dryrun: bool = False,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        custom_headers: dict[str, Any] | None = None,
        smtp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Build the message and send it (nothing is sent with ``dryrun``); retries a dropped connection.

        Without ``subject`` / ``html_content`` the connection's ``subject_template`` /
        ``html_content_template`` files are read. ``smtp_conn_id`` and other keyword arguments are
        accepted as the provider's hook does (its notifier passes its connection id); the hook's own
        connection is used, and a different id or an unknown argument is noted in the log.
        """
        if smtp_conn_id is not None and smtp_conn_id != self.smtp_conn_id:
            self.log.warning("send_email_smtp(smtp_conn_id=%r) ignored: this hook sends through connection %r, "
                             "as Airflow's SmtpHook does", smtp_conn_id, self.smtp_conn_id)
        if kwargs:
            self.log.warning("send_email_smtp() ignored the arguments %s, as Airflow's SmtpHook does",
                             ", ".join(sorted(kwargs)))
        settings = self.settings()
        sender = from_email or settings.mail_from
        if not sender:
            raise EmailError(f"no sender address: pass from_email or set extra from_email on connection "
                             f"{self.smtp_conn_id!r}")
        subject = subject or self._template_or_fail("subject_template", "subject")
        html_content = html_content or self._template_or_fail("html_content_template", "html_content")
        msg, recipients = build_message(to, subject, html_content, from_email=sender, files=files, cc=cc, bcc=bcc,
                                        mime_subtype=mime_subtype, mime_charset=mime_charset,
                                        custom_headers=custom_headers)
        if dryrun:
            return
        if self.smtp_client is not None:
            self.smtp_client.sendmail(sender, recipients, msg.as_string())
        else:
            deliver(settings, sender, recipients, msg.as_string())
        self.log.info("Sent an email to %s via %s:%s", ", ".join(recipients), settings.host, settings.port)

    async def asend_email_smtp(self, **kwargs: Any) -> None:
        """:meth:`send_email_smtp` in a worker thread (the provider's async path, used by async notifiers)."""
        await asyncio.to_thread(lambda: self.send_email_smtp(**kwargs))

    def _template_or_fail(self, extra_key: str, argument: str) -> str:
        path = self.get_connection(self.smtp_conn_id).extra_dejson.get(extra_key)
        if not path:
            raise EmailError(f"send_email_smtp: pass {argument} or set extra {extra_key!r} on connection "
                             f"{self.smtp_conn_id!r}")
        return self._read_template(str(path))
