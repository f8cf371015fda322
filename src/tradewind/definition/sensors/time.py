"""Sensors that wait for a moment in time: ``TimeDeltaSensor``, ``DateTimeSensor``, ``TimeSensor``.

They read the time through :func:`tradewind.definition.timezone.utcnow`, so a simulated
clock drives them. Each one computes an aware UTC target and pokes ``utcnow() > target``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from tradewind.definition import timezone
from tradewind.definition.exceptions import InvalidTaskArgumentError, TradewindException
from tradewind.definition.sensors.base import BaseSensorOperator

__all__ = ["TimeDeltaSensor", "DateTimeSensor", "TimeSensor"]


class _MomentSensor(BaseSensorOperator):
    """A sensor done once the clock passes :meth:`target` (shared poke and logging)."""

    def target(self, context: dict[str, Any]) -> datetime:
        """The aware moment to wait for."""
        raise NotImplementedError(f"{type(self).__name__} must implement target(context)")

    def poke(self, context: dict[str, Any]) -> bool:
        target = self.target(context)
        self.task_logger(context).info("Checking if the time (%s) has come", target.isoformat())
        return timezone.utcnow() > target


class TimeDeltaSensor(_MomentSensor):
    """Waits until ``delta`` after the run's data interval end (Airflow's ``TimeDeltaSensor``).

    Without a data interval (a manual run of an unscheduled DAG) the logical date, then the
    run's ``run_after``, is the base.
    """

    def __init__(self, *, delta: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(delta, timedelta):
            raise InvalidTaskArgumentError(f"delta of sensor {self.task_id!r} must be a timedelta, got {delta!r}")
        self.delta = delta

    def target(self, context: dict[str, Any]) -> datetime:
        dag_run = context.get("dag_run")
        for base in (context.get("data_interval_end"), context.get("logical_date"),
                     getattr(dag_run, "run_after", None)):
            if base is not None:
                return timezone.to_utc(base) + self.delta
        raise TradewindException(
            f"TimeDeltaSensor {self.task_id!r}: the run has no data interval, logical date or run_after to add "
            f"delta to"
        )


class DateTimeSensor(_MomentSensor):
    """Waits until ``target_time`` (a datetime or a templated ISO string; naive values are in the
    DAG's time zone)."""

    template_fields = ("target_time",)

    def __init__(self, *, target_time: str | datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(target_time, datetime):
            self.target_time: str = target_time.isoformat()
        elif isinstance(target_time, str):
            self.target_time = target_time
        else:
            raise InvalidTaskArgumentError(
                f"target_time of sensor {self.task_id!r} must be a datetime or a string, got "
                f"{type(target_time).__name__}: {target_time!r}"
            )

    def target(self, context: dict[str, Any]) -> datetime:
        zone = self.dag.timezone if self.has_dag() else None
        try:
            return timezone.to_utc(self.target_time, zone)
        except timezone.TimezoneError as exc:
            raise TradewindException(f"DateTimeSensor {self.task_id!r}: target_time {exc}") from None


class TimeSensor(_MomentSensor):
    """Waits until the time of day ``target_time`` has passed, today, in the DAG's time zone."""

    def __init__(self, *, target_time: time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_time, time):
            raise InvalidTaskArgumentError(
                f"target_time of sensor {self.task_id!r} must be a datetime.time, got {target_time!r}"
            )
        self.target_time = target_time

    def target(self, context: dict[str, Any]) -> datetime:
        zone = timezone.parse_timezone(self.dag.timezone if self.has_dag() else None)
        today = timezone.utcnow().astimezone(zone).date()
        wall = self.target_time.replace(tzinfo=None)
        return datetime.combine(today, wall, tzinfo=zone).astimezone(timezone.utc)
