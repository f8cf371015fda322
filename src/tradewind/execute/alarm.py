"""A wall-clock limit on a block of code in the main thread (SIGALRM)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def raise_after(seconds: float | None, error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``error()`` inside the block once ``seconds`` have passed; no limit for None or <= 0.

    Main thread only (signals are delivered there). The previous SIGALRM handler and
    timer are restored on exit, so limits do not leak into the code that follows.
    """
    if seconds is None or seconds <= 0:
        yield
        return

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise error()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
