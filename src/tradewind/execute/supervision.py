"""Supervising helper processes: how a death is described, and when to start the next one.

Every process Tradewind starts (the fork server, the DAG processor, the triggerer, a Celery
worker's fork server) has a parent that watches it. The parent replaces a dead helper at
once the first time, then backs off while it keeps dying, and reports a *crash loop* (several
deaths within a window) as a problem that ``tradewind jobs check`` and ``/api/v1/health`` show.
This module holds the policy only; each parent does its own watching (a socket that closes, a
``Popen`` that exits) and asks :class:`RestartBackoff` what to do.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


def describe_exit(returncode: int | None) -> str:
    """``-9`` -> ``killed by signal SIGKILL (9)``; ``1`` -> ``exited with code 1``
    (``subprocess``'s convention: negative means a signal)."""
    if returncode is None:
        return "ended (exit status unknown)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "signal"
        return f"killed by signal {name} ({-returncode})"
    return f"exited with code {returncode}"


@dataclass
class RestartBackoff:
    """Restart policy of one helper.

    The first death within ``window`` seconds is restarted at once; each further one waits
    twice as long as the one before (``first_delay`` up to ``max_delay``). ``crash_loop_after``
    deaths within ``window`` make the helper *crash-looping*, which :meth:`problem` reports
    until the deaths age out of the window. Thread-safe: the watcher records deaths while a
    scheduler thread asks for :meth:`problem` (not for signal handlers: it takes a lock).
    """

    name: str
    first_delay: float = 0.5
    max_delay: float = 30.0
    window: float = 60.0
    crash_loop_after: int = 3
    clock: Callable[[], float] = time.monotonic
    deaths: deque[float] = field(default_factory=deque)
    last_cause: str | None = None
    restarts: int = 0
    #: True between a death and the start of its replacement.
    down: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_config(cls, config: Any, name: str) -> RestartBackoff:
        """The policy of one helper from the settings: crash-looping after ``[scheduler]
        helper_crash_loop_restarts`` deaths within ``helper_crash_loop_window`` seconds.
        A malformed setting raises ValueError naming it."""
        values = {}
        for key, convert in (("helper_crash_loop_window", float), ("helper_crash_loop_restarts", int)):
            raw = config.get("scheduler", key)
            try:
                values[key] = convert(raw)
            except ValueError:
                raise ValueError(f"[scheduler] {key} must be a number, got {raw!r}") from None
        return cls(name, window=values["helper_crash_loop_window"],
                   crash_loop_after=values["helper_crash_loop_restarts"])

    def _recent(self) -> int:
        """Deaths within the window (the lock held)."""
        cutoff = self.clock() - self.window
        while self.deaths and self.deaths[0] < cutoff:
            self.deaths.popleft()
        return len(self.deaths)

    def died(self, cause: str) -> float:
        """Record a death; returns the seconds to wait before starting the replacement."""
        with self._lock:
            recent = self._recent()
            self.deaths.append(self.clock())
            self.last_cause = cause
            self.down = True
        if recent == 0:
            return 0.0
        return min(self.first_delay * (2 ** (recent - 1)), self.max_delay)

    def started(self) -> None:
        """The replacement runs."""
        with self._lock:
            if self.down:
                self.restarts += 1
            self.down = False

    @property
    def crash_looping(self) -> bool:
        with self._lock:
            return self._recent() >= self.crash_loop_after

    def problem(self) -> str | None:
        """A one-line description of what is wrong, or None while the helper is healthy."""
        with self._lock:
            recent = self._recent()
            if recent >= self.crash_loop_after:
                return (f"{self.name} is crash-looping: died {recent} times in the last {self.window:g}s "
                        f"(last: {self.last_cause})")
            if self.down:
                return f"{self.name} is down: {self.last_cause}; restarting"
            return None


def run_restarting(target: Callable[[threading.Event], None], stop: threading.Event,
                   backoff: RestartBackoff) -> None:
    """Run a helper loop in the calling thread until ``stop`` is set, restarting it when it raises.

    ``target(stop)`` returning normally ends the helper (it noticed ``stop``). An exception is
    logged with the helper's name, recorded in ``backoff`` (so its :meth:`~RestartBackoff.problem`
    says it is down or crash-looping) and ``target`` is called again after the backoff's delay,
    unless ``stop`` was set meanwhile.
    """
    while not stop.is_set():
        try:
            target(stop)
            return
        except Exception as exc:  # noqa: BLE001 - a helper's failure is reported and it restarts
            cause = f"raised {type(exc).__name__}: {exc}"
            delay = backoff.died(cause)
            log.error("%s %s; restarting it in %.1fs", backoff.name, cause, delay, exc_info=True)
        if stop.wait(delay):
            return
        backoff.started()
        log.warning("%s restarted (restart %d)", backoff.name, backoff.restarts)
