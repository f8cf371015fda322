"""``BaseSensorOperator``: a task that waits for something by asking ("poking") again and again.

A subclass implements ``poke(context)``, returning a truthy value (or a
:class:`PokeReturnValue`) once the condition holds. :meth:`BaseSensorOperator.execute`
pokes until then, with Airflow's two modes:

* ``mode="poke"`` — the try keeps its slot and process and sleeps ``poke_interval``
  between pokes;
* ``mode="reschedule"`` — after a negative poke the try raises :class:`RescheduleTry`: the
  runner records the instance ``up_for_reschedule`` (slot and process freed) and the
  scheduler starts the *same try* again after the interval. The ``timeout`` of a
  rescheduled try counts from its first poke (the first ``task_reschedule`` row of the
  try, read through ``context["ti"].get_first_reschedule_date()``).

``timeout`` (default 7 days) ends the wait with :class:`SensorTimeout` (fails without
retry) or, with ``soft_fail``, a skip. Deferrable sensors (``deferrable=True``, the ``...Async``
classes) hand the wait to a trigger with that ``timeout`` as the deferral timeout;
:meth:`BaseSensorOperator.resume_execution` turns the deferral's timeout into the same
:class:`SensorTimeout` / skip. ``exponential_backoff`` grows the interval as
Airflow does: for poke number ``n`` a value in ``[m, 2m)`` with
``m = max(int(poke_interval * 2 ** (n - 2)), 1)`` seconds, the spread chosen by a hash of
the DAG, task, start and ``n`` (deterministic, so restarts agree), capped by the time left
before ``timeout`` and by ``max_wait``.

Time is read through :func:`tradewind.definition.timezone.utcnow`, so a simulated clock
drives timeouts and reschedule dates.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from datetime import datetime, timedelta
from typing import Any, ClassVar

from tradewind.definition import timezone
from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.helpers import DagContext
from tradewind.definition.exceptions import (
    InvalidTaskArgumentError,
    RescheduleTry,
    SensorTimeout,
    TaskDeferralTimeout,
    TaskFailNoRetry,
    TaskSkipped,
    TaskTimeout,
    TradewindException,
)

__all__ = ["BaseSensorOperator", "PokeReturnValue"]

#: Airflow's default sensor timeout: one week.
DEFAULT_SENSOR_TIMEOUT = 60 * 60 * 24 * 7


class PokeReturnValue:
    """What ``poke`` may return instead of a bool: whether the wait is over, and the value
    the sensor pushes as its XCom ``return_value`` when it is."""

    def __init__(self, is_done: bool, xcom_value: Any = None) -> None:
        self.is_done = bool(is_done)
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return self.is_done

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done}, xcom_value={self.xcom_value!r})"


def _seconds(value: Any, name: str, where: str, *, allow_none: bool = False) -> float | None:
    """A non-negative number of seconds from a number or timedelta; a clear error otherwise."""
    if value is None and allow_none:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidTaskArgumentError(
            f"{name} of {where} must be a number of seconds or a timedelta, got {value!r}"
        )
    if seconds < 0:
        raise InvalidTaskArgumentError(f"{name} of {where} must not be negative, got {value!r}")
    return seconds


class BaseSensorOperator(BaseOperator):
    """Base class of sensors (Airflow's ``BaseSensorOperator``); subclasses implement ``poke``."""

    ui_color = "#e6f1f2"
    valid_modes: ClassVar[tuple[str, ...]] = ("poke", "reschedule")

    def __init__(
        self,
        *,
        poke_interval: timedelta | float = 60,
        timeout: timedelta | float = DEFAULT_SENSOR_TIMEOUT,
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: timedelta | float | None = None,
        silent_fail: bool = False,
        never_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        # Checked before BaseOperator adds the task to its DAG, so a bad sensor is never half-added.
        dag = kwargs.get("dag") or DagContext.get_current_dag()
        where = f"sensor {kwargs.get('task_id')!r}" + (f" in DAG {dag.dag_id!r}" if dag is not None else "")
        poke_interval_s = _seconds(poke_interval, "poke_interval", where)
        timeout_s = _seconds(timeout, "timeout", where)
        max_wait_s = _seconds(max_wait, "max_wait", where, allow_none=True)
        if mode not in self.valid_modes:
            raise InvalidTaskArgumentError(
                f"mode of {where} must be one of {', '.join(map(repr, self.valid_modes))}, got {mode!r}"
            )
        if soft_fail and never_fail:
            raise InvalidTaskArgumentError(
                f"{where}: soft_fail and never_fail are mutually exclusive; set at most one of them"
            )
        super().__init__(**kwargs)
        self.poke_interval: float = poke_interval_s  # type: ignore[assignment]
        self.timeout: float = timeout_s  # type: ignore[assignment]
        self.max_wait = None if max_wait_s is None else timedelta(seconds=max_wait_s)
        self.mode = mode
        self.soft_fail = bool(soft_fail)
        self.never_fail = bool(never_fail)
        self.silent_fail = bool(silent_fail)
        self.exponential_backoff = bool(exponential_backoff)

    @property
    def reschedule(self) -> bool:
        """True in ``reschedule`` mode (Airflow's attribute)."""
        return self.mode == "reschedule"

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        """Check the condition once; truthy (or ``PokeReturnValue(True, ...)``) ends the wait."""
        raise NotImplementedError(f"{type(self).__name__} must implement poke(context)")

    # ----------------------------------------------------------------------- the wait
    def execute(self, context: dict[str, Any]) -> Any:
        log = self.task_logger(context)
        started_at, poke_count = self._resume_point(context)
        while True:
            result = self._poke_once(context, log)
            if result:
                log.info("Success criteria met. Exiting.")
                return result.xcom_value if isinstance(result, PokeReturnValue) else None
            waited = (timezone.utcnow() - started_at).total_seconds()
            if waited > self.timeout:
                message = (f"Sensor {self.task_id!r} has timed out: it has waited {waited:g}s, more than its "
                           f"timeout of {self.timeout:g}s.")
                if self.soft_fail:
                    raise TaskSkipped(f"{message} Skipping because soft_fail is set.")
                raise SensorTimeout(message)
            interval = self.next_poke_interval(started_at, waited, poke_count)
            if self.reschedule:
                reschedule_date = timezone.utcnow() + timedelta(seconds=interval)
                log.info("Condition not met; rescheduling the sensor for %s (poke %d)",
                         reschedule_date.isoformat(), poke_count)
                raise RescheduleTry(reschedule_date)
            log.info("Condition not met; poking again in %gs (poke %d)", interval, poke_count)
            time.sleep(interval)
            poke_count += 1

    # ------------------------------------------------------------------ deferrable mode
    def defer_timeout(self) -> timedelta:
        """The deferral timeout of a deferrable sensor: its ``timeout``, so a deferred wait ends
        like a poked one (Airflow passes the sensor's timeout to ``defer``)."""
        return timedelta(seconds=self.timeout)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None,
                         context: dict[str, Any]) -> Any:
        """Resume a deferred sensor with sensor semantics (Airflow's ``BaseSensorOperator``).

        The deferral timing out is the sensor timing out: :class:`SensorTimeout` (fails without
        retry), or a skip with ``soft_fail``. With ``soft_fail``, any other failure of the wait
        or of the resumed method (a trigger error, an error raised by ``execute_complete``)
        skips the task too.
        """
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except TaskDeferralTimeout as exc:
            message = (f"Sensor {self.task_id!r} has timed out: its trigger did not fire within its timeout of "
                       f"{self.timeout:g}s ({exc}).")
            if self.soft_fail:
                raise TaskSkipped(f"{message} Skipping because soft_fail is set.") from exc
            raise SensorTimeout(message) from exc
        except TaskSkipped:
            raise
        except TradewindException as exc:
            if self.soft_fail:
                raise TaskSkipped(f"Skipping because soft_fail is set: {type(exc).__name__}: {exc}") from exc
            raise

    def _resume_point(self, context: dict[str, Any]) -> tuple[datetime, int]:
        """When this try's wait began and which poke this is (> 1 when a rescheduled try resumes)."""
        now = timezone.utcnow()
        if not self.reschedule:
            return now, 1
        ti = context.get("ti")
        first = getattr(ti, "get_first_reschedule_date", None)
        count = getattr(ti, "get_reschedule_count", None)
        started = first(context) if callable(first) else None
        previous = count() if callable(count) else 0
        return (started or now), previous + 1

    def _poke_once(self, context: dict[str, Any], log: Any) -> bool | PokeReturnValue:
        """One ``poke`` with Airflow's error semantics.

        A timeout or fail-now error in ``poke`` skips the task with ``soft_fail``/``never_fail``;
        any other error fails the try (retries apply), is logged and treated as "not yet" with
        ``silent_fail``, or skips the task with ``never_fail``.
        """
        try:
            return self.poke(context)
        except (TaskSkipped, RescheduleTry):
            raise
        except (SensorTimeout, TaskTimeout, TaskFailNoRetry) as exc:
            if self.soft_fail or self.never_fail:
                flag = "soft_fail" if self.soft_fail else "never_fail"
                raise TaskSkipped(f"Skipping because {flag} is set: {type(exc).__name__}: {exc}") from exc
            raise
        except Exception as exc:
            if self.silent_fail:
                log.error("Sensor %r poke failed (silent_fail is set: treated as not done yet):\n%s",
                          self.task_id, traceback.format_exc())
                return False
            if self.never_fail:
                raise TaskSkipped(f"Skipping because never_fail is set: {type(exc).__name__}: {exc}") from exc
            log.error("Sensor %r poke raised %s: %s; the try fails", self.task_id, type(exc).__name__, exc)
            raise

    def next_poke_interval(self, started_at: datetime, waited: float, poke_count: int) -> float:
        """Seconds until poke number ``poke_count + 1``: ``poke_interval``, or Airflow's backoff."""
        if not self.exponential_backoff:
            return self.poke_interval
        floor = max(int(self.poke_interval * (2 ** (poke_count - 2))), 1)
        seed = f"{self.dag_id}#{self.task_id}#{started_at.isoformat()}#{poke_count}"
        spread = int(hashlib.sha1(seed.encode("utf-8")).hexdigest(), 16) % floor
        interval = min(float(floor + spread), timedelta.max.total_seconds() - 1)
        interval = min(interval, max(self.timeout - int(waited), 0.0))
        if self.max_wait is not None:
            interval = min(interval, self.max_wait.total_seconds())
        return interval
