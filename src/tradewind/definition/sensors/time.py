"""Sensors that wait for a moment in time: ``TimeDeltaSensor``, ``DateTimeSensor``, ``TimeSensor``,
and their deferrable forms ``TimeDeltaSensorAsync``, ``DateTimeSensorAsync``, ``TimeSensorAsync``.

They read the time through :func:`tradewind.definition.timezone.utcnow`, so a simulated
clock drives them. Each one computes an aware UTC target and pokes ``utcnow() > target``.

With ``deferrable=True`` (what the ``...Async`` classes set) ``execute`` does not poke: a
target already past returns at once; otherwise the task defers to a
:class:`~tradewind.definition.triggers.DateTimeTrigger` of the target, with the sensor's
``timeout`` as the deferral timeout, and ``execute_complete`` finishes it once the trigger fires.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from tradewind.definition import timezone
from tradewind.definition.exceptions import InvalidTaskArgumentError, TradewindException
from tradewind.definition.sensors.base import BaseSensorOperator
from tradewind.definition.triggers.temporal import DateTimeTrigger

__all__ = [
    "DateTimeSensor",
    "DateTimeSensorAsync",
    "TimeDeltaSensor",
    "TimeDeltaSensorAsync",
    "TimeSensor",
    "TimeSensorAsync",
]


class _MomentSensor(BaseSensorOperator):
    """A sensor done once the clock passes :meth:`target` (shared poke, logging and deferrable mode).

    ``end_from_trigger`` is accepted as in Airflow and handed to the trigger; the task still
    resumes in ``execute_complete`` (see docs/deferral.md).
    """

    def __init__(self, *, deferrable: bool = False, end_from_trigger: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deferrable = bool(deferrable)
        self.end_from_trigger = bool(end_from_trigger)

    def target(self, context: dict[str, Any]) -> datetime:
        """The aware moment to wait for."""
        raise NotImplementedError(f"{type(self).__name__} must implement target(context)")

    def poke(self, context: dict[str, Any]) -> bool:
        target = self.target(context)
        self.task_logger(context).info("Checking if the time (%s) has come", target.isoformat())
        return timezone.utcnow() > target

    def execute(self, context: dict[str, Any]) -> Any:
        if not self.deferrable:
            return super().execute(context)
        target = self.target(context)
        log = self.task_logger(context)
        if timezone.utcnow() > target:
            log.info("The time (%s) has already come; not deferring", target.isoformat())
            return None
        log.info("Deferring until %s (timeout %gs)", target.isoformat(), self.timeout)
        self.defer(trigger=DateTimeTrigger(target, end_from_trigger=self.end_from_trigger),
                   method_name="execute_complete", timeout=self.defer_timeout())
        return None  # never reached: defer raises

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> None:
        """The trigger fired: the moment has come, the sensor is done."""
        self.task_logger(context).info("The time (%s) has come", event)


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


class TimeDeltaSensorAsync(TimeDeltaSensor):
    """:class:`TimeDeltaSensor` that defers instead of poking (Airflow's ``TimeDeltaSensorAsync``):
    the same as ``TimeDeltaSensor(..., deferrable=True)``."""

    def __init__(self, *, delta: timedelta, **kwargs: Any) -> None:
        kwargs["deferrable"] = True
        super().__init__(delta=delta, **kwargs)


class DateTimeSensorAsync(DateTimeSensor):
    """:class:`DateTimeSensor` that defers instead of poking (Airflow's ``DateTimeSensorAsync``)."""

    def __init__(self, *, target_time: str | datetime, **kwargs: Any) -> None:
        kwargs["deferrable"] = True
        super().__init__(target_time=target_time, **kwargs)


class TimeSensorAsync(TimeSensor):
    """:class:`TimeSensor` that defers instead of poking (Airflow's ``TimeSensorAsync``)."""

    def __init__(self, *, target_time: time, **kwargs: Any) -> None:
        kwargs["deferrable"] = True
        super().__init__(target_time=target_time, **kwargs)
