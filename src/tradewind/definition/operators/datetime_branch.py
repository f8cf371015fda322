"""Branching on the clock: ``BaseBranchOperator``, ``BranchDateTimeOperator``, ``BranchDayOfWeekOperator``.

Both clock operators compare either the current time or, with
``use_task_logical_date=True``, the run's logical date. "Now" comes from
:func:`current_time`, a module-level function so tests (and anyone replaying a
run) can substitute the clock. Wall-clock bounds (``time`` values, naive
datetimes) and weekdays are read in the DAG's timezone.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from tradewind.definition import timezone as tz_helpers
from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import InvalidTaskArgumentError, TradewindException
from tradewind.definition.operators.python import _expand_branch_ids

__all__ = [
    "BaseBranchOperator",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "WeekDay",
    "current_time",
]


def current_time() -> datetime:
    """The time the clock operators compare against (aware UTC); replaceable in tests."""
    return tz_helpers.utcnow()


def _as_task_ids(value: Any, name: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidTaskArgumentError(f"{name} of {where} must be a task_id or a list of task_ids, got {value!r}")


class BaseBranchOperator(BaseOperator):
    """A task that chooses which direct downstream tasks run: subclasses implement ``choose_branch``.

    ``choose_branch(context)`` returns a task_id, a list of task_ids (task-group ids
    stand for the group's root tasks) or None; every direct downstream task not
    chosen is skipped. ``execute`` returns the choice (pushed as XCom).
    """

    inherits_from_skipmixin = True

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement choose_branch(context)")

    def execute(self, context: dict[str, Any]) -> Any:
        branches = self.choose_branch(context)
        self.skip_all_except(context, branches)
        return branches

    def skip_all_except(self, context: dict[str, Any], branches: Any) -> None:
        """Skip the direct downstream tasks not in ``branches``."""
        chosen = _expand_branch_ids(self, branches)
        to_skip = sorted(self.downstream_task_ids - chosen)
        self.task_logger(context).info("Following branch %s; skipping %s", sorted(chosen), to_skip)
        if to_skip:
            context["ti"].skip_tasks(to_skip)


def _dag_zone(task: BaseOperator) -> tzinfo:
    dag = task.dag
    return getattr(dag, "timezone", None) or tz_helpers.UTC_ZONE


def _compared_time(task: BaseOperator, context: dict[str, Any], use_logical_date: bool) -> datetime:
    """The logical date (if asked for) or :func:`current_time`, aware, in the DAG's timezone."""
    if use_logical_date:
        value = context.get("logical_date")
        if value is None:
            raise TradewindException(
                f"task {task.task_id!r} has use_task_logical_date=True but the run has no logical date"
            )
    else:
        value = current_time()
    return tz_helpers.to_utc(value).astimezone(_dag_zone(task))


class BranchDateTimeOperator(BaseBranchOperator):
    """Follows ``follow_task_ids_if_true`` when ``target_lower <= now < target_upper``, else the other branch.

    Bounds are datetimes or ``time`` values (a time means that time on the compared
    date, in the DAG's timezone); one of them may be None (unbounded). Two times with
    ``target_upper <= target_lower`` describe a window across midnight (22:00 to 02:00).
    """

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        target_lower: datetime | time | None,
        target_upper: datetime | time | None,
        use_task_logical_date: bool = False,
        use_task_execution_date: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = f"task {self.task_id!r}"
        if use_task_execution_date is not None:  # Airflow 2's name
            self.deprecation_notes.append("use_task_execution_date is deprecated (Airflow 2); use use_task_logical_date")
            use_task_logical_date = use_task_logical_date or use_task_execution_date
        if target_lower is None and target_upper is None:
            raise InvalidTaskArgumentError(
                f"{where}: both target_lower and target_upper are None; at least one must be set"
            )
        for name, bound in (("target_lower", target_lower), ("target_upper", target_upper)):
            if bound is not None and not isinstance(bound, (datetime, time)):
                raise InvalidTaskArgumentError(
                    f"{name} of {where} must be a datetime, a time or None, got {type(bound).__name__}: {bound!r}"
                )
        self.follow_task_ids_if_true = _as_task_ids(follow_task_ids_if_true, "follow_task_ids_if_true", where)
        self.follow_task_ids_if_false = _as_task_ids(follow_task_ids_if_false, "follow_task_ids_if_false", where)
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.use_task_logical_date = use_task_logical_date

    def target_window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The bounds as aware datetimes for the compared moment ``now`` (aware, DAG timezone)."""
        zone = now.tzinfo
        lower, upper = self.target_lower, self.target_upper

        def on_date(value: datetime | time | None, day: Any) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, datetime):
                return tz_helpers.to_utc(value, _dag_zone(self))  # naive = wall time in the DAG's zone
            combined = datetime.combine(day, value.replace(tzinfo=None))
            return combined.replace(tzinfo=value.tzinfo or zone)

        low, up = on_date(lower, now.date()), on_date(upper, now.date())
        both_times = isinstance(lower, time) and not isinstance(lower, datetime) \
            and isinstance(upper, time) and not isinstance(upper, datetime)
        if both_times and low is not None and up is not None and up <= low:
            # A window across midnight: it is either the one that started today or yesterday.
            if now >= low:
                up = up + timedelta(days=1)
            else:
                low = low - timedelta(days=1)
        return low, up

    def choose_branch(self, context: dict[str, Any]) -> list[str]:
        now = _compared_time(self, context, self.use_task_logical_date)
        lower, upper = self.target_window(now)
        inside = (lower is None or lower <= now) and (upper is None or now < upper)
        self.task_logger(context).info(
            "Compared %s with window [%s, %s): %s", now.isoformat(),
            None if lower is None else lower.isoformat(), None if upper is None else upper.isoformat(),
            "inside" if inside else "outside",
        )
        return self.follow_task_ids_if_true if inside else self.follow_task_ids_if_false


class WeekDay(enum.IntEnum):
    """Days of the week, numbered as ``datetime.isoweekday()`` (Monday is 1)."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> int:
        """The number of a day name ("Monday", "monday", "MONDAY"); ValueError when unknown."""
        try:
            return cls[week_day_str.upper()].value
        except (KeyError, AttributeError):
            valid = ", ".join(d.name.capitalize() for d in cls)
            raise ValueError(f"invalid week day {week_day_str!r}; valid days: {valid}") from None

    @classmethod
    def convert(cls, day: "str | WeekDay") -> int:
        """A day name or member as its number."""
        if isinstance(day, cls):
            return day.value
        if isinstance(day, str):
            return cls.get_weekday_number(day)
        raise ValueError(f"a week day must be a day name or a WeekDay, got {type(day).__name__}: {day!r}")

    @classmethod
    def validate_week_day(cls, week_day: Any) -> set[int]:
        """One day or a collection of days (names or members) as a set of day numbers."""
        if isinstance(week_day, (str, cls)):
            return {cls.convert(week_day)}
        if isinstance(week_day, Iterable):
            days = {cls.convert(day) for day in week_day}
            if not days:
                raise ValueError("week_day is empty; give at least one day")
            return days
        raise ValueError(
            f"week_day must be a day name, a WeekDay or a collection of them, got {type(week_day).__name__}: "
            f"{week_day!r}"
        )


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follows ``follow_task_ids_if_true`` when today (or the logical date) is one of ``week_day``.

    ``week_day``: a day name ("Monday"), a :class:`WeekDay` member, or a set/list of them.
    The weekday is taken in the DAG's timezone.
    """

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        use_task_execution_day: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = f"task {self.task_id!r}"
        if use_task_execution_day is not None:  # Airflow 2's name
            self.deprecation_notes.append("use_task_execution_day is deprecated (Airflow 2); use use_task_logical_date")
            use_task_logical_date = use_task_logical_date or use_task_execution_day
        try:
            self._week_day_num = WeekDay.validate_week_day(week_day)
        except ValueError as exc:
            raise InvalidTaskArgumentError(f"week_day of {where}: {exc}") from None
        self.follow_task_ids_if_true = _as_task_ids(follow_task_ids_if_true, "follow_task_ids_if_true", where)
        self.follow_task_ids_if_false = _as_task_ids(follow_task_ids_if_false, "follow_task_ids_if_false", where)
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: dict[str, Any]) -> list[str]:
        now = _compared_time(self, context, self.use_task_logical_date)
        matches = now.isoweekday() in self._week_day_num
        self.task_logger(context).info(
            "%s is a %s: %s", now.date().isoformat(), WeekDay(now.isoweekday()).name.capitalize(),
            "one of the days" if matches else "not one of the days",
        )
        return self.follow_task_ids_if_true if matches else self.follow_task_ids_if_false
