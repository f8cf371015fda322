"""A throwaway OpenSSH ``sshd`` for tests (the ssh and sftp providers' end-to-end tests).

:class:`SshServer` runs Debian's real ``/usr/sbin/sshd`` in the foreground on a free localhost port,
with its own config, a host key and one client key generated for the test session in a private
temp directory. It logs in only the user running the tests, only with that key (no passwords, no
PAM), and serves SFTP with the built-in ``internal-sftp`` (no dependency on the sftp-server path).

A missing ``sshd`` or ``ssh-keygen`` skips the tests locally and fails them under ``CI=true``
(``scripts/install-services.sh`` installs ``openssh-server``).

Fixture (import it into a test module or conftest):

- ``sshd_server`` (session): the running :class:`SshServer`.
"""

from __future__ import annotations

import getpass
import os
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

INSTALL_HINT = "install it with: sudo scripts/install-services.sh (Debian/Ubuntu package 'openssh-server')"
SSHD = "/usr/sbin/sshd"


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tradewind-test", "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass
class SshServer:
    """One ``sshd`` process; ``client_key`` is the private key it accepts for :attr:`user`."""

    binary: str
    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tradewind-sshd-")))
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen[bytes] | None = None

    @property
    def client_key(self) -> Path:
        return self.workdir / "client_ed25519"

    @property
    def host_key(self) -> Path:
        return self.workdir / "host_ed25519"

    @property
    def log_path(self) -> Path:
        return self.workdir / "sshd.log"

    def host_public_key(self) -> str:
        """The host key's public half, ``<type> <base64>`` (what a known_hosts line pins)."""
        kind, blob = (self.host_key.with_suffix(".pub")).read_text().split()[:2]
        return f"{kind} {blob}"

    def connection_json(self, **extra: object) -> str:
        """The value of a ``TRADEWIND_CONN_<ID>`` / ``AIRFLOW_CONN_<ID>`` variable for an ssh connection."""
        import json

        return json.dumps({"conn_type": "ssh", "host": "127.0.0.1", "port": self.port, "login": self.user,
                           "extra": {"key_file": str(self.client_key), **extra}})

    def _write_config(self) -> Path:
        config = self.workdir / "sshd_config"
        # StrictModes off: the temp dir and keys belong to the test user but its parents may be
        # group-writable (/tmp). PermitRootLogin: the tests may run as root (containers).
        config.write_text("\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
            f"AllowUsers {self.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "AcceptEnv E2E_*",  # the ssh tests pass environment variables
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "",
        ]))
        return config

    def start(self, timeout: float = 20.0) -> None:
        for key in (self.host_key, self.client_key):
            if not key.exists():
                _keygen(key)
        shutil.copyfile(self.client_key.with_suffix(".pub"), self.workdir / "authorized_keys")
        if os.geteuid() == 0:
            # sshd started by root chroots its pre-auth child into this directory (Debian's
            # systemd unit creates it; in a container nothing has).
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        config = self._write_config()
        # -D: stay in the foreground (a child we can stop); -e plus -E: log to our file.
        self.process = subprocess.Popen(
            [self.binary, "-D", "-e", "-f", str(config), "-E", str(self.log_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited with code {self.process.returncode}: {self.log_tail()}")
            if self.banner().startswith("SSH-2.0-"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not answer on port {self.port} within {timeout:g}s: {self.log_tail()}")

    def banner(self) -> str:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(64).decode("ascii", "replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no sshd log)"

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def _server_or_skip() -> SshServer:
    if not Path(SSHD).exists():
        unavailable(f"sshd is not installed; {INSTALL_HINT}")
    if shutil.which("ssh-keygen") is None:
        unavailable(f"ssh-keygen is not installed; {INSTALL_HINT}")
    return SshServer(SSHD)


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshServer]:
    server = _server_or_skip()
    try:
        yield from serve(server)
    finally:
        shutil.rmtree(server.workdir, ignore_errors=True)
