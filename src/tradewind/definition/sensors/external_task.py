"""``ExternalTaskSensor`` (wait for tasks, a task group or a whole run of another DAG) and
``ExternalTaskMarker`` (clearing it also clears a task of another DAG).

The sensor asks the database through the runtime task instance in ``context["ti"]``
(Airflow 3's Task SDK methods ``get_ti_count``, ``get_task_states``, ``get_dr_count``),
so the definition layer stays free of database code. It looks at the external runs whose
logical date is this run's logical date, minus ``execution_delta``, or what
``execution_date_fn`` returns (one date or a list).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tradewind.definition import timezone
from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import InvalidTaskArgumentError, TaskSkipped, TradewindException
from tradewind.definition.operators.python import determine_kwargs
from tradewind.definition.sensors.base import BaseSensorOperator
from tradewind.states import DagRunState, TaskInstanceState

__all__ = ["ExternalTaskSensor", "ExternalTaskMarker", "ExternalDagNotFoundError", "ExternalTaskFailedError"]


class ExternalDagNotFoundError(TradewindException):
    """``check_existence``: the external DAG (or one of its tasks / its group) is not known."""


class ExternalTaskFailedError(TradewindException):
    """The external task(s) or run reached one of ``failed_states``."""


def _state_values(states: Iterable[Any] | None, kind: type, name: str, where: str) -> list[str]:
    values = []
    for state in states or ():
        try:
            values.append(kind(str(getattr(state, "value", state))).value)
        except ValueError:
            valid = ", ".join(s.value for s in kind)
            raise InvalidTaskArgumentError(
                f"{name} of {where} contains {state!r}, which is not a valid {kind.__name__} (valid: {valid})"
            ) from None
    return values


def count_in_states(ti: Any, dag_id: str, task_ids: Sequence[str] | None, task_group_id: str | None,
                    dates: list[dt.datetime], states: list[str]) -> float:
    """How many of the awaited things (per date) are in ``states``: tasks are averaged over the ids.
    ``ti`` answers the Task SDK's ``get_ti_count`` / ``get_task_states`` / ``get_dr_count``."""
    if task_ids is not None:
        count = ti.get_ti_count(dag_id, task_ids=list(task_ids), logical_dates=dates, states=states)
        return count / len(task_ids)
    if task_group_id is not None:
        per_run = ti.get_task_states(dag_id, task_group_id=task_group_id, logical_dates=dates)
        return sum(1 for states_of in per_run.values()
                   if states_of and all(s in states for s in states_of.values()))
    return ti.get_dr_count(dag_id, logical_dates=dates, states=states)


