"""A real local S3-compatible server for the test session: moto's standalone server process.

``moto_server`` (from ``moto[server]``, in the dev extra) is started as a child process on a
free localhost port; the code under test reaches it only through boto3 over HTTP with the
connection's ``endpoint_url`` — nothing in-process is patched. Under pytest-xdist each worker
starts its own server.

Fixtures (re-exported by ``tests/conftest.py``):

- ``s3_server`` (session): the running :class:`S3Server`.
- ``s3`` (function): the same server emptied for the test (moto's reset endpoint), with the
  ``aws_default`` connection pointing at it (``TRADEWIND_CONN_AWS_DEFAULT``, Airflow's extra
  keys ``endpoint_url``/``region_name``).

When ``moto[server]`` or boto3 is not installed the S3 tests are skipped — unless ``CI`` is
``true``, where that is a failure with the install hint.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec

import pytest
from service_support import free_port, serve, stop_process, unavailable

INSTALL_HINT = "install the dev extra: .venv/bin/pip install -e '.[dev]' (moto[server] and boto3)"
ACCESS_KEY = "tradewind-test-key"
SECRET_KEY = "tradewind-test-secret"
REGION = "eu-west-1"


@dataclass
class S3Server:
    """A running ``moto_server`` process and how to reach it."""

    port: int
    process: subprocess.Popen
    log_path: str

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection_json(self, **extra: str) -> str:
        """The value of a ``TRADEWIND_CONN_<ID>`` variable for an ``aws`` connection to this server."""
        return json.dumps({"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
                           "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION, **extra}})

    def client(self):
        """A plain boto3 client for arranging and checking state independently of the hook."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def reset(self) -> None:
        """Forget every bucket and object (moto's reset endpoint)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log_tail(self, chars: int = 2000) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-chars:]

    def stop(self) -> None:
        stop_process(self.process)

    @classmethod
    def start(cls) -> "S3Server":
        port = free_port()
        # The server logs every request: to a file, so a full pipe never blocks it.
        log = tempfile.NamedTemporaryFile(prefix="tradewind-moto-", suffix=".log", delete=False)
        atexit.register(os.unlink, log.name)
        with log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        server = cls(port=port, process=process, log_path=log.name)
        deadline = time.monotonic() + 60
        while not server.ready():
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}: "
                                   f"{server.log_tail()}")
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"moto_server did not answer on port {port} within 60 s")
            time.sleep(0.05)
        return server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A running moto S3 server for this test process (skips or fails when not installed)."""
    missing = [name for name in ("moto", "flask", "boto3") if find_spec(name) is None]
    if missing:
        unavailable(f"S3 test server unavailable: {', '.join(missing)} not installed; {INSTALL_HINT}")
    yield from serve(S3Server.start(), start=False)


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The session's S3 server, emptied, with ``aws_default`` pointing at it."""
    s3_server.reset()
    monkeypatch.setenv("TRADEWIND_CONN_AWS_DEFAULT", s3_server.connection_json())
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    return s3_server
