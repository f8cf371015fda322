"""Timetables: when a DAG runs, and which data interval each run covers.

Semantics follow Airflow's documented behaviour:

- :class:`NullTimetable` (``schedule=None``): manual runs only.
- :class:`OnceTimetable` (``"@once"``): one run at the start date.
- :class:`CronDataIntervalTimetable` (cron strings and presets; Airflow 2 default): each run covers
  one interval ``[start, end)`` between two cron times and fires at its end. ``logical_date`` is
  the interval start, so ``ds`` is the day the data belongs to.
- :class:`CronTriggerTimetable` (Airflow 3 style): fires at each cron time; ``logical_date`` is
  that time and the data interval is ``[run_after - interval, run_after]``.
- :class:`DeltaDataIntervalTimetable` (``schedule=timedelta(...)``): intervals of fixed length
  laid end to end from the start date.
- ``DeltaTriggerTimetable``, ``MultipleCronTriggerTimetable`` and ``EventsTimetable`` live in
  :mod:`tradewind.definition.timetables_extra` and can be imported from here too.

Cron expressions are evaluated in the timetable's timezone. Wall-clock schedules ("0 8 * * *")
stay at local 08:00 across DST changes: a time that does not exist on a spring-forward day moves
forward by the gap, and an ambiguous time on a fall-back day fires once (first occurrence).
Schedules that fire every hour ("0 * * * *", "*/15 * * * *") fire every real hour instead, so the
repeated hour is covered and the skipped hour is not invented. Every datetime returned is aware
UTC.

All scheduling methods take ``now`` explicitly (the scheduler passes its injectable clock);
``None`` means the current time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, ClassVar, Iterator
from zoneinfo import ZoneInfo

from croniter import croniter

from tradewind.definition.exceptions import InvalidScheduleError
from tradewind.definition.timezone import parse_timezone, timezone_name, to_utc, utc, utcnow

try:  # dateutil ships with croniter; still optional for us.
    from dateutil.relativedelta import relativedelta
except ImportError:  # pragma: no cover - dateutil is a croniter dependency
    relativedelta = None  # type: ignore[assignment,misc]

#: Airflow's schedule presets and the cron expression each one stands for.
CRON_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

# Largest DST shift we expect around a transition; used as the search window there.
_DST_WINDOW = timedelta(hours=3)


# --------------------------------------------------------------------------- value objects
@dataclass(frozen=True)
class DataInterval:
    """The span of data a run covers: ``[start, end)`` (both aware UTC)."""

    start: datetime
    end: datetime

    @classmethod
    def exact(cls, at: datetime) -> "DataInterval":
        return cls(at, at)

    # Airflow's DataInterval is a NamedTuple: DAG code unpacks it (``start, end = interval``)
    # and indexes it.
    def __iter__(self) -> Iterator[datetime]:
        return iter((self.start, self.end))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> datetime:
        return (self.start, self.end)[index]


@dataclass(frozen=True)
class TimeRestriction:
    """Bounds on automated runs: ``earliest`` (start_date), ``latest`` (end_date), ``catchup``."""

    earliest: datetime | None
    latest: datetime | None
    catchup: bool


@dataclass(frozen=True)
class DagRunInfo:
    """What the scheduler needs to create one run.

    ``run_after``: the run may be created at or after this time. ``logical_date`` defaults to the
    data interval's start (Airflow 2 semantics) when not given.
    """

    run_after: datetime
    data_interval: DataInterval
    logical_date: datetime | None = None

    def __post_init__(self) -> None:
        if self.logical_date is None:
            object.__setattr__(self, "logical_date", self.data_interval.start)

    @classmethod
    def exact(cls, at: datetime) -> "DagRunInfo":
        """A run at ``at`` covering the zero-length interval ``[at, at]``."""
        return cls(run_after=at, data_interval=DataInterval.exact(at), logical_date=at)

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> "DagRunInfo":
        """A run covering ``[start, end)``, fired at ``end``, logical date ``start``."""
        return cls(run_after=end, data_interval=DataInterval(start, end), logical_date=start)


def _now(now: datetime | None) -> datetime:
    return utcnow() if now is None else to_utc(now)


def _restriction_utc(restriction: TimeRestriction) -> tuple[datetime | None, datetime | None]:
    earliest = None if restriction.earliest is None else to_utc(restriction.earliest)
    latest = None if restriction.latest is None else to_utc(restriction.latest)
    return earliest, latest


# --------------------------------------------------------------------------- base class
class Timetable:
    """Base of every timetable. Subclasses set :attr:`type_name` and implement the hooks."""

    type_name: ClassVar[str] = ""
    #: False for timetables that never create runs by themselves (``schedule=None``).
    can_be_scheduled: bool = True
    #: True for timetables that repeat at a regular pace (cron, delta).
    periodic: bool = False

    @property
    def summary(self) -> str:
        """Short text shown in listings ("@daily", "0 8 * * *", "None", "1 day, 0:00:00")."""
        raise NotImplementedError

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next automated run after ``last_automated_data_interval``, or None for no more."""
        raise NotImplementedError

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """Data interval of a manually triggered run created at ``run_after``."""
        at = to_utc(run_after)
        return DataInterval.exact(at)

    def serialize(self) -> dict[str, Any]:
        """JSON-safe dict; :func:`timetable_from_dict` turns it back into an equal timetable."""
        return {"__type": self.type_name}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.serialize().items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.summary!r})"


