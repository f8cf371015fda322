"""Local servers for the provider end-to-end tests, beside the ones in ``tests/`` (pg, mariadb,
redis_server, s3server, sshd).

:class:`RecordingHttpServer` is a real HTTP server on a free localhost port, in a thread of the
test process: it answers every POST with a fixed status and body (Slack's incoming-webhook
answer is ``200`` with the body ``ok``) and records each request (method, path, headers, body),
so a test can assert what a task in another process sent.

Fixtures (import them into a test module):

- ``webhook_server`` (function): a running :class:`RecordingHttpServer`, stopped after the test.
- ``sshd_server`` (session): re-exported from ``tests/sshd.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sshd import sshd_server  # noqa: F401 - re-exported fixture


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class RecordingHttpServer:
    """Records requests; answers ``status``/``reply`` (changeable between requests)."""

    status: int = 200
    reply: bytes = b"ok"
    requests: list[RecordedRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with recorder._lock:
                    recorder.requests.append(RecordedRequest(
                        self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(recorder.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(recorder.reply)))
                self.end_headers()
                self.wfile.write(recorder.reply)

            do_POST = do_PUT = do_GET = _record

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class name
                pass  # the recorded requests are the log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-recorder", daemon=True)
        self._thread.start()

    def received(self, timeout: float = 5.0) -> list[RecordedRequest]:
        """The requests so far (waiting up to ``timeout`` s for at least one)."""
        deadline = time.monotonic() + timeout
        while not self.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            return list(self.requests)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def webhook_server() -> Iterator[RecordingHttpServer]:
    server = RecordingHttpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
