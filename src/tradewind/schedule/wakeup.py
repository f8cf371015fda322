"""Waking a running scheduler from another process (``dags trigger``, the REST API).

The scheduler is event-driven inside its own process (a finished try wakes it), but a
run created by another process would otherwise wait out ``[scheduler] max_idle_wait``.
So whoever commits a change the scheduler should act on at once calls
:func:`notify_scheduler` *after the commit*; the scheduler runs a
:class:`WakeListener` that wakes its loop.

* **SQLite** (one machine): a Unix datagram socket named after the database file — in
  Linux's abstract namespace (no file to clean up, no path length limit), elsewhere a
  socket file in the temp directory. One datagram, no reply; nobody listening is fine.
* **PostgreSQL**: ``LISTEN``/``NOTIFY`` on channel :data:`CHANNEL`, so schedulers on other
  machines wake too.

Best effort by design: a lost wake-up only delays the run until the scheduler's next
idle timeout, so neither side ever raises for it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import tempfile
import threading
from typing import Any

from tradewind.persist.db import Database
from tradewind.schedule.executor_interface import Waker

log = logging.getLogger(__name__)

#: PostgreSQL notification channel the schedulers listen on.
CHANNEL = "tradewind_scheduler"
_MESSAGE = b"wake"


def _sqlite_address(db: Database) -> str | bytes:
    """The datagram address of the scheduler using this SQLite database."""
    database = db.engine.url.database or ":memory:"
    path = database if database == ":memory:" else os.path.realpath(database)
    digest = hashlib.sha256(path.encode("utf-8")).hexdigest()[:24]
    if sys.platform.startswith("linux"):
        return b"\0tradewind-scheduler-" + digest.encode("ascii")
    return os.path.join(tempfile.gettempdir(), f"tradewind-scheduler-{digest}.sock")


def notify_scheduler(db: Database) -> bool:
    """Wake the scheduler(s) of ``db`` now; call after committing. Never raises.

    Returns True when the wake-up was handed over (SQLite: a scheduler is listening;
    PostgreSQL: the notification was sent), False otherwise.
    """
    try:
        if db.is_sqlite:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(_MESSAGE, _sqlite_address(db))
            return True
        with db.engine.connect() as conn:
            conn.exec_driver_sql(f"NOTIFY {CHANNEL}")
            conn.commit()
        return True
    except BlockingIOError:
        return True  # the listener's queue is full: it has wake-ups pending anyway
    except Exception as exc:  # noqa: BLE001 - nobody listening, or the database is away: best effort
        log.debug("could not wake the scheduler: %s", exc)
        return False


class WakeListener:
    """The scheduler's side: a daemon thread that calls ``waker.wake()`` on each notification.

    ``start()`` returns False (and the scheduler just relies on its idle timeout) when it
    cannot listen, e.g. another scheduler already listens on the same SQLite database.
    """

    def __init__(self, db: Database, waker: Waker) -> None:
        self.db = db
        self.waker = waker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._address: str | bytes | None = None
        self._pg: Any = None

    @property
    def listening(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        try:
            target = self._listen_sqlite if self.db.is_sqlite else self._listen_postgres
            if self.db.is_sqlite:
                self._bind_sqlite()
            else:
                self._pg = self._connect_postgres()
        except Exception as exc:  # noqa: BLE001 - listening is an optimisation
            log.info("scheduler wake-ups from other processes are off (%s); new runs are seen within "
                     "[scheduler] max_idle_wait", exc)
            self.close()
            return False
        self._thread = threading.Thread(target=target, name="tradewind-wake-listener", daemon=True)
        self._thread.start()
        return True

    def close(self) -> None:
        self._stop.set()
        if self._sock is not None and self._address is not None:
            try:  # unblock recv()
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as poke:
                    poke.sendto(b"", self._address)
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        if self._sock is not None:
            self._sock.close()
            if isinstance(self._address, str):
                try:
                    os.unlink(self._address)
                except OSError:
                    pass
            self._sock = None
        if self._pg is not None:
            try:
                self._pg.close()
            except Exception:  # noqa: BLE001
                pass
            self._pg = None

    # ------------------------------------------------------------------ SQLite
    def _bind_sqlite(self) -> None:
        address = _sqlite_address(self.db)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            try:
                sock.bind(address)
            except OSError:
                if not isinstance(address, str) or notify_scheduler(self.db):
                    raise  # a live scheduler already listens here
                os.unlink(address)  # a socket file left by a scheduler that died
                sock.bind(address)
        except BaseException:
            sock.close()
            raise
        self._sock, self._address = sock, address

    def _listen_sqlite(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                sock.recv(64)
            except OSError:
                return
            if not self._stop.is_set():
                self.waker.wake()

    # --------------------------------------------------------------- PostgreSQL
    def _connect_postgres(self) -> Any:
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _listen_postgres(self) -> None:
        while not self._stop.is_set():
            try:
                if self._pg is None:
                    self._pg = self._connect_postgres()
                for _ in self._pg.notifies(timeout=0.5):
                    self.waker.wake()
            except Exception as exc:  # noqa: BLE001 - the server went away: reconnect after a pause
                if self._stop.is_set():
                    return
                log.warning("scheduler wake-up listener lost its PostgreSQL connection (%s); reconnecting", exc)
                try:
                    if self._pg is not None:
                        self._pg.close()
                except Exception:  # noqa: BLE001
                    pass
                self._pg = None
                self._stop.wait(1.0)