class NullTimetable(Timetable):
    """``schedule=None``: never scheduled; runs are only triggered by hand."""

    type_name = "null"
    can_be_scheduled = False

    @property
    def summary(self) -> str:
        return "None"

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        return None


class OnceTimetable(Timetable):
    """``"@once"``: exactly one automated run, at the start date (catchup does not matter)."""

    type_name = "once"

    @property
    def summary(self) -> str:
        return "@once"

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        if last_automated_data_interval is not None:
            return None
        earliest, latest = _restriction_utc(restriction)
        if earliest is None:
            return None
        if latest is not None and earliest > latest:
            return None
        return DagRunInfo.exact(earliest)


# --------------------------------------------------------------------------- cron evaluation
def _expand_cron(expression: str) -> str:
    """Validate ``expression`` (preset or 5-field cron) and return the cron it stands for."""
    if not isinstance(expression, str):
        raise InvalidScheduleError(f"cron schedule must be a string, got {type(expression).__name__}")
    text = " ".join(expression.split())
    if not text:
        raise InvalidScheduleError("invalid cron schedule '': the schedule string is empty")
    if text.startswith("@"):
        if text == "@once":
            raise InvalidScheduleError("'@once' is not a cron expression; use OnceTimetable")
        if text not in CRON_PRESETS:
            known = ", ".join(["@once", *CRON_PRESETS])
            raise InvalidScheduleError(f"invalid schedule {expression!r}: unknown preset (known: {known})")
        return CRON_PRESETS[text]
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidScheduleError(
            f"invalid cron schedule {expression!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    try:
        # Constructing checks syntax and ranges; one step catches impossible dates ("0 0 30 2 *").
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except Exception as exc:  # croniter raises several error classes; all mean "bad cron"
        raise InvalidScheduleError(f"invalid cron schedule {expression!r}: {exc}") from None
    return text


class CronSchedule:
    """Evaluate one cron expression in one timezone, returning aware UTC instants.

    ``next_after(t)``/``prev_before(t)`` are strict; ``align_next``/``align_prev`` return ``t``
    itself when it is a fire time.
    """

    def __init__(self, expression: str, timezone: str | tzinfo | None = "UTC") -> None:
        self.expression = " ".join(expression.split()) if isinstance(expression, str) else expression
        self.cron = _expand_cron(expression)
        self.timezone: ZoneInfo = parse_timezone(timezone)
        hours = croniter(self.cron).expanded[1]
        # Crons that fire in every hour keep firing every real hour across DST changes.
        self.every_hour = hours == ["*"] or set(hours) == set(range(24))

    # -- DST helpers ------------------------------------------------------------
    def _near_transition(self, instant: datetime) -> bool:
        before = (instant - _DST_WINDOW).astimezone(self.timezone).utcoffset()
        after = (instant + _DST_WINDOW).astimezone(self.timezone).utcoffset()
        return before != after

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.timezone).replace(tzinfo=None, fold=0)

    def _instants(self, wall: datetime) -> list[datetime]:
        """The real instants at which a cron fire time of wall-clock ``wall`` happens."""
        first = wall.replace(tzinfo=self.timezone, fold=0).astimezone(utc)
        second = wall.replace(tzinfo=self.timezone, fold=1).astimezone(utc)
        if first == second:
            return [first]
        if self._wall(first) == wall:  # ambiguous (fall back): the wall time happens twice
            return [first, second] if self.every_hour else [first]
        # Non-existent (spring forward): fold=0 reads it with the old offset, i.e. shifted forward.
        return [] if self.every_hour else [first]

    # -- public ---------------------------------------------------------------------
    def next_after(self, t: datetime) -> datetime:
        t = to_utc(t)
        careful = self._near_transition(t)
        start = self._wall(t) - (_DST_WINDOW if careful else timedelta(0))
        it = croniter(self.cron, start)
        best: datetime | None = None
        best_wall: datetime | None = None
        while True:
            wall = it.get_next(datetime)
            if best_wall is not None and wall > best_wall + _DST_WINDOW:
                return best
            for instant in self._instants(wall):
                if instant > t and (best is None or instant < best):
                    best, best_wall = instant, wall
            if best is not None and not careful and not self._near_transition(best):
                return best

    def prev_before(self, t: datetime) -> datetime:
        t = to_utc(t)
        careful = self._near_transition(t)
        start = self._wall(t) + (_DST_WINDOW if careful else timedelta(0))
        it = croniter(self.cron, start)
        best: datetime | None = None
        best_wall: datetime | None = None
        while True:
            wall = it.get_prev(datetime)
            if best_wall is not None and wall < best_wall - _DST_WINDOW:
                return best
            for instant in self._instants(wall):
                if instant < t and (best is None or instant > best):
                    best, best_wall = instant, wall
            if best is not None and not careful and not self._near_transition(best):
                return best

    def align_next(self, t: datetime) -> datetime:
        t = to_utc(t)
        return t if self.matches(t) else self.next_after(t)

    def align_prev(self, t: datetime) -> datetime:
        t = to_utc(t)
        return t if self.matches(t) else self.prev_before(t)

    def matches(self, t: datetime) -> bool:
        """True when ``t`` is exactly one of the fire times."""
        t = to_utc(t)
        return self.next_after(t - timedelta(microseconds=1)) == t


