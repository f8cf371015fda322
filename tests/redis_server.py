"""A throwaway ``redis-server`` for tests (the Celery broker and worker registry).

:class:`RedisServer` runs the real server on a free localhost port with persistence off
(``--save '' --appendonly no``) in a private temp directory; ``restart()`` stops and starts it
on the same port (a broker outage in the middle of a run). A missing ``redis-server`` skips
the tests locally and fails them under ``CI=true`` (``scripts/install-services.sh`` installs it).

Fixtures (import them into a test module or conftest):

- ``redis_server`` (session): the running :class:`RedisServer`.
- ``redis_url`` (function): ``redis://127.0.0.1:<port>/<n>`` on a database flushed for the test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from service_support import free_port, serve, stop_process, unavailable

INSTALL_HINT = "install it with: sudo scripts/install-services.sh (Debian/Ubuntu package 'redis-server')"


@dataclass
class RedisServer:
    """One ``redis-server`` process; ``url(db)`` addresses one of its numbered databases."""

    binary: str
    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tradewind-redis-")))
    process: subprocess.Popen[bytes] | None = None
    #: Extra address to listen on besides 127.0.0.1 (the distributed tests' lab bridge).
    also_bind: str | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 20.0) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *([self.also_bind] if self.also_bind else []),
             "--save", "", "--appendonly", "no", "--protected-mode", "no",
             "--dir", str(self.workdir), "--databases", "64"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.process.returncode} on port {self.port}")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout:g}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port (queued messages are lost: no persistence)."""
        self.stop()
        self.start()

    def flush(self, db: int) -> None:
        import redis

        redis.Redis.from_url(self.url(db)).flushdb()


def _server_or_skip() -> RedisServer:
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if binary is None:
        unavailable(f"redis-server is not installed; {INSTALL_HINT}")
    return RedisServer(binary)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = _server_or_skip()
    try:
        yield from serve(server)
    finally:
        shutil.rmtree(server.workdir, ignore_errors=True)


_next_db = iter(range(1, 64))


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A URL on a numbered database of the session's server, empty for this test (db 0 is left
    to tests that restart the server)."""
    db = next(_next_db, None)
    if db is None:
        db = 1
    redis_server.flush(db)
    return redis_server.url(db)
