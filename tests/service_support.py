"""What the session fixtures of the test services (PostgreSQL, MariaDB, the S3 server, chromium)
share: a missing service skips its tests locally and fails them under ``CI=true``, and a started
server is stopped at the end of the session even when the session ends abnormally."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM a server process started by the tests, SIGKILL it after ``timeout`` seconds; reaped."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def unavailable(message: str) -> NoReturn:
    """Skip (locally) or fail (under CI=true, where every service must be there)."""
    if in_ci():
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


def serve(server: Any, *, start: bool = True) -> Iterator[Any]:
    """Yield ``server`` (calling ``server.start()`` first unless ``start=False``) and stop it after."""
    atexit.register(server.stop)  # belt and braces: an abnormal end of the session
    try:
        if start:
            server.start()
        yield server
    finally:
        server.stop()
