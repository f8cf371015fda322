"""Time triggers: fire at a moment (:class:`DateTimeTrigger`) or after a delay (:class:`TimeDeltaTrigger`).

They read the time from :func:`tradewind.definition.timezone.utcnow` (overridable clock)
and sleep in slices of at most :attr:`DateTimeTrigger.max_sleep` seconds, so a moved clock
is noticed and thousands of them cost a few wake-ups per second in one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from tradewind.definition import timezone as tz
from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent, classpath_of

__all__ = ["DateTimeTrigger", "TimeDeltaTrigger"]


class DateTimeTrigger(BaseTrigger):
    """Fires once ``moment`` (a timezone-aware datetime) has passed; the event's payload is
    the moment (Airflow). A moment in the past fires at once."""

    #: Longest single sleep, in seconds.
    max_sleep = 1.0

    def __init__(self, moment: datetime, *, end_from_trigger: bool = False) -> None:
        super().__init__()
        if not isinstance(moment, datetime):
            raise TypeError(f"DateTimeTrigger expects a datetime, got {type(moment).__name__} ({moment!r})")
        if moment.tzinfo is None:
            raise ValueError(f"DateTimeTrigger needs a timezone-aware moment, got the naive {moment!r}")
        self.moment = tz.to_utc(moment)
        self.end_from_trigger = end_from_trigger

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(DateTimeTrigger), {"moment": self.moment, "end_from_trigger": self.end_from_trigger}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            remaining = (self.moment - tz.utcnow()).total_seconds()
            if remaining <= 0:
                break
            await asyncio.sleep(min(remaining, self.max_sleep))
        yield TriggerEvent(self.moment)


class TimeDeltaTrigger(DateTimeTrigger):
    """Fires ``delta`` after it is created (when the task deferred). Stored as the
    :class:`DateTimeTrigger` of that moment, so a restarted triggerer does not wait anew."""

    def __init__(self, delta: timedelta, *, end_from_trigger: bool = False) -> None:
        if not isinstance(delta, timedelta):
            raise TypeError(f"TimeDeltaTrigger expects a timedelta, got {type(delta).__name__} ({delta!r})")
        super().__init__(tz.utcnow() + delta, end_from_trigger=end_from_trigger)
