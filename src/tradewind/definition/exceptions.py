"""Exceptions raised by the authoring API and by tasks (Airflow-compatible aliases included).

Definition-time errors (a DAG file describes something invalid) derive from
:class:`DagDefinitionError`; their messages name the DAG and task involved so the
parser can show them as import errors. Run-time signals raised *inside* a task
(:class:`TaskSkipped`, :class:`TaskFailNoRetry`, :class:`TaskTimeout`) are read by
the task runner to decide the try's outcome.
"""

from __future__ import annotations

from datetime import datetime


class TradewindException(Exception):
    """Base class of every Tradewind error (Airflow name: ``AirflowException``)."""


AirflowException = TradewindException


class DagDefinitionError(TradewindException):
    """A DAG file defines something invalid; the message says what and where."""


class DagCycleError(DagDefinitionError):
    """The task graph has a cycle (the message shows the cycle's path)."""


AirflowDagCycleException = DagCycleError


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks (or task groups) of one DAG share an id."""


DuplicateTaskIdFound = DuplicateTaskIdError


class InvalidIdError(DagDefinitionError, ValueError):
    """A dag_id, task_id or group_id has characters that are not allowed, or is too long."""


class InvalidScheduleError(DagDefinitionError):
    """A ``schedule`` value (cron string, preset, ...) cannot be understood."""


class InvalidTaskArgumentError(DagDefinitionError, ValueError):
    """An operator or DAG argument has a value that is not allowed (bad trigger_rule, ...)."""


class TaskNotFound(TradewindException):
    """A task id was looked up in a DAG that has no such task."""


class ParamValidationError(TradewindException, ValueError):
    """A ``Param`` has no value or its value does not fit its schema."""


class TaskSkipped(TradewindException):
    """Raised inside a task to mark it skipped (Airflow: ``AirflowSkipException``)."""


AirflowSkipException = TaskSkipped


class TaskFailNoRetry(TradewindException):
    """Raised inside a task to fail it without retries (Airflow: ``AirflowFailException``)."""


AirflowFailException = TaskFailNoRetry


class TaskTimeout(BaseException):
    """A task ran longer than its ``execution_timeout`` (Airflow: ``AirflowTaskTimeout``).

    Raised by the runner's timer inside the task's thread; operators that start
    subprocesses (``BashOperator``) terminate them when it passes through. Like
    Airflow's, it derives from ``BaseException`` (not ``Exception``), so user code's
    ``except Exception:`` cannot swallow a timeout; ``except TaskTimeout`` still can.
    """


AirflowTaskTimeout = TaskTimeout


class SensorTimeout(TaskFailNoRetry):
    """A sensor waited longer than its ``timeout`` (Airflow: ``AirflowSensorTimeout``).

    A :class:`TaskFailNoRetry`: the try fails without retries, as in Airflow (waiting
    again would only repeat the same wait); ``soft_fail=True`` turns it into a skip.
    """


AirflowSensorTimeout = SensorTimeout


class RescheduleTry(TradewindException):
    """Raised by a sensor in ``reschedule`` mode: end this poke, free the slot, come back at
    ``reschedule_date`` (Airflow: ``AirflowRescheduleException``).

    The task runner records the instance ``up_for_reschedule`` with ``next_retry_at =
    reschedule_date``; the same try continues then (its try number does not change).
    """

    def __init__(self, reschedule_date: datetime) -> None:
        super().__init__(f"reschedule at {reschedule_date.isoformat()}")
        self.reschedule_date = reschedule_date


AirflowRescheduleException = RescheduleTry


class XComNotSerializable(TradewindException):
    """A value pushed to XCom cannot be stored as JSON."""


class TaskDeferred(BaseException):
    """Raised by :meth:`BaseOperator.defer`: the task waits for ``trigger`` without holding a
    worker slot, and resumes in ``method_name`` when the trigger fires.

    A ``BaseException`` (as in Airflow), so a task's ``except Exception:`` cannot swallow it.
    ``timeout`` (a timedelta, or None) bounds the wait: after it the task fails with
    :class:`TaskDeferralTimeout`.
    """

    def __init__(self, *, trigger: object, method_name: str, kwargs: dict | None = None,
                 timeout: object = None) -> None:
        super().__init__(f"deferred to {type(trigger).__name__}, resuming in {method_name}()")
        self.trigger = trigger
        self.method_name = method_name
        self.kwargs = kwargs
        self.timeout = timeout


class TaskDeferralError(TradewindException):
    """The trigger a deferred task waited on failed; the message holds its error."""


class TaskDeferralTimeout(TradewindException):
    """A deferred task's trigger did not fire within the ``timeout`` given to ``defer``
    (or the task's ``execution_timeout``)."""


class DagRunAlreadyExists(TradewindException):
    """A run with the requested run_id already exists for the DAG to trigger."""


class DagRunTriggerException(TradewindException):
    """Raised by ``TriggerDagRunOperator.execute``: a request to the task runner to create a run.

    The definition layer cannot touch the database, so the operator describes the run
    (Airflow 3 does the same); the runner creates it (``schedule.runs.create_manual_run``,
    params validated), pushes ``trigger_run_id`` to XCom and, with ``wait_for_completion``,
    polls the run's state every ``poke_interval`` seconds.
    """

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        dag_run_id: str | None,
        conf: dict | None,
        logical_date: object | None,
        reset_dag_run: bool,
        skip_when_already_exists: bool,
        wait_for_completion: bool,
        allowed_states: list[str],
        failed_states: list[str],
        poke_interval: float,
        deferrable: bool = False,
        note: str | None = None,
    ) -> None:
        super().__init__(f"trigger a run of DAG {trigger_dag_id!r}")
        #: The user's note for the triggered run (rendered), or None.
        self.note = note
        #: Wait for completion by deferring (the triggerer watches the run) instead of polling.
        self.deferrable = deferrable
        self.trigger_dag_id = trigger_dag_id
        self.dag_run_id = dag_run_id
        self.conf = conf
        self.logical_date = logical_date
        self.reset_dag_run = reset_dag_run
        self.skip_when_already_exists = skip_when_already_exists
        self.wait_for_completion = wait_for_completion
        self.allowed_states = allowed_states
        self.failed_states = failed_states
        self.poke_interval = poke_interval
