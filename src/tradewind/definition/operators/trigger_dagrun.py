"""``TriggerDagRunOperator``: start a run of another DAG (optionally wait for it).

The operator only describes the run: ``execute`` raises :class:`DagRunTriggerException`
and the task runner (execute layer) creates the run through
``schedule.runs.create_manual_run`` (the target DAG's params are validated against the
rendered ``conf``), wakes the scheduler and pushes ``trigger_run_id`` (and
``trigger_logical_date_iso``) to XCom. With ``wait_for_completion`` the try keeps its slot
and checks the run's state every ``poke_interval`` seconds until it reaches one of
``allowed_states`` (success) or ``failed_states`` (the task fails, naming the run).

An existing run with the same run id fails the task (:class:`DagRunAlreadyExists`), is
skipped with ``skip_when_already_exists=True``, or is cleared and run again with
``reset_dag_run=True``. An unknown ``trigger_dag_id`` fails the task.

With ``deferrable=True`` the wait gives the worker slot back: the task defers to a trigger that
watches the run's state in the triggerer (:mod:`tradewind.execute.dagrun_state_trigger`) and
resumes in :meth:`TriggerDagRunOperator.execute_complete`, as Airflow's deferrable mode does.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import DagRunTriggerException, InvalidTaskArgumentError, TradewindException

__all__ = ["TriggerDagRunOperator", "XCOM_RUN_ID", "XCOM_LOGICAL_DATE_ISO"]

#: XCom keys the runner pushes (Airflow's names).
XCOM_RUN_ID = "trigger_run_id"
XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"


def _state_names(states: Iterable[Any] | None, default: list[str], what: str, task_id: str) -> list[str]:
    if states is None:
        return list(default)
    if isinstance(states, str):
        states = [states]
    names = [str(getattr(s, "value", s)) for s in states]
    known = {"queued", "running", "success", "failed"}
    bad = [n for n in names if n not in known]
    if bad:
        raise InvalidTaskArgumentError(
            f"task {task_id!r}: {what} has unknown DAG run state(s) {bad}; use {sorted(known)}")
    return names


class TriggerDagRunOperator(BaseOperator):
    """Trigger a run of ``trigger_dag_id`` (Airflow's operator and arguments).

    :param trigger_dag_id: the DAG to trigger (templated).
    :param trigger_run_id: run id of the new run (templated); default ``manual__<logical date>``.
    :param conf: the run's ``dag_run.conf`` (templated; must be a JSON object).
    :param logical_date: the run's logical date, a datetime or ISO string (templated); default now.
    :param reset_dag_run: clear an existing run with that run id instead of failing.
    :param wait_for_completion: keep running until the triggered run ends (templated).
    :param poke_interval: seconds between two checks of the triggered run's state.
    :param allowed_states: run states that end the wait successfully (default ``["success"]``).
    :param failed_states: run states that fail the task (default ``["failed"]``).
    :param skip_when_already_exists: skip the task when the run already exists (templated).
    :param deferrable: wait for completion by deferring (the triggerer watches the run) instead of
        holding a worker slot while polling.
    :param fail_when_dag_is_paused: fail the task, instead of triggering a run that waits, when the
        target DAG is paused (Airflow 2.9+).
    :param note: the triggered run's note (templated; Airflow 3.1), also set on a run reset with
        ``reset_dag_run=True``.
    """

    template_fields = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf", "wait_for_completion",
                       "skip_when_already_exists", "note")
    template_fields_renderers = {"conf": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict | None = None,
        logical_date: str | datetime | None = None,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: list[Any] | None = None,
        failed_states: list[Any] | None = None,
        skip_when_already_exists: bool = False,
        deferrable: bool = False,
        fail_when_dag_is_paused: bool = False,
        openlineage_inject_parent_info: bool = True,
        note: str | None = None,
        execution_date: str | datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        task_id = kwargs.get("task_id", "?")
        if execution_date is not None:  # Airflow 2's name of logical_date
            self.deprecation_notes.append("execution_date is deprecated (Airflow 2); use logical_date")
            logical_date = execution_date if logical_date is None else logical_date
        if not isinstance(trigger_dag_id, str) or not trigger_dag_id:
            raise InvalidTaskArgumentError(f"task {task_id!r}: trigger_dag_id must be a non-empty DAG id")
        if conf is not None:
            try:
                json.dumps(conf)
            except (TypeError, ValueError) as exc:
                raise InvalidTaskArgumentError(f"task {task_id!r}: conf must be JSON-serialisable ({exc})") from None
        if logical_date is not None and not isinstance(logical_date, (str, datetime)):
            raise InvalidTaskArgumentError(
                f"task {task_id!r}: logical_date must be a datetime or an ISO string, got {type(logical_date).__name__}")
        if not isinstance(poke_interval, (int, float)) or poke_interval <= 0:
            raise InvalidTaskArgumentError(f"task {task_id!r}: poke_interval must be a positive number of seconds")
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        self.logical_date = logical_date
        self.reset_dag_run = reset_dag_run
        self.wait_for_completion = wait_for_completion
        self.poke_interval = poke_interval
        self.allowed_states = _state_names(allowed_states, ["success"], "allowed_states", task_id)
        self.failed_states = _state_names(failed_states, ["failed"], "failed_states", task_id)
        self.skip_when_already_exists = skip_when_already_exists
        self.deferrable = bool(deferrable)
        self.fail_when_dag_is_paused = bool(fail_when_dag_is_paused)
        self.openlineage_inject_parent_info = openlineage_inject_parent_info  # no OpenLineage here: nothing to inject
        self.note = note
        if fail_when_dag_is_paused:
            self.deprecation_notes.append(
                "fail_when_dag_is_paused is accepted but not acted on: a run of a paused DAG is created and "
                "waits until the DAG is unpaused (a warning is logged)")

    def _parsed_logical_date(self) -> datetime | None:
        value = self.logical_date
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise TradewindException(
                    f"task {self.task_id!r}: logical_date {self.logical_date!r} is not an ISO date/time "
                    "(e.g. 2024-01-01 or 2024-01-01T00:00:00+00:00)") from None
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)

    def snapshot_extra(self) -> dict[str, Any]:
        """The DAG it triggers (when not templated), for the DAG dependencies views."""
        if isinstance(self.trigger_dag_id, str) and "{{" not in self.trigger_dag_id:
            return {"trigger_dag_id": self.trigger_dag_id}
        return {}

    def execute(self, context: dict[str, Any]) -> None:
        conf = self.conf
        if conf is not None and not isinstance(conf, dict):
            raise TradewindException(
                f"task {self.task_id!r}: conf must be a JSON object (dict) after rendering, got {type(conf).__name__}")
        request = DagRunTriggerException(
            trigger_dag_id=str(self.trigger_dag_id),
            dag_run_id=str(self.trigger_run_id) if self.trigger_run_id else None,
            conf=dict(conf) if conf else None,
            logical_date=self._parsed_logical_date(),
            reset_dag_run=bool(self.reset_dag_run),
            skip_when_already_exists=_truthy(self.skip_when_already_exists),
            wait_for_completion=_truthy(self.wait_for_completion),
            allowed_states=list(self.allowed_states),
            failed_states=list(self.failed_states),
            poke_interval=float(self.poke_interval),
            deferrable=self.deferrable,
            note=None if self.note is None else str(self.note),
        )
        raise request

    def execute_complete(self, context: dict[str, Any], event: Any = None, **kwargs: Any) -> None:
        """Resume after a deferred wait: fail for a failed state of the triggered run (Airflow)."""
        event = event if isinstance(event, dict) else {}
        state, run_id = event.get("state"), event.get("run_id") or kwargs.get("trigger_run_id")
        if state in self.failed_states:
            raise TradewindException(f"DAG {self.trigger_dag_id!r} run {run_id!r} ended in state {state!r} "
                                     f"(failed_states {self.failed_states})")
        self.task_logger(context).info("DAG %s run %s reached state %s", self.trigger_dag_id, run_id, state)


def _truthy(value: Any) -> bool:
    """A templated flag: ``"False"``/``"0"``/``""`` rendered from a template mean False."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "off", "none")
    return bool(value)