# --------------------------------------------------------------------------- cron timetables
class _CronTimetableBase(Timetable):
    periodic = True

    def __init__(self, cron: str, timezone: str | tzinfo | None = "UTC") -> None:
        self._schedule = CronSchedule(cron, timezone)

    @property
    def expression(self) -> str:
        """The schedule as written (a preset such as "@daily" stays a preset)."""
        return self._schedule.expression

    @property
    def timezone(self) -> ZoneInfo:
        return self._schedule.timezone

    @property
    def summary(self) -> str:
        return self.expression

    def _base_dict(self) -> dict[str, Any]:
        return {
            "__type": self.type_name,
            "expression": self.expression,
            "timezone": timezone_name(self.timezone),
        }


class CronDataIntervalTimetable(_CronTimetableBase):
    """Runs cover the interval between two consecutive cron times and fire at its end."""

    type_name = "cron_data_interval"

    def serialize(self) -> dict[str, Any]:
        return self._base_dict()

    def _skip_to_latest(self, now: datetime) -> datetime:
        """Start of the latest interval that has completely ended at ``now``."""
        end = self._schedule.align_prev(now)
        return self._schedule.prev_before(end)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        earliest, latest = _restriction_utc(restriction)
        sched = self._schedule
        candidates: list[datetime] = []
        if last_automated_data_interval is not None:
            candidates.append(sched.align_next(last_automated_data_interval.end))
        elif restriction.catchup and earliest is None:
            return None  # catching up needs a start date to catch up from
        if earliest is not None:
            candidates.append(sched.align_next(earliest))
        if not restriction.catchup:
            # Missed intervals are skipped: only the latest complete one (or later) runs.
            candidates.append(self._skip_to_latest(_now(now)))
        start = max(candidates)
        if latest is not None and start > latest:
            return None
        return DagRunInfo.interval(start, sched.next_after(start))

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        # The last complete interval: triggered at 01:00 on the 25th with @daily -> 24th..25th.
        end = self._schedule.align_prev(to_utc(run_after))
        return DataInterval(self._schedule.prev_before(end), end)


