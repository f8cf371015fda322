"""Heartbeats of running tries: ``last_heartbeat_at`` every ``interval`` seconds, through the
try's :class:`~tradewind.execute.try_store.TryStore` (the database, or the execution API).

One daemon thread per process beats for every try running in it (:class:`Heartbeat`
registers a try, :meth:`Heartbeat.stop` unregisters it). A try process runs one try, but
``dags test`` and the in-process executor run hundreds one after another: starting and
joining a thread for each cost them more than the rest of a no-op try's bookkeeping.

A beat that finds the instance no longer running its try (cleared, marked by hand, failed
as a zombie) logs it, stops beating for that try and, when asked to (a dedicated try
process), sends SIGTERM to its own process so the try ends as ``failed``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from tradewind.execute.try_store import TryStore
from tradewind.workloads import TaskKey

log = logging.getLogger("tradewind.task")

#: Shortest interval accepted (a misconfigured 0 would otherwise spin).
MIN_INTERVAL = 0.05


class Heartbeat:
    """Keeps try ``key`` marked alive while it runs: :meth:`start` ... :meth:`stop`."""

    def __init__(self, store: TryStore, key: TaskKey, interval: float, *, terminate: bool) -> None:
        self.store = store
        self.key = key
        self.interval = max(interval, MIN_INTERVAL)
        self.terminate = terminate
        self.next_at = 0.0

    def start(self) -> None:
        """First beat after one interval (claiming the try set ``last_heartbeat_at``)."""
        self.next_at = time.monotonic() + self.interval
        _service().add(self)

    def stop(self) -> None:
        """No beat of this try runs after this returns."""
        _service().remove(self)

    def beat(self) -> bool:
        """One heartbeat; False when the instance no longer runs this try."""
        return self.store.heartbeat(self.key)

    def lost(self) -> None:
        log.warning("Task instance %s is no longer running this try (cleared or marked); terminating it.",
                    self.key.short())
        if self.terminate:
            os.kill(os.getpid(), signal.SIGTERM)


class _Service:
    """The beating thread and the tries it beats for (started on first use)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._beats: dict[int, Heartbeat] = {}
        self._busy: Heartbeat | None = None
        self._thread: threading.Thread | None = None

    def add(self, beat: Heartbeat) -> None:
        with self._cond:
            self._beats[id(beat)] = beat
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="tradewind-heartbeat", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def remove(self, beat: Heartbeat) -> None:
        with self._cond:
            self._beats.pop(id(beat), None)
            # A beat of this try in flight finishes first (bounded: a stuck database must
            # not keep the try from ending; its result is ignored once unregistered).
            deadline = time.monotonic() + 5
            while self._busy is beat and self._cond.wait(max(deadline - time.monotonic(), 0)):
                pass
            self._cond.notify_all()

    def _next_due(self) -> Heartbeat | None:
        """Wait (holding the condition) until a beat is due; None when woken for a change."""
        now = time.monotonic()
        due = min(self._beats.values(), key=lambda b: b.next_at, default=None)
        if due is None:
            self._cond.wait()
            return None
        if due.next_at > now:
            self._cond.wait(due.next_at - now)
            return None
        due.next_at = now + due.interval
        self._busy = due
        return due

    def _loop(self) -> None:
        while True:
            with self._cond:
                beat = self._next_due()
            if beat is None:
                continue
            try:
                alive = beat.beat()
            except Exception:
                log.warning("Heartbeat of %s failed; will retry", beat.key.short(), exc_info=True)
                alive = True
            with self._cond:
                lost = not alive and self._beats.get(id(beat)) is beat
                if lost:
                    del self._beats[id(beat)]
            try:
                if lost:
                    beat.lost()
            except Exception:  # the thread serves every later try: it must not die here
                log.exception("Handling the loss of %s failed", beat.key.short())
            finally:
                with self._cond:
                    self._busy = None  # only now: stop() returns after the loss was handled
                    self._cond.notify_all()


_SERVICE: _Service | None = None
_SERVICE_LOCK = threading.Lock()


def _service() -> _Service:
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = _Service()
        return _SERVICE


def _forget_service_after_fork() -> None:
    # The thread does not exist in a forked child (and its lock may have been held at the
    # fork); the child starts its own service on first use.
    global _SERVICE, _SERVICE_LOCK
    _SERVICE = None
    _SERVICE_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_service_after_fork)


def beating(key: Any) -> bool:
    """Whether a try with this key is registered in this process (for tests and diagnostics)."""
    service = _SERVICE
    if service is None:
        return False
    with service._cond:
        return any(b.key == key for b in service._beats.values())
