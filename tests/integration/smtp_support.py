"""A real local SMTP server (aiosmtpd) for email tests: it keeps every message it receives."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Iterator

from aiosmtpd.controller import Controller
from service_support import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    def attachments(self) -> dict[str, bytes]:
        return {p.get_filename(): p.get_payload(decode=True) for p in self.message.iter_attachments()}


class SmtpSink:
    """aiosmtpd handler: stores each delivered message."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def running_smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    """``(sink, port)``: an SMTP server on 127.0.0.1 until the generator is closed (fixture body)."""
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def smtp_config(config: Any, port: int, **smtp: str) -> Any:
    """``config`` (same home and database) pointed at the test SMTP server on ``port``."""
    from tradewind.config import Config

    overrides = {"core": {"load_examples": "False"},
                 "smtp": {"smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_timeout": "10", **smtp}}
    return Config.load(home=config.home, environ={}, overrides=overrides)
