"""A throwaway MariaDB server for the test session (the MySQL hook's tests run against it).

The server is Debian's ``mariadbd`` (package ``mariadb-server``), its data directory
initialised with ``mariadb-install-db`` in a temp folder, listening on a free localhost
port and a private socket, tuned for speed (no flush per commit), and removed when the
session ends. Under pytest-xdist each worker starts its own server. When the tests run as
root the server runs as the ``mysql`` system user (created by the package) via ``runuser``,
as tests/pg.py does for PostgreSQL.

When the binaries are missing the MariaDB tests are skipped — unless ``CI`` is ``true``,
where a missing server is a failure with the install hint (``scripts/install-services.sh``).

Fixtures (re-exported by ``tests/conftest.py``):

- ``mariadb_server`` (session): the running :class:`MariaDbServer` (``.port``, ``.user``,
  ``.password``, ``.database``, ``.connect()``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from service_support import serve, stop_process, unavailable
from pg import _owner_alive, _owner_stamp, free_port

INSTALL_HINT = "install it with: sudo scripts/install-services.sh (Debian/Ubuntu package 'mariadb-server')"
SERVER_USER = "mysql"  # the OS account the server runs as when we are root
DIR_PREFIX = "tradewind-mariadb-"
OWNER_FILE = "owner"
#: The account and database the tests use (a password, so the hooks' password handling is exercised).
TEST_USER = "tw"
TEST_PASSWORD = "tw-s3cret"
TEST_DATABASE = "tw_test"


class MariaDbUnavailable(RuntimeError):
    """MariaDB server binaries are not installed (or unusable)."""


def _find(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next(
            (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None)
        if found:
            return found
    raise MariaDbUnavailable(f"{' / '.join(names)} not found; {INSTALL_HINT}")


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise MariaDbUnavailable(
            f"running as root, and there is no '{SERVER_USER}' system user to run MariaDB as; {INSTALL_HINT}"
        ) from None
    return [_find("runuser"), "-u", SERVER_USER, "--", *cmd]


@dataclass
class MariaDbServer:
    """One mariadbd process owned by this test process."""

    root: Path
    port: int = 0
    process: subprocess.Popen | None = None
    user: str = TEST_USER
    password: str = TEST_PASSWORD
    database: str = TEST_DATABASE

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @classmethod
    def create(cls) -> "MariaDbServer":
        _find("mariadbd", "mysqld")
        _find("mariadb-install-db", "mysql_install_db")
        root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))  # not pytest's 0700 tree: the mysql user must reach it
        root.chmod(0o755)
        (root / OWNER_FILE).write_text(_owner_stamp(os.getpid()))
        (root / "tmp").mkdir()  # a private tmpdir: concurrent bootstraps in /tmp clash on temp table names
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(SERVER_USER)
            except KeyError:
                shutil.rmtree(root, ignore_errors=True)
                raise MariaDbUnavailable(f"running as root without a '{SERVER_USER}' user; {INSTALL_HINT}") from None
            for path in (root, root / "tmp"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return cls(root=root)

    def start(self, attempts: int = 3) -> None:
        init = subprocess.run(
            _as_server_user([_find("mariadb-install-db", "mysql_install_db"), "--no-defaults",
                             f"--datadir={self.datadir}", f"--tmpdir={self.root / 'tmp'}",
                             "--auth-root-authentication-method=normal",
                             "--skip-test-db", "--skip-name-resolve"]),
            capture_output=True, text=True, cwd="/")
        if init.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed (exit {init.returncode}): {init.stdout}\n{init.stderr}")
        last_error = ""
        for _ in range(attempts):  # another process may grab the port between probe and bind
            self.port = free_port()
            log = self.root / "server.log"
            self.process = subprocess.Popen(
                _as_server_user([_find("mariadbd", "mysqld"), "--no-defaults", f"--datadir={self.datadir}",
                                 f"--tmpdir={self.root / 'tmp'}", f"--port={self.port}",
                                 "--bind-address=127.0.0.1", f"--socket={self.socket}",
                                 f"--pid-file={self.root / 'mariadbd.pid'}", f"--log-error={log}",
                                 "--skip-name-resolve", "--innodb-flush-log-at-trx-commit=0",
                                 "--innodb-buffer-pool-size=32M", "--skip-log-bin"]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
            if self._wait_ready():
                self._create_account()
                return
            last_error = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self._kill()
        raise RuntimeError(f"MariaDB did not start: {last_error}")

    def _wait_ready(self, timeout: float = 60.0) -> bool:
        import pymysql

        deadline = time.monotonic() + timeout
        while self.process is not None and self.process.poll() is None:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2).close()
                return True
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.1)
        return False

    def _create_account(self) -> None:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{self.database}`")
                cur.execute(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'")
                cur.execute(f"GRANT ALL ON *.* TO '{self.user}'@'%'")
        finally:
            conn.close()

    def connect(self, **kwargs):
        """A PyMySQL connection to the test database as the test user."""
        import pymysql

        return pymysql.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                               database=self.database, **kwargs)

    def uri(self) -> str:
        """The Airflow-style connection URI of the test database."""
        return f"mysql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _kill(self) -> None:
        stop_process(self.process, timeout=30)  # runuser forwards SIGTERM to mariadbd, which shuts down cleanly
        self.process = None

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)


def reap_stale_servers() -> int:
    """Stop and delete servers left behind by test processes that died; live sessions' servers stay."""
    reaped = 0
    for owner_file in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*/{OWNER_FILE}"):
        try:
            stamp = owner_file.read_text()
        except OSError:
            continue
        if _owner_alive(stamp):
            continue
        root = owner_file.parent
        pid_file = root / "mariadbd.pid"
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (OSError, ValueError):
            pass  # already dead; the directory is removed below either way
        shutil.rmtree(root, ignore_errors=True)
        reaped += 1
    return reaped


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDbServer]:
    """A running MariaDB server for this test process (skips, or fails under CI=true, when not installed)."""
    reap_stale_servers()
    try:
        server = MariaDbServer.create()
    except MariaDbUnavailable as exc:
        unavailable(f"MariaDB is unavailable: {exc}")
    yield from serve(server)