class CronTriggerTimetable(_CronTimetableBase):
    """Fires at each cron time; ``logical_date == run_after`` == the cron time.

    ``interval`` sets the data interval ``[run_after - interval, run_after]``. With
    ``catchup=False`` the first run is the next cron time after now, or — with
    ``run_immediately=True`` (or a timedelta the latest past cron time is within) — the latest
    past cron time. After a gap (scheduler down) only the latest missed cron time runs.
    """

    type_name = "cron_trigger"

    def __init__(
        self,
        cron: str,
        timezone: str | tzinfo | None = "UTC",
        *,
        interval: timedelta = timedelta(0),
        run_immediately: bool | timedelta = False,
    ) -> None:
        super().__init__(cron, timezone)
        if not isinstance(interval, timedelta) or interval < timedelta(0):
            raise InvalidScheduleError(f"CronTriggerTimetable interval must be a timedelta >= 0, got {interval!r}")
        if not isinstance(run_immediately, (bool, timedelta)):
            raise InvalidScheduleError(
                f"CronTriggerTimetable run_immediately must be a bool or a timedelta, got {run_immediately!r}"
            )
        self.interval = interval
        self.run_immediately = run_immediately

    def serialize(self) -> dict[str, Any]:
        data = self._base_dict()
        data["interval"] = self.interval.total_seconds()
        ri = self.run_immediately
        data["run_immediately"] = ri if isinstance(ri, bool) else {"seconds": ri.total_seconds()}
        return data

    def _info(self, at: datetime) -> DagRunInfo:
        return DagRunInfo(run_after=at, data_interval=DataInterval(at - self.interval, at), logical_date=at)

    def _first_without_catchup(self, now: datetime) -> datetime:
        sched = self._schedule
        upcoming = sched.align_next(now)
        if self.run_immediately is False:
            return upcoming
        latest_past = sched.align_prev(now)
        if self.run_immediately is True or now - latest_past <= self.run_immediately:
            return latest_past
        return upcoming

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        earliest, latest = _restriction_utc(restriction)
        sched = self._schedule
        last_end = None if last_automated_data_interval is None else last_automated_data_interval.end
        if restriction.catchup:
            if last_end is not None:
                at = sched.next_after(last_end)
            elif earliest is None:
                return None
            else:
                at = sched.align_next(earliest)
        else:
            current = _now(now)
            if last_end is None:
                at = self._first_without_catchup(current)
            else:
                at = max(sched.next_after(last_end), sched.align_prev(current))
            if earliest is not None:
                at = max(at, sched.align_next(earliest))
        if latest is not None and at > latest:
            return None
        return self._info(at)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        at = to_utc(run_after)
        return DataInterval(at - self.interval, at)


# --------------------------------------------------------------------------- delta timetable
def _delta_seconds_estimate(delta: Any) -> float:
    """Rough length of ``delta`` in seconds (exact for timedelta), used only to jump ahead."""
    if isinstance(delta, timedelta):
        return delta.total_seconds()
    approx = (delta.years * 365.2425 + delta.months * 30.436875 + delta.days) * 86400
    return approx + delta.hours * 3600 + delta.minutes * 60 + delta.seconds + delta.microseconds / 1e6


