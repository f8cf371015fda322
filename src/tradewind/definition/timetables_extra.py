"""More of Airflow's timetables: ``DeltaTriggerTimetable``, ``MultipleCronTriggerTimetable``, ``EventsTimetable``.

Kept apart from :mod:`tradewind.definition.timetables` (which re-exports them) so each file stays
readable. Semantics follow Airflow's documentation:

- :class:`DeltaTriggerTimetable` fires every ``delta`` (a ``timedelta`` or ``relativedelta``),
  starting *at* the start date (unlike ``DeltaDataIntervalTimetable``, which waits for the first
  interval to end). ``interval`` sets the data interval ``[run_after - interval, run_after]``.
- :class:`MultipleCronTriggerTimetable` fires whenever any of several cron expressions does, at
  most once per instant.
- :class:`EventsTimetable` fires once at each listed datetime. ``restrict_to_events`` makes a
  manual run cover the latest past event (or the first one, when all are in the future) instead
  of the trigger time.

As :class:`~tradewind.definition.timetables.CronTriggerTimetable`, the trigger timetables here
give a run ``logical_date == run_after`` (the fire time). Naive datetimes are read as UTC.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta, tzinfo
from typing import Any, Iterable

from tradewind.definition.exceptions import InvalidScheduleError
from tradewind.definition.timetables import (
    _RELATIVEDELTA_FIELDS,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    Timetable,
    _delta_seconds_estimate,
    _now,
    _restriction_utc,
    relativedelta,
)
from tradewind.definition.timezone import timezone_name, to_utc

__all__ = ["DeltaTriggerTimetable", "EventsTimetable", "MultipleCronTriggerTimetable", "extra_timetable_from_dict"]


def _is_delta(value: Any) -> bool:
    return isinstance(value, timedelta) or (relativedelta is not None and isinstance(value, relativedelta))


def encode_delta(delta: Any) -> Any:
    """A timedelta as seconds, a relativedelta as a dict of its non-zero fields (JSON-safe)."""
    if isinstance(delta, timedelta):
        return delta.total_seconds()
    fields = {name: getattr(delta, name) for name in _RELATIVEDELTA_FIELDS}
    fields = {k: v for k, v in fields.items() if v}
    if delta.weekday is not None:
        fields["weekday"] = [delta.weekday.weekday, delta.weekday.n]
    return {"relativedelta": fields}


def decode_delta(data: Any) -> Any:
    """Inverse of :func:`encode_delta`."""
    if not isinstance(data, dict):
        return timedelta(seconds=data)
    if relativedelta is None:  # pragma: no cover - dateutil comes with croniter
        raise InvalidScheduleError("relativedelta schedules need python-dateutil installed")
    fields = dict(data["relativedelta"])
    weekday = fields.pop("weekday", None)
    if weekday is not None:
        from dateutil.relativedelta import weekday as make_weekday

        fields["weekday"] = make_weekday(weekday[0], weekday[1])
    return relativedelta(**fields)


# --------------------------------------------------------------------------- delta trigger
class DeltaTriggerTimetable(Timetable):
    """Fires every ``delta`` from the start date; the run covers ``[run_after - interval, run_after]``.

    With ``catchup=True`` every fire time from the start date on runs; without catchup the next run
    is at the later of "now" and the previous fire time plus ``delta`` (missed ones are skipped).
    Without a start date the first run is "now".
    """

    type_name = "delta_trigger"
    periodic = True

    def __init__(self, delta: Any, *, interval: Any = timedelta(0)) -> None:
        if not _is_delta(delta):
            raise InvalidScheduleError(f"DeltaTriggerTimetable delta must be a timedelta or relativedelta, got {delta!r}")
        if _delta_seconds_estimate(delta) <= 0:
            raise InvalidScheduleError(f"DeltaTriggerTimetable delta must be positive, got {delta!r}")
        if not _is_delta(interval) or _delta_seconds_estimate(interval) < 0:
            raise InvalidScheduleError(
                f"DeltaTriggerTimetable interval must be a timedelta or relativedelta >= 0, got {interval!r}")
        self.delta = delta
        self.interval = interval
        self.description = f"Every {delta}"

    @property
    def summary(self) -> str:
        return str(self.delta)

    def serialize(self) -> dict[str, Any]:
        return {"__type": self.type_name, "delta": encode_delta(self.delta), "interval": encode_delta(self.interval)}

    def _info(self, at: datetime) -> DagRunInfo:
        return DagRunInfo(run_after=at, data_interval=DataInterval(to_utc(at - self.interval), at), logical_date=at)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        earliest, latest = _restriction_utc(restriction)
        last_end = None if last_automated_data_interval is None else to_utc(last_automated_data_interval.end)
        if restriction.catchup:
            if last_end is not None:
                at = to_utc(last_end + self.delta)
            else:
                at = earliest if earliest is not None else _now(now)
        else:
            candidates = [_now(now)]
            if last_end is not None:
                candidates.append(to_utc(last_end + self.delta))
            if earliest is not None:
                candidates.append(earliest)
            at = max(candidates)
        if latest is not None and at > latest:
            return None
        return self._info(at)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        at = to_utc(run_after)
        return DataInterval(to_utc(at - self.interval), at)


# --------------------------------------------------------------------------- several crons
class MultipleCronTriggerTimetable(Timetable):
    """Fires whenever one of ``crons`` does (one run per instant even when several match)."""

    type_name = "multiple_cron_trigger"
    periodic = True

    def __init__(self, *crons: str, timezone: str | tzinfo | None = "UTC", interval: timedelta = timedelta(0),
                 run_immediately: bool | timedelta = False) -> None:
        if not crons:
            raise InvalidScheduleError("MultipleCronTriggerTimetable needs at least one cron expression")
        self._timetables = [
            CronTriggerTimetable(cron, timezone, interval=interval, run_immediately=run_immediately)
            for cron in crons
        ]
        self.description = ", ".join(t.summary for t in self._timetables)

    @property
    def summary(self) -> str:
        return self.description

    def serialize(self) -> dict[str, Any]:
        first = self._timetables[0]
        ri = first.run_immediately
        return {
            "__type": self.type_name,
            "expressions": [t.expression for t in self._timetables],
            "timezone": timezone_name(first.timezone),
            "interval": first.interval.total_seconds(),
            "run_immediately": ri if isinstance(ri, bool) else {"seconds": ri.total_seconds()},
        }

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        intervals = [t.infer_manual_data_interval(run_after=run_after) for t in self._timetables]
        return min(intervals, key=lambda i: i.start)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        current = _now(now)
        infos = [t.next_dagrun_info(last_automated_data_interval=last_automated_data_interval,
                                    restriction=restriction, now=current) for t in self._timetables]
        infos = [i for i in infos if i is not None]
        if not infos:
            return None
        if restriction.catchup:
            return min(infos, key=lambda i: i.logical_date)
        # Without catchup: the latest fire time that is already due, else the soonest future one.
        due = [i for i in infos if i.logical_date <= current]
        return max(due, key=lambda i: i.logical_date) if due else min(infos, key=lambda i: i.logical_date)


# --------------------------------------------------------------------------- listed events
class EventsTimetable(Timetable):
    """Fires once at each of ``event_dates`` (duplicates count once).

    ``presorted=True`` promises the dates are already in ascending order (skips sorting a long
    list). ``description`` is shown instead of "N events between A and B".
    """

    type_name = "events"

    def __init__(self, event_dates: Iterable[datetime], restrict_to_events: bool = False, presorted: bool = False,
                 description: str | None = None) -> None:
        try:
            dates = [to_utc(d) for d in event_dates]
        except (TypeError, ValueError) as exc:
            raise InvalidScheduleError(f"EventsTimetable event_dates must be datetimes: {exc}") from None
        if not presorted:
            dates.sort()
        deduplicated: list[datetime] = []
        for d in dates:
            if not deduplicated or deduplicated[-1] != d:
                deduplicated.append(d)
        self.event_dates = deduplicated
        self.restrict_to_events = bool(restrict_to_events)
        self._given_description = description
        if description is not None:
            self.description = description
            self._summary = description
        elif deduplicated:
            self.description = (f"{len(deduplicated)} events between {deduplicated[0].isoformat()} "
                                f"and {deduplicated[-1].isoformat()}")
            self._summary = f"{len(deduplicated)} events"
        else:
            self.description = "No events"
            self._summary = "0 events"

    @property
    def summary(self) -> str:
        return self._summary

    def serialize(self) -> dict[str, Any]:
        return {
            "__type": self.type_name,
            "event_dates": [d.isoformat() for d in self.event_dates],
            "restrict_to_events": self.restrict_to_events,
            "description": self._given_description,
        }

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        earliest, latest = _restriction_utc(restriction)
        if not restriction.catchup:
            current = _now(now)
            earliest = current if earliest is None else max(earliest, current)
        index = 0 if earliest is None else bisect.bisect_left(self.event_dates, earliest)
        if last_automated_data_interval is not None:
            index = max(index, bisect.bisect_right(self.event_dates, to_utc(last_automated_data_interval.end)))
        if index >= len(self.event_dates):
            return None
        at = self.event_dates[index]
        if latest is not None and at > latest:
            return None
        return DagRunInfo.exact(at)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        at = to_utc(run_after)
        if not self.restrict_to_events or not self.event_dates:
            return DataInterval.exact(at)
        index = bisect.bisect_right(self.event_dates, at)
        return DataInterval.exact(self.event_dates[max(index - 1, 0)])


def extra_timetable_from_dict(data: dict[str, Any]) -> Timetable | None:
    """The timetable of this module that ``data`` (from ``serialize()``) describes, else None."""
    kind = data.get("__type")
    if kind == DeltaTriggerTimetable.type_name:
        return DeltaTriggerTimetable(decode_delta(data["delta"]), interval=decode_delta(data["interval"]))
    if kind == MultipleCronTriggerTimetable.type_name:
        ri = data.get("run_immediately", False)
        return MultipleCronTriggerTimetable(
            *data["expressions"], timezone=data.get("timezone", "UTC"),
            interval=timedelta(seconds=data.get("interval", 0)),
            run_immediately=timedelta(seconds=ri["seconds"]) if isinstance(ri, dict) else ri,
        )
    if kind == EventsTimetable.type_name:
        return EventsTimetable([datetime.fromisoformat(d) for d in data["event_dates"]],
                               restrict_to_events=data.get("restrict_to_events", False), presorted=True,
                               description=data.get("description"))
    return None
