"""A throwaway PostgreSQL server for the test session, and fixtures built on it.

The server is a real ``postgres`` from the Debian package (found under
``/usr/lib/postgresql/*/bin`` or on PATH), initialised in a temp directory,
listening on a free localhost port, tuned for speed (no fsync), and removed
when the session ends. Under pytest-xdist each worker starts its own server
(no cross-process coordination to go wrong; startup is about a second).

PostgreSQL refuses to run as root, so when the tests run as root the server
runs as the ``postgres`` system user (created by the Debian package) via
``runuser``; the data directory is created outside pytest's private temp tree
and chowned to that user.

``TRADEWIND_TEST_PG_BINDIR`` overrides where the binaries are looked for.
When the binaries are missing the PostgreSQL tests are skipped — unless the
environment variable ``CI`` is ``true``, where a missing server is a failure
with the install hint (``scripts/install-services.sh``).

Fixtures (re-exported by ``tests/conftest.py``):

- ``pg_server`` (session): the running :class:`PgServer`.
- ``pg_url`` (session): URL of an empty database on it, owned by the test user.
- ``pg_template`` (session): name of a migrated template database.
- ``pg_db`` (function): a :class:`Database` on a fresh, migrated database
  (``CREATE DATABASE ... TEMPLATE``), dropped after the test.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from service_support import free_port, serve, unavailable

INSTALL_HINT = "install it with: sudo scripts/install-services.sh (Debian/Ubuntu package 'postgresql')"
SERVER_USER = "postgres"  # the OS account the server runs as when we are root
DB_USER = "postgres"  # the database superuser created by initdb
TEMPLATE_DB = "tw_template"
DIR_PREFIX = "tradewind-pg-"
OWNER_FILE = "owner"  # "<pid> <process start time>" of the test process that owns the server


class PgUnavailable(RuntimeError):
    """PostgreSQL server binaries are not installed (or unusable)."""


def find_pg_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version wins).

    ``TRADEWIND_TEST_PG_BINDIR`` names the directory explicitly (e.g. to pick one of
    several installed versions); it must then hold the three programs.
    """
    explicit = os.environ.get("TRADEWIND_TEST_PG_BINDIR")
    if explicit:
        bindir = Path(explicit)
        missing = [exe for exe in ("initdb", "pg_ctl", "postgres") if not (bindir / exe).is_file()]
        if missing:
            raise PgUnavailable(
                f"TRADEWIND_TEST_PG_BINDIR={explicit} lacks {', '.join(missing)}; {INSTALL_HINT}"
            )
        return bindir
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()] or [0],
        reverse=True,
    )
    for cand in candidates:
        if all((Path(cand) / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(cand)
    initdb = shutil.which("initdb")
    if initdb:
        bindir = Path(initdb).resolve().parent
        if (bindir / "pg_ctl").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PgUnavailable(f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; {INSTALL_HINT}")


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PgUnavailable(
            f"running as root, and there is no '{SERVER_USER}' system user to run PostgreSQL as; {INSTALL_HINT}"
        ) from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SERVER_USER, "--", *cmd]
    return ["su", SERVER_USER, "-s", "/bin/sh", "-c", " ".join(map(_shell_quote, cmd))]


def _shell_quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {proc.stdout}\n{proc.stderr}")


@dataclass
class PgServer:
    """One PostgreSQL server process owned by this test process."""

    bindir: Path
    root: Path
    port: int = 0
    started: bool = False
    #: Extra address to listen on besides 127.0.0.1, with trust auth for its /24 network
    #: (the distributed tests' namespace hosts reach the server at the lab bridge's address).
    also_listen: str | None = None
    _db_counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "sock"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.port}/{dbname}"

    @classmethod
    def create(cls) -> "PgServer":
        bindir = find_pg_bindir()
        # Not under pytest's tmp tree: that is mode 0700 and root-owned, so the
        # postgres user could not reach it.
        root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        root.chmod(0o755)
        (root / OWNER_FILE).write_text(_owner_stamp(os.getpid()))
        (root / "sock").mkdir()
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVER_USER) if _user_exists(SERVER_USER) else None
            if entry is None:
                shutil.rmtree(root, ignore_errors=True)
                raise PgUnavailable(f"running as root without a '{SERVER_USER}' user; {INSTALL_HINT}")
            for path in (root, root / "sock"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return cls(bindir=bindir, root=root)

    def start(self, attempts: int = 3) -> None:
        _run(
            [str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", DB_USER, "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            "initdb",
        )
        listen = "127.0.0.1"
        if self.also_listen:
            listen += f",{self.also_listen}"
            network = self.also_listen.rsplit(".", 1)[0] + ".0/24"
            with open(self.datadir / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {network} trust\n")
        last_error: Exception | None = None
        for _ in range(attempts):  # another process may grab the port between probe and bind
            self.port = free_port()
            opts = (
                f"-p {self.port} -c listen_addresses={listen} -k {self.sockdir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=100 -c shared_buffers=32MB"
            )
            try:
                _run(
                    [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.root / "server.log"),
                     "-o", opts, "-w", "-t", "60", "start"],
                    "pg_ctl start",
                )
            except RuntimeError as exc:
                last_error = exc
                continue
            self.started = True
            self._wait_ready()
            return
        log = (self.root / "server.log").read_text(errors="replace")[-2000:] if (self.root / "server.log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {last_error}\n{log}")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=DB_USER, dbname="postgres"):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def execute_autocommit(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=DB_USER, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def new_database_name(self, prefix: str = "test") -> str:
        return f"{prefix}_{os.getpid()}_{next(self._db_counter)}"

    def stop(self) -> None:
        if self.started:
            try:
                _run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"], "pg_ctl stop")
            except RuntimeError:
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def _owner_stamp(pid: int) -> str:
    import psutil

    return f"{pid} {psutil.Process(pid).create_time():.3f}"


def _owner_alive(stamp: str) -> bool:
    import psutil

    try:
        pid_text, started = stamp.split()
        return _owner_stamp(int(pid_text)) == f"{pid_text} {started}"
    except (ValueError, psutil.Error):
        return False


def reap_stale_servers() -> int:
    """Stop and delete servers left behind by test processes that died (killed, timed out).

    Only directories with an owner stamp whose process is gone are touched, so
    servers of other live test sessions are left alone. Returns how many were reaped.
    """
    reaped = 0
    for owner_file in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*/{OWNER_FILE}"):
        try:
            stamp = owner_file.read_text()
        except OSError:
            continue
        if _owner_alive(stamp):
            continue
        root = owner_file.parent
        if (root / "data" / "postmaster.pid").exists():
            try:
                _run([str(find_pg_bindir() / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"],
                     "pg_ctl stop (stale server)")
            except (RuntimeError, PgUnavailable):
                pass  # already dead; the directory is removed below either way
        shutil.rmtree(root, ignore_errors=True)
        reaped += 1
    return reaped


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A running PostgreSQL server for this test process (skips or fails when not installed)."""
    reap_stale_servers()
    try:
        server = PgServer.create()
    except PgUnavailable as exc:
        unavailable(f"PostgreSQL is unavailable: {exc}")
    yield from serve(server)


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """URL of an empty database (no schema) on the session's server."""
    name = pg_server.new_database_name("empty")
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    return pg_server.url(name)


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> str:
    """Name of a database migrated once per session, used as the template for ``pg_db``."""
    from tradewind.persist.db import Database
    from tradewind.persist.migrate import upgrade

    pg_server.execute_autocommit(f'CREATE DATABASE "{TEMPLATE_DB}"')
    database = Database.from_url(pg_server.url(TEMPLATE_DB))
    try:
        upgrade(database)
    finally:
        # CREATE DATABASE ... TEMPLATE needs the template to have no connections.
        database.engine.dispose()
    return TEMPLATE_DB


@pytest.fixture
def pg_db(pg_server: PgServer, pg_template: str):
    """A :class:`Database` on a fresh, migrated PostgreSQL database, dropped after the test."""
    from tradewind.persist.db import Database

    name = pg_server.new_database_name()
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    database = Database.from_url(pg_server.url(name))
    try:
        yield database
    finally:
        database.engine.dispose()
        pg_server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