_RELATIVEDELTA_FIELDS = (
    "years", "months", "days", "leapdays", "hours", "minutes", "seconds", "microseconds",
    "year", "month", "day", "hour", "minute", "second", "microsecond",
)


class DeltaDataIntervalTimetable(Timetable):
    """``schedule=timedelta(...)`` (or ``relativedelta``): back-to-back intervals of that length.

    Intervals start at the start date and follow on from each other (``start + k * delta``);
    with ``catchup=False`` missed intervals are skipped and only the latest complete one runs.
    """

    type_name = "delta_data_interval"
    periodic = True

    def __init__(self, delta: Any) -> None:
        is_rd = relativedelta is not None and isinstance(delta, relativedelta)
        if not isinstance(delta, timedelta) and not is_rd:
            raise InvalidScheduleError(f"schedule interval must be a timedelta or relativedelta, got {delta!r}")
        if _delta_seconds_estimate(delta) <= 0:
            raise InvalidScheduleError(f"schedule interval must be positive, got {delta!r}")
        self.delta = delta

    @property
    def summary(self) -> str:
        return str(self.delta)

    def serialize(self) -> dict[str, Any]:
        if isinstance(self.delta, timedelta):
            return {"__type": self.type_name, "delta": self.delta.total_seconds()}
        fields = {name: getattr(self.delta, name) for name in _RELATIVEDELTA_FIELDS}
        fields = {k: v for k, v in fields.items() if v}
        if self.delta.weekday is not None:
            fields["weekday"] = [self.delta.weekday.weekday, self.delta.weekday.n]
        return {"__type": self.type_name, "relativedelta": fields}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "DeltaDataIntervalTimetable":
        if "delta" in data:
            return cls(timedelta(seconds=data["delta"]))
        if relativedelta is None:  # pragma: no cover
            raise InvalidScheduleError("relativedelta schedules need python-dateutil installed")
        fields = dict(data["relativedelta"])
        weekday = fields.pop("weekday", None)
        if weekday is not None:
            from dateutil.relativedelta import weekday as make_weekday

            fields["weekday"] = make_weekday(weekday[0], weekday[1])
        return cls(relativedelta(**fields))

    def _step(self, anchor: datetime, k: int) -> datetime:
        return anchor + self.delta * k

    def _latest_complete_start(self, anchor: datetime, now: datetime) -> datetime:
        """Largest ``anchor + k*delta`` (k >= 0) whose interval has ended by ``now``."""
        if now < self._step(anchor, 1):
            return anchor
        k = max(int((now - anchor).total_seconds() // _delta_seconds_estimate(self.delta)) - 1, 0)
        # The estimate is exact for timedelta; relativedelta lengths vary, so correct by stepping.
        while k > 0 and self._step(anchor, k + 1) > now:
            k -= 1
        while self._step(anchor, k + 2) <= now:
            k += 1
        return self._step(anchor, k)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now=None):
        earliest, latest = _restriction_utc(restriction)
        if last_automated_data_interval is not None:
            start = to_utc(last_automated_data_interval.end)
            if earliest is not None:
                start = max(start, earliest)
        elif earliest is not None:
            start = earliest
        else:
            return None  # intervals are laid out from the start date; without one there is none
        if not restriction.catchup:
            start = self._latest_complete_start(start, _now(now))
        if latest is not None and start > latest:
            return None
        return DagRunInfo.interval(start, start + self.delta)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        end = to_utc(run_after)
        return DataInterval(end - self.delta, end)


# --------------------------------------------------------------------------- factories
_SCHEDULE_HELP = (
    "use None, '@once', a preset (@hourly, @daily, @weekly, @monthly, @quarterly, @yearly), "
    "a 5-field cron string, a timedelta, a Timetable instance, or assets (an Asset, a list of them, a & b, a | b)"
)


def timetable_from_schedule(schedule: Any, timezone: str | tzinfo | None = "UTC") -> Timetable:
    """Turn a DAG's ``schedule`` argument into a :class:`Timetable`.

    Raises :class:`InvalidScheduleError` naming the value and what is wrong with it.
    """
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, Timetable):
        return schedule
    if isinstance(schedule, str):
        text = schedule.strip()
        if text == "@once":
            return OnceTimetable()
        if text == "@continuous":
            raise InvalidScheduleError("schedule '@continuous' is not supported by Tradewind; " + _SCHEDULE_HELP)
        return CronDataIntervalTimetable(text, timezone)
    if isinstance(schedule, timedelta) or (relativedelta is not None and isinstance(schedule, relativedelta)):
        return DeltaDataIntervalTimetable(schedule)
    from tradewind.definition.assets import timetable_for_schedule  # assets build on this module

    asset_timetable = timetable_for_schedule(schedule)
    if asset_timetable is not None:
        return asset_timetable
    raise InvalidScheduleError(f"invalid schedule {schedule!r} ({type(schedule).__name__}): {_SCHEDULE_HELP}")


