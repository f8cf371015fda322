"""Shipping a remote try's log file to the API server, while it runs and at its end.

A Celery worker writes the try's log to its own disk like any try
(:mod:`tradewind.execute.logs`). The UI and the REST API read logs from the API server's
``[logging] base_log_folder``, so :class:`LogShipper` tails the worker's file every
``[celery] log_ship_interval`` seconds and once more at the try's end, sending what is new
to ``POST /execution/v1/try/logs`` (:meth:`ApiTryStore.ship_log`). Why this way round:

* workers need no inbound port (the API server never calls a worker; a worker behind NAT or
  in a Kubernetes pod without a Service works);
* the log survives the worker: a host that dies has already shipped all but its last
  interval's lines, and the retry on another worker appends to the same place.

Only complete lines are sent while the try runs (a line is never split between two
shipments, and UTF-8 characters never are); the final shipment sends the rest. Each piece
carries its byte offset, and the server appends idempotently by offset, so a piece resent
after a network error is not stored twice.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from tradewind.workloads import TaskKey

log = logging.getLogger(__name__)

#: Most bytes sent in one request (a chatty task's backlog goes in several pieces).
MAX_PIECE = 512 * 1024


class LogShipper:
    """Tails ``path`` in a daemon thread and ships new bytes through ``store.ship_log``.

    ``store``: an :class:`~tradewind.execute.api_client.ApiTryStore` (anything with
    ``ship_log(key, offset, data) -> size``). Failures are logged to the worker's own log,
    never into the try's (shipping must not change what it ships) and never raised.
    """

    def __init__(self, store: Any, key: TaskKey, path: Path, interval: float) -> None:
        self.store = store
        self.key = key
        self.path = path
        self.interval = max(0.05, interval)
        #: Bytes of the file the server holds.
        self.shipped = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"log-shipper {self.key.short()}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and ship everything left (the try has ended: partial lines too)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.ship(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.ship(final=False)

    def ship(self, *, final: bool) -> None:
        """Send what the server does not have yet (complete lines only unless ``final``)."""
        with self._lock:
            try:
                while self._ship_piece(final):
                    pass
            except Exception as exc:  # noqa: BLE001 - the try goes on; the next round retries
                log.warning("shipping the log of %s failed: %s", self.key.short(), exc)

    def _ship_piece(self, final: bool) -> bool:
        """Ship one piece; True when more may be waiting."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.shipped)
                chunk = handle.read(MAX_PIECE)
        except FileNotFoundError:
            return False
        if not chunk:
            return False
        full = len(chunk) == MAX_PIECE
        if not final or full:
            end = chunk.rfind(b"\n")
            if end < 0:
                if not full:
                    return False  # an unfinished line: wait for its end
                end = _utf8_boundary(chunk) - 1  # one huge line: cut at a character boundary
            chunk = chunk[: end + 1]
        self.store.ship_log(self.key, self.shipped, chunk.decode("utf-8", errors="replace"))
        self.shipped += len(chunk)
        return full


def _utf8_boundary(chunk: bytes) -> int:
    """The length of ``chunk`` without a trailing incomplete UTF-8 character."""
    cut = len(chunk)
    for back in range(1, min(4, len(chunk)) + 1):
        byte = chunk[-back]
        if byte & 0xC0 != 0x80:  # the start of the last character
            width = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            if width > back:
                cut = len(chunk) - back
            break
    return cut
