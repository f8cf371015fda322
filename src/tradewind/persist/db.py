"""Engine and sessions. Transactions start where you can see them::

    db = Database.from_config(config)
    with db.session_scope() as session:
        ...  # committed on exit, rolled back on error

SQLite runs in WAL mode with a busy timeout, so the scheduler, the parser and
task processes can share one file; their write transactions queue on a file lock
next to the database (``<db>-txlock``, see :class:`_WriteLockedConnection`) instead
of polling SQLite. PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from tradewind.definition.timezone import utcnow as _clock_utcnow

#: Every engine made here; a forked child drops their pooled connections (never share a
#: SQLite or PostgreSQL connection across fork) before it makes its own.
_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _forget_connections_after_fork() -> None:
    for engine in list(_ENGINES):
        pool = engine.pool
        if isinstance(pool, QueuePool) and pool.checkedin() == 0 and pool.checkedout() == 0:
            continue  # nothing pooled to share (a fork server's engine): spare each child a new pool
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_connections_after_fork)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only 'now' persist code uses).

    It reads :func:`tradewind.definition.timezone.utcnow`, so a simulated clock installed
    with ``set_clock`` (the pytest plugin) also dates what tries and CLI actions record.
    """
    return _clock_utcnow()


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs, as users write them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(busy_timeout_s: float):
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN is off) and
        # start write transactions eagerly, so two writers wait on the busy
        # timeout instead of failing with "database is locked" on upgrade.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.close()

    return on_connect


#: Execution option of :meth:`Database.read_scope` sessions: a deferred ``BEGIN`` that
#: takes no write lock (WAL readers never wait for writers).
READ_ONLY = "tradewind_read_only"


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
        return
    dbapi = conn.connection.dbapi_connection
    acquire = getattr(dbapi, "acquire_write_lock", None)
    if acquire is not None:
        try:
            acquire()
        except sqlite3.OperationalError as exc:  # as SQLAlchemy reports a busy database
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if acquire is not None:
            dbapi.release_write_lock()
        raise


def describe_lock_holders(path: str) -> str:
    """Who holds the ``flock`` on ``path``, from ``/proc/locks``: "pid 123 (tradewind scheduler)".

    The pid is the one that took the lock; a process it forked shares the lock, so a holder
    that has gone means a child of it still has the file open. "another process" where the
    kernel does not say (not Linux)."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return "another process"
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (waiters are marked "->")
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
            holders.append(_describe_pid(fields[4]))
    return ", ".join(holders) if holders else "another process"


def _describe_pid(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return f"pid {pid} (gone: a process it forked still has the lock file open)"
    if not argv:
        return f"pid {pid}"
    command = " ".join([os.path.basename(argv[0]), *argv[1:]])
    return f"pid {pid} ({command[:160]})"


def _wait_for_flock(fd: int, timeout: float, path: str) -> None:
    """Blocking ``flock`` with a timeout: a helper thread blocks in the kernel (woken the
    moment the holder releases); this thread waits for it at most ``timeout`` seconds."""
    done = threading.Event()
    failure: list[BaseException] = []

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            failure.append(exc)
        done.set()

    threading.Thread(target=wait, name="tradewind-sqlite-write-lock", daemon=True).start()
    if not done.wait(timeout):
        raise sqlite3.OperationalError(
            f"database is locked: no write transaction could start for {timeout:g}s "
            f"({describe_lock_holders(path)} holds {path}; [database] sqlite_busy_timeout)"
        )
    if failure:
        raise failure[0]


class _WriteLockedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on a file lock first.

    SQLite's own wait for a busy database sleeps in growing steps (up to 100 ms), so
    with dozens of short writers (one per running try) most of the waiting is sleep:
    a no-op try waited a median 50 ms, some seconds, for transactions of ~2 ms.
    ``flock`` wakes the next waiter the moment the lock is released, and the kernel
    drops the lock of a process that dies. SQLite's busy timeout still applies to
    writers that do not take the lock (other tools).
    """

    lock_path: str = ""
    busy_timeout: float = 30.0
    _lock_fd: int = -1

    def acquire_write_lock(self) -> None:
        """Wait (at most ``busy_timeout`` seconds) for the machine-wide write lock."""
        if not self.lock_path or self._lock_fd >= 0:
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _wait_for_flock(fd, self.busy_timeout, self.lock_path)
        except BaseException:
            os.close(fd)  # a helper still waiting on it gets the lock and drops it at once
            raise
        self._lock_fd = fd

    def release_write_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, -1
        if fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)  # also for copies a fork made meanwhile
            finally:
                os.close(fd)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_write_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_write_lock()


@dataclass
class Database:
    """An engine and its session factory. One per process; pass it down explicitly."""

    engine: Engine
    sessionmaker: sessionmaker[Session]

    @classmethod
    def from_url(cls, url: str, *, busy_timeout: float = 30.0, echo: bool = False, pool_size: int = 5) -> "Database":
        url = normalise_url(url)
        if is_sqlite(url):
            parsed = make_url(url)
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # A small pool: opening a SQLite connection (and its PRAGMAs) costs more than
            # a short transaction. Fork safety comes from _forget_connections_after_fork.
            connect_args: dict[str, Any] = {"check_same_thread": False}
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                lock_path = str(Path(parsed.database).resolve()) + "-txlock"
                connect_args["factory"] = type("WriteLockedConnection", (_WriteLockedConnection,),
                                               {"lock_path": lock_path, "busy_timeout": busy_timeout})
            engine = create_engine(
                url,
                echo=echo,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=10,
                connect_args=connect_args,
            )
            event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, echo=echo, pool_size=pool_size, pool_pre_ping=True)
        _ENGINES.add(engine)
        return cls(engine=engine, sessionmaker=sessionmaker(engine, expire_on_commit=False))

    @contextmanager
    def read_scope(self) -> Iterator[Session]:
        """A session for reads only, never committed. On SQLite it starts a deferred
        transaction and so neither takes nor waits for the write lock: keep reads that
        can run apart from a write out of the write transaction (it serialises writers).
        Writing in it is an error on SQLite (the transaction cannot become a writer
        while another one writes)."""
        session = Session(bind=self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        try:
            yield session
        finally:
            # close() ends the transaction (the pool rolls the connection back) and, unlike
            # rollback(), leaves loaded objects readable after the block.
            session.close()

    @classmethod
    def from_config(cls, config: Any) -> "Database":
        from tradewind.persist.fernet import register_config_for_database

        # The variables store finds its Fernet key by the session's database: these settings' keys.
        register_config_for_database(config)
        return cls.from_url(
            config.database_url,
            busy_timeout=config.getfloat("database", "sqlite_busy_timeout"),
            echo=config.getbool("database", "echo"),
            pool_size=config.getint("database", "pool_size"),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session in one transaction: commit on success, roll back on error, always close."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Drop pooled connections; call in a child process right after fork."""
        self.engine.dispose(close=False)