class ExternalTaskSensor(BaseSensorOperator):
    """Waits until tasks of another DAG (or its whole run) reach ``allowed_states`` for the matching run.

    - ``external_task_id`` / ``external_task_ids``: those tasks; ``external_task_group_id``: every task
      of that group; none of them: the DAG run itself (states are then run states).
    - ``failed_states``: reaching one fails the sensor (``ExternalTaskFailedError``; skipped with
      ``soft_fail``); ``skipped_states``: reaching one skips it.
    - ``check_existence``: fail at once (no retry) if the external DAG, task or group is unknown.
    """

    template_fields = ("external_dag_id", "external_task_id", "external_task_ids", "external_task_group_id")
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Sequence[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: dt.timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        deferrable: bool = False,
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = f"sensor {self.task_id!r}"
        self.deferrable = bool(deferrable)
        self.poll_interval = float(poll_interval)
        if external_task_id is not None and external_task_ids is not None:
            raise InvalidTaskArgumentError(
                f"{where}: pass only one of external_task_id and external_task_ids"
            )
        if external_task_id is not None:
            external_task_ids = [external_task_id]
        if external_task_group_id is not None and external_task_ids is not None:
            raise InvalidTaskArgumentError(
                f"{where}: pass either external_task_group_id or external_task_id(s), not both"
            )
        if external_task_ids is not None and (isinstance(external_task_ids, str) or not external_task_ids):
            raise InvalidTaskArgumentError(f"{where}: external_task_ids must be a non-empty list of task ids")
        if execution_delta is not None and execution_date_fn is not None:
            raise InvalidTaskArgumentError(
                f"{where}: pass only one of execution_delta and execution_date_fn"
            )
        if execution_delta is not None and not isinstance(execution_delta, dt.timedelta):
            raise InvalidTaskArgumentError(f"{where}: execution_delta must be a timedelta, got {execution_delta!r}")
        if execution_date_fn is not None and not callable(execution_date_fn):
            raise InvalidTaskArgumentError(f"{where}: execution_date_fn must be callable, got {execution_date_fn!r}")
        on_tasks = external_task_ids is not None or external_task_group_id is not None
        kind = TaskInstanceState if on_tasks else DagRunState
        self.allowed_states = _state_values(allowed_states or [TaskInstanceState.SUCCESS.value],
                                            kind, "allowed_states", where)
        self.skipped_states = _state_values(skipped_states, kind, "skipped_states", where)
        self.failed_states = _state_values(failed_states, kind, "failed_states", where)
        overlap = (set(self.allowed_states) & set(self.skipped_states)) | \
            (set(self.allowed_states) & set(self.failed_states)) | (set(self.skipped_states) & set(self.failed_states))
        if overlap:
            raise InvalidTaskArgumentError(
                f"{where}: states {sorted(overlap)} appear in more than one of allowed_states, skipped_states "
                f"and failed_states"
            )
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = list(external_task_ids) if external_task_ids is not None else None
        self.external_task_group_id = external_task_group_id
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = check_existence
        self._has_checked_existence = False

    # ---------------------------------------------------------------------- helpers
    def logical_dates(self, context: dict[str, Any]) -> list[dt.datetime]:
        """The external runs' logical dates to look at (aware UTC)."""
        logical_date = context.get("logical_date")
        if self.execution_delta is not None:
            if logical_date is None:
                raise TradewindException(f"sensor {self.task_id!r}: execution_delta needs a run with a logical date")
            found: Any = logical_date - self.execution_delta
        elif self.execution_date_fn is not None:
            fn = self.execution_date_fn
            found = fn(logical_date, **determine_kwargs(fn, [logical_date], {**context, "context": context}))
        else:
            if logical_date is None:
                raise TradewindException(
                    f"sensor {self.task_id!r}: this run has no logical date to match the external DAG's runs by"
                )
            found = logical_date
        dates = found if isinstance(found, (list, tuple)) else [found]
        return [timezone.to_utc(d) for d in dates]

    def _ti(self, context: dict[str, Any]) -> Any:
        ti = context.get("ti")
        if ti is None or not callable(getattr(ti, "get_ti_count", None)):
            raise TradewindException(
                f"sensor {self.task_id!r} needs the runtime task instance (context['ti']) of a task run"
            )
        return ti

    def _check_existence(self, ti: Any) -> None:
        task_ids = ti.get_dag_task_ids(self.external_dag_id)
        if task_ids is None:
            raise ExternalDagNotFoundError(f"The external DAG {self.external_dag_id!r} does not exist.")
        missing = sorted(set(self.external_task_ids or ()) - task_ids)
        if missing:
            raise ExternalDagNotFoundError(
                f"The external task(s) {missing} in DAG {self.external_dag_id!r} do not exist."
            )
        if self.external_task_group_id is not None:
            prefix = f"{self.external_task_group_id}."
            if not any(t.startswith(prefix) for t in task_ids):
                raise ExternalDagNotFoundError(
                    f"The external task group {self.external_task_group_id!r} in DAG {self.external_dag_id!r} "
                    f"does not exist."
                )
        self._has_checked_existence = True

    def _count(self, ti: Any, dates: list[dt.datetime], states: list[str]) -> float:
        return count_in_states(ti, self.external_dag_id, self.external_task_ids, self.external_task_group_id,
                               dates, states)

    def _what(self) -> str:
        if self.external_task_ids is not None:
            return f"tasks {self.external_task_ids} of DAG {self.external_dag_id!r}"
        if self.external_task_group_id is not None:
            return f"task group {self.external_task_group_id!r} of DAG {self.external_dag_id!r}"
        return f"DAG {self.external_dag_id!r}"

    # ------------------------------------------------------------------------- poke
    def poke(self, context: dict[str, Any]) -> bool:
        ti = self._ti(context)
        dates = self.logical_dates(context)
        log = self.task_logger(context)
        log.info("Poking for %s on %s ...", self._what(), ", ".join(d.isoformat() for d in dates))
        if self.check_existence and not self._has_checked_existence:
            self._check_existence(ti)
        if self.failed_states and self._count(ti, dates, self.failed_states) > 0:
            message = f"The external {self._what()} reached one of the failed states {self.failed_states}."
            if self.soft_fail:
                raise TaskSkipped(f"{message} Skipping because soft_fail is set.")
            raise ExternalTaskFailedError(message)
        if self.skipped_states and self._count(ti, dates, self.skipped_states) > 0:
            raise TaskSkipped(
                f"The external {self._what()} reached one of the skipped states {self.skipped_states}; skipping."
            )
        return self._count(ti, dates, self.allowed_states) >= len(dates)

    # --------------------------------------------------------------- deferrable mode
    def snapshot_extra(self) -> dict[str, Any]:
        """The DAG it waits for (when not templated), for the DAG dependencies views."""
        if isinstance(self.external_dag_id, str) and "{{" not in self.external_dag_id:
            return {"external_dag_id": self.external_dag_id, "external_task_id": self.external_task_id}
        return {}

    def execute(self, context: dict[str, Any]) -> Any:
        """With ``deferrable=True`` the wait happens in the triggerer (Airflow's deferrable
        ExternalTaskSensor defers to its workflow trigger): one poke first, then defer to an
        :class:`ExternalTaskTrigger` checking every ``poll_interval`` seconds until ``timeout``."""
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):  # also checks existence and failed/skipped states, as the trigger would
            return None
        from tradewind.definition.sensors.external_task_trigger import ExternalTaskTrigger

        dates = self.logical_dates(context)
        self.task_logger(context).info("Deferring: the triggerer waits for %s (every %gs, timeout %gs)", self._what(),
                                       self.poll_interval, self.timeout)
        self.defer(trigger=ExternalTaskTrigger(
            external_dag_id=self.external_dag_id, external_task_ids=self.external_task_ids,
            external_task_group_id=self.external_task_group_id, logical_dates=[d.isoformat() for d in dates],
            allowed_states=self.allowed_states, failed_states=self.failed_states,
            skipped_states=self.skipped_states, poll_interval=self.poll_interval,
        ), method_name="execute_complete", timeout=self.defer_timeout())
        return None  # never reached: defer raises

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> None:
        """The trigger saw the awaited state (``{"status": "success" | "failed" | "skipped"}``)."""
        status = event.get("status") if isinstance(event, dict) else None
        if status == "success":
            self.task_logger(context).info("The external %s reached %s", self._what(), self.allowed_states)
            return None
        if status == "skipped":
            raise TaskSkipped(f"The external {self._what()} reached one of the skipped states "
                              f"{self.skipped_states}; skipping.")
        message = f"The external {self._what()} reached one of the failed states {self.failed_states}."
        if status == "failed" and self.soft_fail:
            raise TaskSkipped(f"{message} Skipping because soft_fail is set.")
        if status == "failed":
            raise ExternalTaskFailedError(message)
        raise TradewindException(f"sensor {self.task_id!r}: unexpected event from its trigger: {event!r}")


