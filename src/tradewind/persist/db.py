"""Engine and sessions. Transactions start where you can see them::

    db = Database.from_config(config)
    with db.session_scope() as session:
        ...  # committed on exit, rolled back on error

SQLite runs in WAL mode with a busy timeout, so the scheduler, the parser and
task processes can share one file. PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

#: Every engine made here; a forked child drops their pooled connections (never share a
#: SQLite or PostgreSQL connection across fork) before it makes its own.
_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _forget_connections_after_fork() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_connections_after_fork)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only 'now' persist code uses)."""
    return datetime.now(timezone.utc)


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


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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
            engine = create_engine(
                url,
                echo=echo,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=10,
                connect_args={"check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, echo=echo, pool_size=pool_size, pool_pre_ping=True)
        _ENGINES.add(engine)
        return cls(engine=engine, sessionmaker=sessionmaker(engine, expire_on_commit=False))

    @classmethod
    def from_config(cls, config: Any) -> "Database":
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
