"""Planned runs per UTC day for the Calendar view, computed without stepping run by run.

A DAG on ``*/5 * * * *`` plans 105,000 runs a year; stepping its timetable one run at a time
costs seconds. Instead:

- a cron timetable (data-interval or trigger) fires at the same wall-clock times on every day its
  day fields match, so a day's count is the number of (hour, minute) pairs, split between two
  UTC days by the zone's offset; only the first and last day of the range and the days a DST
  change happens on convert each fire time;
- a ``timedelta`` timetable fires at ``start_date + k * delta``: a day's count is arithmetic;
- any other timetable (relativedelta, events, custom classes) is stepped at most
  :data:`MAX_STEPS` times, and the answer says when that cut the range short.

The logical date of a planned run is its cron time / interval start (what the run will carry).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from tradewind.parse.snapshot import DagSnapshot

#: Timetable steps at most for a timetable the arithmetic does not cover.
MAX_STEPS = 200
DAY = timedelta(days=1)


def planned_per_day(snapshot: DagSnapshot, lower: datetime, upper: datetime) -> tuple[dict[str, int], bool]:
    """({'YYYY-MM-DD': runs}, truncated) for planned logical dates in ``[lower, upper)`` (UTC days)."""
    from tradewind.definition.timetables import (
        CronDataIntervalTimetable,
        CronTriggerTimetable,
        DeltaDataIntervalTimetable,
    )
    from tradewind.schedule.runs import timetable_of

    start_date, end_date = snapshot.start_date_dt, snapshot.end_date_dt
    if start_date is not None:
        lower = max(lower, start_date)
    if end_date is not None:
        upper = min(upper, end_date + timedelta(microseconds=1))  # the end date itself may still run
    if upper <= lower:
        return {}, False
    tt = timetable_of(snapshot)
    if not tt.can_be_scheduled:
        return {}, False
    if isinstance(tt, (CronDataIntervalTimetable, CronTriggerTimetable)):
        counts = cron_day_counts(tt._schedule.cron, tt.timezone, lower, upper)
        if counts is not None:
            return counts, False
    if isinstance(tt, DeltaDataIntervalTimetable) and isinstance(tt.delta, timedelta) and start_date is not None:
        return delta_day_counts(start_date, tt.delta, lower, upper), False
    return _stepped(tt, lower, upper)


def _stepped(tt: Any, lower: datetime, upper: datetime) -> tuple[dict[str, int], bool]:
    from tradewind.definition.timetables import TimeRestriction

    restriction = TimeRestriction(lower, None, True)
    days: Counter[str] = Counter()
    info = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    for _ in range(MAX_STEPS):
        if info is None or info.logical_date is None or info.logical_date >= upper:
            return dict(days), False
        if info.logical_date >= lower:
            days[info.logical_date.astimezone(timezone.utc).date().isoformat()] += 1
        following = tt.next_dagrun_info(last_automated_data_interval=info.data_interval, restriction=restriction)
        if following is not None and following.data_interval == info.data_interval:
            return dict(days), False  # a timetable that does not move on
        info = following
    return dict(days), info is not None and info.logical_date is not None and info.logical_date < upper


def delta_day_counts(anchor: datetime, delta: timedelta, lower: datetime, upper: datetime) -> dict[str, int]:
    """Per UTC day, how many ``anchor + k * delta`` (k >= 0) fall in ``[lower, upper)``."""
    step = delta.total_seconds()

    def below(t: datetime) -> int:
        """How many k >= 0 have anchor + k*delta < t."""
        span = (t - anchor).total_seconds()
        return 0 if span <= 0 else math.ceil(span / step)

    days: dict[str, int] = {}
    day = datetime.combine(lower.astimezone(timezone.utc).date(), time(), timezone.utc)
    while day < upper:
        n = below(min(day + DAY, upper)) - below(max(day, lower))
        if n > 0:
            days[day.date().isoformat()] = n
        day += DAY
    return days


def _field(values: list[Any], low: int, high: int) -> set[int] | None | bool:
    """A cron field as a set of ints; None for '*'; False when it holds what this module does not
    model (L, W, #, ...)."""
    if values == ["*"]:
        return None
    if not all(isinstance(v, int) for v in values):
        return False
    return {v for v in values if low <= v <= high} | ({0} if 7 in values and high == 6 else set())


def cron_day_counts(cron: str, zone: tzinfo, lower: datetime, upper: datetime) -> dict[str, int] | None:
    """Per UTC day, the fire times of a 5-field ``cron`` in ``zone`` within ``[lower, upper)``;
    None for a cron this arithmetic does not model (the caller steps the timetable instead)."""
    from croniter import croniter

    try:
        fields = croniter(cron).expanded
    except Exception:  # noqa: BLE001 - an expression croniter refuses is the stepping fallback's
        return None
    if len(fields) != 5:
        return None
    minutes, hours, doms, months, dows = (_field(fields[0], 0, 59), _field(fields[1], 0, 23),
                                          _field(fields[2], 1, 31), _field(fields[3], 1, 12),
                                          _field(fields[4], 0, 6))
    if False in (minutes, hours, doms, months, dows):
        return None
    day_minutes = sorted(h * 60 + m for h in (hours if hours is not None else range(24))
                         for m in (minutes if minutes is not None else range(60)))
    if not day_minutes:
        return {}

    def matches(d: date) -> bool:
        if months is not None and d.month not in months:
            return False
        dom_ok = doms is None or d.day in doms
        dow_ok = dows is None or (d.isoweekday() % 7) in dows
        if doms is not None and dows is not None:
            return dom_ok or dow_ok  # cron: either day field may match when both are restricted
        return dom_ok and dow_ok

    counts: Counter[date] = Counter()
    first = lower.astimezone(zone).date()
    last = upper.astimezone(zone).date()
    d = first
    while d <= last:
        if matches(d):
            midnight = datetime.combine(d, time(), zone)
            following = datetime.combine(d + DAY, time(), zone)
            offset = midnight.utcoffset()
            exact = (d in (first, last) or offset != following.utcoffset()
                     or midnight < lower or following > upper)
            if exact or offset is None:
                for minute in day_minutes:
                    wall = datetime.combine(d, time(minute // 60, minute % 60), zone)
                    at = wall.astimezone(timezone.utc)
                    if lower <= at < upper:
                        counts[at.date()] += 1
            else:
                shift = int(offset.total_seconds() // 60)  # UTC minute = local minute - shift
                previous = bisect.bisect_left(day_minutes, shift)  # local minutes before `shift`
                nxt = len(day_minutes) - bisect.bisect_left(day_minutes, 1440 + shift)
                same = len(day_minutes) - previous - nxt
                for when, n in ((d - DAY, previous), (d, same), (d + DAY, nxt)):
                    if n:
                        counts[when] += n
        d += DAY
    return {day.isoformat(): n for day, n in sorted(counts.items())}