class ExternalTaskMarker(BaseOperator):
    """Marks a dependency on a task of another DAG: clearing this task (with downstream, recursively)
    also clears ``external_task_id`` of ``external_dag_id`` for ``logical_date`` (templated), up to
    ``recursion_depth`` markers deep. Running it does nothing.

    The target is stored in the task's snapshot (``extra``: ``external_dag_id``,
    ``external_task_id``, ``logical_date``, ``recursion_depth``) for the clear logic.
    """

    template_fields = ("external_dag_id", "external_task_id", "logical_date")
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str,
        logical_date: str | dt.datetime | None = "{{ logical_date.isoformat() }}",
        recursion_depth: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = f"task {self.task_id!r}"
        if not isinstance(external_dag_id, str) or not external_dag_id:
            raise InvalidTaskArgumentError(f"external_dag_id of {where} must be a non-empty string")
        if not isinstance(external_task_id, str) or not external_task_id:
            raise InvalidTaskArgumentError(f"external_task_id of {where} must be a non-empty string")
        if isinstance(logical_date, dt.datetime):
            logical_date = logical_date.isoformat()
        elif logical_date is not None and not isinstance(logical_date, str):
            raise InvalidTaskArgumentError(
                f"logical_date of {where} must be a datetime or a (templated) string, got {logical_date!r}"
            )
        self.recursion_depth = self._check_int(recursion_depth, "recursion_depth", where, minimum=1)
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.logical_date = logical_date

    def execute(self, context: dict[str, Any]) -> None:
        """Nothing to do: the marker only matters when it is cleared."""

    def snapshot_extra(self) -> dict[str, Any]:
        """What the clear logic reads from the snapshot to follow the marker to the other DAG."""
        return {
            "external_dag_id": self.external_dag_id,
            "external_task_id": self.external_task_id,
            "logical_date": self.logical_date,
            "recursion_depth": self.recursion_depth,
        }