def timetable_from_dict(data: dict[str, Any]) -> Timetable:
    """Inverse of :meth:`Timetable.serialize`."""
    kind = data.get("__type")
    if kind == NullTimetable.type_name:
        return NullTimetable()
    if kind == OnceTimetable.type_name:
        return OnceTimetable()
    if kind == CronDataIntervalTimetable.type_name:
        return CronDataIntervalTimetable(data["expression"], data.get("timezone", "UTC"))
    if kind == CronTriggerTimetable.type_name:
        ri = data.get("run_immediately", False)
        if isinstance(ri, dict):
            ri = timedelta(seconds=ri["seconds"])
        return CronTriggerTimetable(
            data["expression"],
            data.get("timezone", "UTC"),
            interval=timedelta(seconds=data.get("interval", 0)),
            run_immediately=ri,
        )
    if kind == DeltaDataIntervalTimetable.type_name:
        return DeltaDataIntervalTimetable._from_dict(data)
    from tradewind.definition.assets import timetable_from_asset_dict
    from tradewind.definition.timetables_extra import extra_timetable_from_dict

    asset_timetable = timetable_from_asset_dict(data)
    if asset_timetable is not None:
        return asset_timetable
    extra = extra_timetable_from_dict(data)
    if extra is not None:
        return extra
    raise InvalidScheduleError(f"unknown serialized timetable type {kind!r} in {data!r}")


def iter_dagrun_infos(
    timetable: Timetable,
    *,
    start: datetime | None,
    end: datetime | None = None,
    catchup: bool = True,
    now: datetime | None = None,
    limit: int | None = None,
    last_automated_data_interval: DataInterval | None = None,
) -> Iterator[DagRunInfo]:
    """Successive automated runs of ``timetable`` (what the scheduler would create, in order).

    Stops at the timetable's end, past ``end``, or after ``limit`` runs. ``now`` matters only
    for ``catchup=False`` (which intervals are skipped). Without ``end`` or ``limit`` a periodic
    timetable yields forever.
    """
    restriction = TimeRestriction(earliest=start, latest=end, catchup=catchup)
    last = last_automated_data_interval
    count = 0
    while limit is None or count < limit:
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction, now=now)
        if info is None or (last is not None and info.data_interval == last):
            return
        yield info
        count += 1
        last = info.data_interval


_EXTRA_TIMETABLES = frozenset({"DeltaTriggerTimetable", "EventsTimetable", "MultipleCronTriggerTimetable"})


def __getattr__(name: str) -> Any:
    """The timetables of :mod:`tradewind.definition.timetables_extra`, read through this module.

    Lazy because that module builds on this one (an import at the top would be circular).
    """
    if name in _EXTRA_TIMETABLES:
        from tradewind.definition import timetables_extra

        return getattr(timetables_extra, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
