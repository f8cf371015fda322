"""``DayOfWeekSensor``: waits until the day of the week is one of ``week_day``.

As in Airflow the day is read in UTC: the clock's (``timezone.utcnow()``, so a simulated clock
drives it) or, with ``use_task_logical_date=True``, the run's logical date (which does not change
between pokes, so a run on another day waits until its timeout). ``week_day`` is a day name
("Monday", any case), a :class:`~tradewind.definition.operators.datetime_branch.WeekDay` member,
or a set/list of them; anything else fails at parse naming the argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradewind.definition import timezone
from tradewind.definition.exceptions import InvalidTaskArgumentError, TradewindException
from tradewind.definition.operators.datetime_branch import WeekDay
from tradewind.definition.sensors.base import BaseSensorOperator

__all__ = ["DayOfWeekSensor"]


class DayOfWeekSensor(BaseSensorOperator):
    """Done when today (UTC), or the run's logical date, falls on one of ``week_day``."""

    def __init__(
        self,
        *,
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        use_task_execution_day: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if use_task_execution_day is not None:  # Airflow 2's name
            self.deprecation_notes.append("use_task_execution_day is deprecated (Airflow 2); use use_task_logical_date")
            use_task_logical_date = use_task_logical_date or bool(use_task_execution_day)
        try:
            self._week_day_num = WeekDay.validate_week_day(week_day)
        except (TypeError, ValueError) as exc:
            raise InvalidTaskArgumentError(f"week_day of DayOfWeekSensor {self.task_id!r}: {exc}") from None
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date

    def poke(self, context: dict[str, Any]) -> bool:
        if self.use_task_logical_date:
            moment = context.get("logical_date")
            if moment is None:
                raise TradewindException(f"task {self.task_id!r} has use_task_logical_date=True but the run has "
                                         "no logical date")
            moment = timezone.to_utc(moment)
        else:
            moment = timezone.utcnow()
        day = moment.isoweekday()
        wanted = sorted(WeekDay(n).name.capitalize() for n in self._week_day_num)
        self.task_logger(context).info("Poking until the weekday is in %s; it is %s (%s, UTC)", wanted,
                                       WeekDay(day).name.capitalize(), moment.date().isoformat())
        return day in self._week_day_num
