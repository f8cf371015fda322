"""The only writer of TaskInstance and DagRun state.

Every state change goes through this module, which takes the allowed moves from the state
graphs in :mod:`tradewind.states` (:data:`TI_TRANSITIONS` for instances, :data:`TRY_TRANSITIONS`
for try rows) and :data:`RUN_TRANSITIONS`, and raises :class:`IllegalTransition` naming both
states when asked for anything else. The fast SQL paths (claim, heartbeat, outcome, unqueue,
deferral, reschedule, skip) are conditional UPDATEs whose ``WHERE state IN (...)`` come from the
same graphs (:data:`~tradewind.schedule.fast_paths.FAST_PATHS`, checked at import).
Functions take the session and ``now`` explicitly; the caller owns the
transaction (``with db.session_scope() as session: ...``).

Try numbers follow Airflow 3: ``TaskInstance.try_number`` is 0 before any try;
:func:`queue_ti` increments it when it queues a *new* try, so the queued
workload's :class:`TaskKey` carries the number of the try to run, and
:func:`claim_try` moves exactly that try from queued to running, once.
``max_tries`` is the highest try number allowed (``retries + 1``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import bindparam, insert, null, select, update
from sqlalchemy.orm import Session

from tradewind.definition.triggers.base import FAIL_METHOD, TRIGGER_TIMEOUT
from tradewind.parse.snapshot import TaskSnapshot
from tradewind.persist.models import DagRun, TaskInstance, TaskInstanceTry, TaskReschedule
from tradewind.persist.queries import hitl as hitl_queries
from tradewind.persist.queries.triggers import add_trigger, delete_triggers
from tradewind.schedule.fast_paths import (  # noqa: F401 - FAST_PATHS, GRAPHS and the statements are read here
    FAST_PATHS,
    GRAPHS,
    HEARTBEAT_STATES,
    RESUMABLE_TRY_STATES,
    TI_TABLE,
    TRY_TABLE,
    FastPath,
    claim_stmt,
    finish_try_stmt,
    heartbeat_stmt,
    insert_try_stmt,
    key_params,
    key_where,
    outcome_read_stmt,
    outcome_ti_stmt,
    resume_try_stmt,
    state_in,
)
from tradewind.states import (
    FINISHED_TI_STATES,
    TI_MANUAL_TARGETS,
    TI_TRANSITIONS,
    TRY_TRANSITIONS,
    DagRunState,
    TaskInstanceState,
)

if TYPE_CHECKING:  # TaskKey lives with the executor contract; only its fields are read here.
    from tradewind.schedule.executor_interface import TaskKey

TI = TaskInstanceState
RUN = DagRunState
Outcome = Literal["success", "failed", "skipped"]


class IllegalTransition(Exception):
    """A state change that the state graph does not allow; the message names both states."""

    def __init__(self, what: str, from_state: str, to_state: str) -> None:
        self.what = what
        self.from_state = str(from_state)
        self.to_state = str(to_state)
        super().__init__(f"illegal transition for {what}: {self.from_state} -> {self.to_state}")


RUN_TRANSITIONS: dict[DagRunState, frozenset[DagRunState]] = {
    RUN.QUEUED: frozenset({RUN.RUNNING, RUN.FAILED, RUN.SUCCESS}),
    RUN.RUNNING: frozenset({RUN.SUCCESS, RUN.FAILED, RUN.QUEUED}),
    # A finished run only moves again when cleared (back to queued/running) or marked.
    RUN.SUCCESS: frozenset({RUN.QUEUED, RUN.RUNNING, RUN.FAILED}),
    RUN.FAILED: frozenset({RUN.QUEUED, RUN.RUNNING, RUN.SUCCESS}),
}


def _ti_name(ti: TaskInstance) -> str:
    mi = "" if ti.map_index < 0 else f"[{ti.map_index}]"
    return f"task instance {ti.dag_id}.{ti.task_id}{mi} of run {ti.run_id}"


def check_ti_transition(ti: TaskInstance, to_state: TaskInstanceState | str, *, manual: bool = False) -> None:
    """Raise :class:`IllegalTransition` unless ``ti`` may move to ``to_state``."""
    frm = TI(ti.state)
    to = TI(to_state)
    if manual and to in TI_MANUAL_TARGETS:
        return
    if to not in TI_TRANSITIONS[frm]:
        raise IllegalTransition(_ti_name(ti), frm, to)


def check_run_transition(run: DagRun, to_state: DagRunState | str) -> None:
    frm = RUN(run.state)
    to = RUN(to_state)
    if to not in RUN_TRANSITIONS[frm]:
        raise IllegalTransition(f"DAG run {run.dag_id}/{run.run_id}", frm, to)


def _set_ti(ti: TaskInstance, to_state: TaskInstanceState, *, manual: bool = False) -> None:
    check_ti_transition(ti, to_state, manual=manual)
    ti.state = to_state.value


def _duration(start: datetime | None, end: datetime) -> float | None:
    return (end - start).total_seconds() if start is not None else None


def _ti_is(key: Any) -> tuple[Any, ...]:
    """WHERE conditions selecting the task instance a key (dag_id, run_id, task_id, map_index) names."""
    return (
        TaskInstance.dag_id == key.dag_id,
        TaskInstance.run_id == key.run_id,
        TaskInstance.task_id == key.task_id,
        TaskInstance.map_index == key.map_index,
    )


def get_ti(session: Session, key: object) -> TaskInstance | None:
    """The task instance a key (dag_id, run_id, task_id, map_index) points at, or None."""
    return session.scalars(select(TaskInstance).where(*_ti_is(key))).one_or_none()


def _get_try(session: Session, key: object, try_number: int) -> TaskInstanceTry | None:
    return session.scalars(
        select(TaskInstanceTry).where(
            TaskInstanceTry.dag_id == key.dag_id,  # type: ignore[attr-defined]
            TaskInstanceTry.run_id == key.run_id,  # type: ignore[attr-defined]
            TaskInstanceTry.task_id == key.task_id,  # type: ignore[attr-defined]
            TaskInstanceTry.map_index == key.map_index,  # type: ignore[attr-defined]
            TaskInstanceTry.try_number == try_number,
        )
    ).one_or_none()


# --------------------------------------------------------------------- scheduler moves
def schedule_ti(session: Session, ti: TaskInstance, now: datetime) -> None:
    """none / up_for_retry / up_for_reschedule -> scheduled: dependencies are met."""
    _set_ti(ti, TI.SCHEDULED)
    ti.scheduled_dttm = now


def queue_ti(session: Session, ti: TaskInstance, now: datetime, *, queued_by_job_id: int | None = None) -> int:
    """-> queued, starting a new try: ``try_number += 1``. Returns the try number to run.

    Coming from none/scheduled/up_for_retry/up_for_reschedule the try number is
    incremented (Airflow 3), so the workload's key names the try to run.
    ``queued_by_job_id``: the scheduler job queueing it (a live scheduler adopts the queued
    instances of a dead one).
    """
    _set_ti(ti, TI.QUEUED)
    ti.try_number = (ti.try_number or 0) + 1
    ti.queued_dttm = now
    ti.queued_by_job_id = queued_by_job_id
    ti.next_retry_at = None
    ti.hostname = None
    ti.pid = None
    ti.end_date = None
    ti.duration = None
    return ti.try_number


def unqueue_ti(session: Session, ti: TaskInstance, now: datetime, note: str | None = None) -> bool:
    """queued -> scheduled for a try nobody claimed (scheduler restart), atomically.

    ``try_number`` goes back by one so re-queueing queues the *same* try number;
    the conditional UPDATE means a worker that claims it meanwhile wins and this
    is a no-op (returns False). No try ever runs twice: claim is atomic too.
    """
    result = session.execute(
        update(TaskInstance)
        .where(
            TaskInstance.id == ti.id,
            TaskInstance.state.in_(FAST_PATHS["unqueue"].from_values),
            TaskInstance.try_number == ti.try_number,
        )
        .values(
            state=TI.SCHEDULED.value,
            try_number=TaskInstance.try_number - 1,
            queued_dttm=None,
            queued_by_job_id=None,
            note=note,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        session.refresh(ti)
        return True
    return False


def claim_try_row(session: Session, key: TaskKey, *, hostname: str, pid: int, now: datetime) -> Any | None:
    """:func:`claim_try` for the task runner: the same atomic claim, returning a light row.

    The row has ``max_tries``, ``start_date``, ``operator``, ``dag_version_id``, and
    ``next_method``/``next_kwargs`` (set when the try resumes after a deferral) of the
    claimed instance (None when not queued for this try). Two statements, no ORM objects:
    ``UPDATE ... RETURNING`` and the try row's ``INSERT`` — a try process does nothing else
    with the instance, so building and flushing ORM objects would be pure overhead.
    """
    row = session.execute(claim_stmt(), key_params(key, p_now=now, p_hostname=hostname, p_pid=pid)).one_or_none()
    if row is None:
        return None
    resumed = session.execute(resume_try_stmt(), key_params(key, p_hostname=hostname, p_pid=pid)).rowcount
    if not resumed:
        session.execute(insert_try_stmt(), key_params(key, p_now=now, p_hostname=hostname, p_pid=pid,
                                                       p_operator=row.operator))
    return row


def claim_try(session: Session, key: TaskKey, *, hostname: str, pid: int, now: datetime) -> TaskInstance | None:
    """queued -> running for exactly ``key.try_number``; creates the TaskInstanceTry row.

    Atomic: one conditional UPDATE (``WHERE state='queued' AND try_number=:n``).
    Returns the running TaskInstance, or None when the instance is not queued for
    that try (already claimed, cleared, marked...) — the caller must not run it.
    """
    if claim_try_row(session, key, hostname=hostname, pid=pid, now=now) is None:
        return None
    # populate_existing: an instance this session loaded before the claim is refreshed.
    return session.scalars(
        select(TaskInstance).where(*_ti_is(key)).execution_options(populate_existing=True)
    ).one()


# ----------------------------------------------------------------------- retry policy
def retry_delay(task: TaskSnapshot, try_number: int) -> timedelta:
    """Delay before the try after ``try_number``: fixed, or exponential capped by max_retry_delay.

    Exponential: ``retry_delay * 2 ** (try_number - 1)``. Deterministic (no jitter),
    so tests and restarts agree on the next retry time.
    """
    base = task.retry_delay_td
    if not task.retry_exponential_backoff:
        return base
    seconds = base.total_seconds() * (2 ** max(try_number - 1, 0))
    cap = task.max_retry_delay
    if cap is not None:
        seconds = min(seconds, cap)
    # timedelta overflows past ~2.7 million years; an hour-long cap is the usual case.
    return timedelta(seconds=min(seconds, 10**9))


def _fail_or_retry(ti: TaskInstance, task: TaskSnapshot | None, now: datetime, allow_retry: bool) -> TaskInstanceState:
    """Apply the retry policy to a failed try of ``ti`` and return the new state."""
    if allow_retry and task is not None and ti.try_number < ti.max_tries:
        _set_ti(ti, TI.UP_FOR_RETRY)
        ti.next_retry_at = now + retry_delay(task, ti.try_number)
        return TI.UP_FOR_RETRY
    _set_ti(ti, TI.FAILED)
    ti.next_retry_at = None
    return TI.FAILED


def _finish_try_row(row: TaskInstanceTry | None, state: TaskInstanceState, now: datetime, error: str | None) -> None:
    """End a try row (ORM) -- unless it is already finished: a finished try row never changes."""
    if row is None or TI(state) not in TRY_TRANSITIONS[TI(row.state)]:
        return
    row.state = state.value
    row.end_date = now
    row.duration = _duration(row.start_date, now)
    if error is not None:
        row.error = error


def _expire_loaded(session: Session, key: Any) -> None:
    """Expire the session's copies of the instance and try rows ``key`` names, after a
    Core UPDATE changed them behind the ORM's back (usually the session holds none)."""
    for obj in list(session.identity_map.values()):
        if (
            isinstance(obj, (TaskInstance, TaskInstanceTry))
            and obj.task_id == key.task_id and obj.run_id == key.run_id
            and obj.dag_id == key.dag_id and obj.map_index == key.map_index
        ):
            session.expire(obj)


def _outcome_state(outcome: Outcome, cur: Any, key: Any, task: TaskSnapshot | None, now: datetime,
                   allow_retry: bool) -> tuple[TaskInstanceState, datetime | None]:
    """The instance's new state (and next_retry_at) for a try of the running instance ``cur``."""
    if outcome == "success":
        new_state, retry_at = TI.SUCCESS, None
    elif outcome == "skipped":
        new_state, retry_at = TI.SKIPPED, None
    elif allow_retry and task is not None and cur.try_number < cur.max_tries:
        new_state, retry_at = TI.UP_FOR_RETRY, now + retry_delay(task, cur.try_number)
    else:
        new_state, retry_at = TI.FAILED, None
    if new_state not in TI_TRANSITIONS[TI.RUNNING]:  # pragma: no cover - the graph allows all four
        raise IllegalTransition(f"task instance {key}", TI.RUNNING, new_state)
    return new_state, retry_at


@dataclass(frozen=True)
class FinishedTry:
    """What :func:`finish_try` recorded. ``state``: the instance's state now; ``instance_moved``:
    the outcome moved the instance; ``row_closed``: it closed the try's row; ``current``: the
    instance is still on this try number (not cleared and queued again, not retried)."""

    state: TaskInstanceState
    instance_moved: bool
    row_closed: bool
    current: bool


def record_try_outcome(
    session: Session,
    key: TaskKey,
    outcome: Outcome,
    *,
    task: TaskSnapshot | None,
    now: datetime,
    error: str | None = None,
    allow_retry: bool = True,
    rendered_fields: dict | None = None,
) -> TaskInstanceState:
    """Record how try ``key.try_number`` ended and return the task instance's new state
    (:func:`finish_try`, for callers that need no more than the state)."""
    return finish_try(session, key, outcome, task=task, now=now, error=error, allow_retry=allow_retry,
                      rendered_fields=rendered_fields).state


def finish_try(
    session: Session,
    key: TaskKey,
    outcome: Outcome,
    *,
    task: TaskSnapshot | None,
    now: datetime,
    error: str | None = None,
    allow_retry: bool = True,
    rendered_fields: dict | None = None,
) -> FinishedTry:
    """Record how try ``key.try_number`` ended.

    ``failed`` becomes ``up_for_retry`` (with ``next_retry_at`` from ``task``'s retry delay)
    when ``allow_retry`` and ``try_number < max_tries``; ``task`` is only read for a failed
    outcome (without it a failure is final). Sets end_date/duration on the instance and the try row
    (and the try's ``rendered_fields`` when given, as :func:`set_rendered_fields`).
    If the instance has moved on meanwhile (cleared, marked by hand, failed as a zombie), only
    the try row is closed -- and only while it is open: a try row the scheduler already
    finished (a zombie) keeps its state and error (:data:`~tradewind.states.TRY_TRANSITIONS`).

    The runner's whole finish: one SELECT of the few columns needed (instance and try row
    together) and at most two conditional UPDATEs -- no ORM objects loaded or flushed.
    """
    if outcome not in ("success", "failed", "skipped"):
        raise ValueError(f"outcome must be 'success', 'failed' or 'skipped', not {outcome!r} ({key})")
    cur = session.execute(outcome_read_stmt(), key_params(key)).one_or_none()
    if cur is None:
        raise LookupError(f"no task instance for {key}")
    if rendered_fields is not None and cur.try_id is None:
        raise LookupError(f"no try row for {key}; claim_try must run first")
    _expire_loaded(session, key)
    state = TI(cur.state)
    moved = False
    if cur.state in FAST_PATHS["outcome"].from_values and cur.try_number == key.try_number:
        new_state, retry_at = _outcome_state(outcome, cur, key, task, now, allow_retry)
        note = error if new_state in (TI.FAILED, TI.UP_FOR_RETRY) else None
        done = session.execute(outcome_ti_stmt(), key_params(
            key, p_state=new_state.value, p_now=now, p_duration=_duration(cur.start_date, now),
            p_retry_at=retry_at, p_note=note))
        moved = done.rowcount == 1
        if moved:
            state = new_state
        else:  # changed between the read and the write (PostgreSQL): report what it is now
            state = TI(session.scalar(select(TaskInstance.state).where(*_ti_is(key))))
    closed = False
    if cur.try_id is not None:
        values: dict[str, Any] = {"state": outcome, "end_date": now, "duration": _duration(cur.try_start, now)}
        if error is not None:
            values["error"] = error
        if rendered_fields is not None:
            values["rendered_fields"] = rendered_fields
        closed = session.execute(finish_try_stmt(tuple(values)),
                                 {"p_id": cur.try_id, **{f"p_{c}": v for c, v in values.items()}}).rowcount == 1
    return FinishedTry(state, moved, closed, cur.try_number == key.try_number)


def fail_zombie(
    session: Session, ti: TaskInstance, *, task: TaskSnapshot | None, now: datetime, reason: str
) -> TaskInstanceState:
    """A queued/running try whose process is gone: fail it, with the usual retry policy.

    Conditional on the instance still being in that try (a concurrent outcome wins).
    A queued try that never started gets a try row too, so history shows why.
    """
    current_try = ti.try_number
    state_before = ti.state
    session.refresh(ti)
    if ti.try_number != current_try or ti.state != state_before or ti.state not in (TI.QUEUED.value, TI.RUNNING.value):
        return TI(ti.state)
    new_state = _fail_or_retry(ti, task, now, allow_retry=True)
    ti.end_date = now
    ti.duration = _duration(ti.start_date, now) if state_before == TI.RUNNING.value else None
    ti.note = reason
    _forget_deferral(ti)
    row = _get_try(session, ti, ti.try_number)
    if row is None:  # never started: the row is born failed (a TRY_START_STATES state)
        session.add(TaskInstanceTry(
            dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
            try_number=ti.try_number, state=TI.FAILED.value, start_date=None, end_date=now,
            operator=ti.operator, error=reason,
        ))
    else:
        _finish_try_row(row, TI.FAILED, now, reason)
    session.flush()
    return new_state


# ------------------------------------------------------------------- runner helpers
def heartbeat(session: Session, key: TaskKey, now: datetime) -> bool:
    """Mark try ``key`` alive. False when the instance is no longer running that try
    (the runner should then stop: it was cleared, marked or declared a zombie)."""
    result = session.execute(heartbeat_stmt(), key_params(key, p_now=now))
    return result.rowcount == 1


def set_rendered_fields(session: Session, key: TaskKey, fields: dict) -> None:
    """Store the rendered template fields of try ``key`` on its try row."""
    _expire_loaded(session, key)
    result = session.execute(
        update(TRY_TABLE).where(*key_where(TRY_TABLE)).values(rendered_fields=bindparam("p_fields")),
        key_params(key, p_fields=fields),
    )
    if result.rowcount != 1:
        raise LookupError(f"no try row for {key}; claim_try must run first")


#: States a branch/short-circuit may skip: not yet started.
_SKIPPABLE = FAST_PATHS["skip"].from_values


def skip_tasks(session: Session, dag_id: str, run_id: str, task_ids: Iterable[str], now: datetime) -> list[str]:
    """Mark the not-yet-started instances of ``task_ids`` in the run skipped (branching).

    Instances already queued, running or finished are left alone. Returns the task ids skipped.
    """
    ids = sorted(set(task_ids))
    if not ids:
        return []
    tis = session.scalars(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id.in_(ids),
            TaskInstance.state.in_(_SKIPPABLE),
        )
    ).all()
    for ti in tis:
        _set_ti(ti, TI.SKIPPED)
        ti.start_date = ti.start_date or now
        ti.end_date = now
        ti.duration = 0.0
    session.flush()
    return sorted({ti.task_id for ti in tis})


def mark_ti_skipped(session: Session, ti: TaskInstance, now: datetime, note: str | None = None) -> None:
    """Scheduler decision: the trigger rule says this instance will not run."""
    _set_ti(ti, TI.SKIPPED)
    ti.start_date = ti.start_date or now
    ti.end_date = now
    ti.duration = 0.0
    ti.note = note


def mark_ti_upstream_failed(session: Session, ti: TaskInstance, now: datetime, note: str | None = None) -> None:
    """Scheduler decision: an upstream failure means this instance can never run."""
    _set_ti(ti, TI.UPSTREAM_FAILED)
    ti.start_date = ti.start_date or now
    ti.end_date = now
    ti.duration = 0.0
    ti.note = note


def fail_unexpandable(session: Session, ti: TaskInstance, now: datetime, reason: str) -> None:
    """Scheduler decision: a mapped task's input cannot be expanded (not a list or dict, longer than
    ``[core] max_map_length``); the task fails without running, ``reason`` in its note."""
    _set_ti(ti, TI.FAILED)
    ti.start_date = ti.start_date or now
    ti.end_date = now
    ti.duration = 0.0
    ti.note = reason


def mark_ti_removed(session: Session, ti: TaskInstance, now: datetime) -> None:
    """The task is no longer in the run's DAG version."""
    _set_ti(ti, TI.REMOVED)
    ti.end_date = now


# ----------------------------------------------------------------------- runs
def set_run_running(session: Session, run: DagRun, now: datetime) -> None:
    check_run_transition(run, RUN.RUNNING)
    run.state = RUN.RUNNING.value
    run.start_date = run.start_date or now
    run.end_date = None


def finish_run(session: Session, run: DagRun, state: DagRunState, now: datetime) -> None:
    """running -> success/failed (the scheduler's decision once all leaves are done)."""
    check_run_transition(run, state)
    run.state = state.value
    run.end_date = now
    if run.start_date is None:
        run.start_date = now


#: Instances in the middle of a try: "mark run failed" fails them (the rest not started are skipped).
_IN_A_TRY = (TI.RUNNING.value, TI.DEFERRED.value, TI.UP_FOR_RESCHEDULE.value)


def set_run_state(session: Session, run: DagRun, state: DagRunState | str, now: datetime) -> DagRun:
    """Mark a run by hand, with Airflow's "mark run as success/failed/queued" semantics.

    success: every instance that is not already success (failed, skipped and unfinished
    ones alike; removed ones excepted) becomes success. failed: instances in a try
    (running, deferred, up_for_reschedule) become failed, the ones not started yet
    (none, scheduled, queued, up_for_retry, ...) become skipped, finished ones stay.
    queued: the run is started again by the scheduler; instances are left as they are.
    """
    target = RUN(state)
    if RUN(run.state) == target:
        return run
    check_run_transition(run, target)
    tis = session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
    ).all()
    if target == RUN.SUCCESS:
        for ti in tis:
            if ti.state not in (TI.SUCCESS.value, TI.REMOVED.value):
                _manual_set(ti, TI.SUCCESS, now)
    elif target == RUN.FAILED:
        for ti in tis:
            if ti.state in _IN_A_TRY:
                _manual_set(ti, TI.FAILED, now)
            elif ti.state not in FINISHED_TI_STATES:
                _manual_set(ti, TI.SKIPPED, now)
    run.state = target.value
    if target in (RUN.SUCCESS, RUN.FAILED):
        run.end_date = now
    else:
        run.end_date = None
        if target == RUN.QUEUED:
            run.queued_at = now
    session.flush()
    return run


def _manual_set(ti: TaskInstance, state: TaskInstanceState, now: datetime) -> None:
    _set_ti(ti, state, manual=True)
    if state in FINISHED_TI_STATES:
        ti.end_date = now
        ti.start_date = ti.start_date or now
        ti.duration = _duration(ti.start_date, now)
    ti.next_retry_at = None
    ti.note = "set by hand"


def set_ti_state(session: Session, ti: TaskInstance, state: TaskInstanceState | str, now: datetime) -> TaskInstance:
    """Mark one instance success/failed/skipped by hand (any current state).

    A run that had finished is set back to running when an instance becomes
    unfinished; the scheduler re-evaluates the run either way.
    """
    target = TI(state)
    if target not in TI_MANUAL_TARGETS - {TI.NONE}:
        raise IllegalTransition(_ti_name(ti), ti.state, target)
    _manual_set(ti, target, now)
    run = session.scalars(select(DagRun).where(DagRun.dag_id == ti.dag_id, DagRun.run_id == ti.run_id)).one_or_none()
    if run is not None and run.state in (RUN.SUCCESS.value, RUN.FAILED.value):
        # The run's outcome may change (e.g. a failed leaf marked success): let the scheduler decide again.
        run.state = RUN.RUNNING.value
        run.end_date = None
    session.flush()
    return ti


def clear_task_instances(
    session: Session,
    tis: Sequence[TaskInstance],
    *,
    now: datetime,
    dag_run_state: DagRunState | str = "queued",
    retries_by_task: dict[str, int] | None = None,
) -> int:
    """Clear instances so they run again (Airflow's "clear").

    Each instance goes to ``none``; ``max_tries`` is bumped so the task's retries
    are available again (``max_tries = try_number + retries + 1`` with our
    "highest try allowed" meaning). A running instance's runner notices through
    :func:`heartbeat`. The affected runs go back to ``dag_run_state`` with end_date cleared.
    Returns how many instances were cleared.
    """
    target_run_state = RUN(dag_run_state)
    runs: set[tuple[str, str]] = set()
    for ti in tis:
        retries = (retries_by_task or {}).get(ti.task_id)
        if retries is None:
            # Without the snapshot at hand, keep the retry budget the instance had.
            retries = max((ti.max_tries or 1) - 1, 0)
        _set_ti(ti, TI.NONE, manual=True)
        ti.max_tries = (ti.try_number or 0) + retries + 1
        ti.end_date = None
        ti.duration = None
        ti.next_retry_at = None
        ti.queued_dttm = None
        ti.scheduled_dttm = None
        ti.hostname = None
        ti.pid = None
        ti.note = None
        _forget_deferral(ti)
        runs.add((ti.dag_id, ti.run_id))
    for dag_id, run_id in sorted(runs):
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none()
        if run is None:
            continue
        run.clear_number = (run.clear_number or 0) + 1
        if run.state != target_run_state.value:
            run.state = target_run_state.value
        run.end_date = None
        if target_run_state == RUN.QUEUED:
            run.queued_at = now
            run.start_date = None
    session.flush()
    return len(tis)


def time_out_run(session: Session, run: DagRun, tis: Iterable[TaskInstance], now: datetime) -> list[TaskInstance]:
    """``dagrun_timeout`` passed: the run fails; its unfinished instances become skipped (Airflow).

    Returns the instances that were queued or running, so the caller can kill their tries
    (their runners also notice on the next heartbeat).
    """
    active = []
    for ti in tis:
        if ti.state in FINISHED_TI_STATES:
            continue
        if ti.state in (TI.QUEUED.value, TI.RUNNING.value):
            active.append(ti)
        _set_ti(ti, TI.SKIPPED, manual=True)
        ti.end_date = now
        ti.duration = _duration(ti.start_date, now)
        ti.next_retry_at = None
        ti.note = "DAG run timed out (dagrun_timeout)"
    finish_run(session, run, RUN.FAILED, now)
    session.flush()
    return active


# ------------------------------------------------------------------------- deferral
# A try that defers gives its slot back without ending: the instance goes running ->
# deferred with try_number stepped back by one (so queue_ti queues the same number again),
# the try row waits in state 'deferred', and a Trigger row holds what to wait for. When the
# trigger fires (triggerer), fails, or times out (scheduler), the instance goes deferred ->
# scheduled with next_method/next_kwargs telling the resumed try what to call.
def _forget_deferral(ti: TaskInstance) -> None:
    ti.next_method = None
    ti.next_kwargs = None
    ti.trigger_id = None
    ti.trigger_timeout = None


def defer_try(
    session: Session,
    key: TaskKey,
    *,
    classpath: str,
    trigger_kwargs: dict[str, Any],
    next_method: str,
    next_kwargs: dict[str, Any] | None,
    timeout_at: datetime | None,
    now: datetime,
) -> TaskInstanceState:
    """running -> deferred for try ``key``: store the trigger and what to resume with.

    ``trigger_kwargs``/``next_kwargs`` must already be in their JSON storage form. Conditional
    on the instance still running this try; if it moved on (cleared, marked), nothing is
    stored and its current state is returned.
    """
    trigger_id = add_trigger(session, classpath, trigger_kwargs, now)
    done = session.execute(
        update(TI_TABLE).where(*key_where(TI_TABLE), state_in(TI_TABLE, "defer")).values(
            state=TI.DEFERRED.value, try_number=TI_TABLE.c.try_number - 1, next_method=next_method,
            next_kwargs=next_kwargs if next_kwargs is not None else null(), trigger_id=trigger_id,
            trigger_timeout=timeout_at, pid=None, end_date=None, duration=None),
        key_params(key),
    )
    _expire_loaded(session, key)
    if done.rowcount != 1:
        delete_triggers(session, [trigger_id])
        current = session.scalar(select(TaskInstance.state).where(*_ti_is(key)))
        if current is None:
            raise LookupError(f"no task instance for {key}")
        return TI(current)
    session.execute(update(TRY_TABLE).where(*key_where(TRY_TABLE), state_in(TRY_TABLE, "defer_try"))
                    .values(state=TI.DEFERRED.value), key_params(key))
    # A human-in-the-loop request is stored with its deferral (hitl_detail); other triggers: no-op.
    hitl_queries.record_request(session, key, classpath, trigger_kwargs, trigger_id, now)
    return TI.DEFERRED


def _deferred_waiting_on(session: Session, trigger_ids: Iterable[int]) -> list[TaskInstance]:
    ids = sorted(set(trigger_ids))
    if not ids:
        return []
    return list(session.scalars(select(TaskInstance).where(
        TaskInstance.trigger_id.in_(ids), TaskInstance.state == TI.DEFERRED.value)))


def _resume(ti: TaskInstance, now: datetime, *, next_method: str | None = None,
            next_kwargs: dict[str, Any] | None = None) -> None:
    _set_ti(ti, TI.SCHEDULED)
    if next_method is not None:
        ti.next_method = next_method
    if next_kwargs is not None:
        ti.next_kwargs = next_kwargs
    ti.trigger_id = None
    ti.trigger_timeout = None
    ti.scheduled_dttm = now


def resume_from_trigger_events(session: Session, events: dict[int, Any], now: datetime) -> list[TaskInstance]:
    """Triggers fired: each instance waiting on one goes deferred -> scheduled with the
    event's payload (storage form) added to ``next_kwargs`` as ``event``; the triggers are
    deleted. Returns the resumed instances (the caller wakes the scheduler)."""
    hitl_queries.record_trigger_events(session, events, now)  # a HITL deadline: its defaults answer
    resumed = []
    for ti in _deferred_waiting_on(session, events):
        kwargs = dict(ti.next_kwargs or {})
        kwargs["event"] = events[ti.trigger_id]  # type: ignore[index]
        _resume(ti, now, next_kwargs=kwargs)
        resumed.append(ti)
    delete_triggers(session, events)
    session.flush()
    return resumed


def fail_deferred(session: Session, failures: dict[int, tuple[str, list[str] | None]],
                  now: datetime) -> list[TaskInstance]:
    """Triggers failed (raised, or could not be loaded): each waiting instance is scheduled to
    run ``__fail__`` with the error (its try then fails with ``TaskDeferralError``, retries
    apply, callbacks run), as in Airflow. ``failures``: trigger id -> (error, traceback lines)."""
    failed = []
    for ti in _deferred_waiting_on(session, failures):
        error, lines = failures[ti.trigger_id]  # type: ignore[index]
        _resume(ti, now, next_method=FAIL_METHOD, next_kwargs={"error": error, "traceback": lines})
        failed.append(ti)
    delete_triggers(session, failures)
    session.flush()
    return failed


def time_out_deferred(session: Session, now: datetime, *, only_run: tuple[str, str] | None = None) -> int:
    """Deferred instances whose ``trigger_timeout`` has passed are scheduled to run ``__fail__``
    with "Trigger timeout" (their try fails with ``TaskDeferralTimeout``; retries apply).
    Their triggers become unused and the triggerer deletes them. Returns how many."""
    q = select(TaskInstance).where(TaskInstance.state == TI.DEFERRED.value, TaskInstance.trigger_timeout < now)
    if only_run is not None:
        q = q.where(TaskInstance.dag_id == only_run[0], TaskInstance.run_id == only_run[1])
    tis = list(session.scalars(q))
    for ti in tis:
        _resume(ti, now, next_method=FAIL_METHOD, next_kwargs={"error": TRIGGER_TIMEOUT})
        ti.note = "deferral timed out"
    session.flush()
    return len(tis)


# ------------------------------------------------------------------- sensor reschedule
def reschedule_try(
    session: Session,
    key: TaskKey,
    *,
    reschedule_date: datetime,
    now: datetime,
    rendered_fields: dict | None = None,
) -> TaskInstanceState:
    """running -> up_for_reschedule for try ``key``: a sensor in ``reschedule`` mode found its
    condition unmet and gives its slot back until ``reschedule_date``.

    As in Airflow the try is not over: ``try_number`` steps back by one (so :func:`queue_ti`
    queues the same number again and the claim reuses the try row, now in state
    ``up_for_reschedule``); ``next_retry_at`` is ``reschedule_date`` (the scheduler's "may run
    again at"); a ``task_reschedule`` row records this poke's start and end and the date asked
    for (the first row of a try is where the sensor's ``timeout`` counts from). Conditional on
    the instance still running this try; if it moved on (cleared, marked), nothing is written
    and its current state is returned.
    """
    poke_start = session.scalar(
        select(TI_TABLE.c.start_date).where(*key_where(TI_TABLE), TI_TABLE.c.state == TI.RUNNING.value), key_params(key))
    done = session.execute(
        update(TI_TABLE).where(*key_where(TI_TABLE), state_in(TI_TABLE, "reschedule")).values(
            state=TI.UP_FOR_RESCHEDULE.value, try_number=TI_TABLE.c.try_number - 1,
            next_retry_at=bindparam("p_reschedule_date"), end_date=bindparam("p_now"),
            duration=bindparam("p_duration"), pid=None),
        key_params(key, p_reschedule_date=reschedule_date, p_now=now, p_duration=_duration(poke_start, now)),
    )
    _expire_loaded(session, key)
    if done.rowcount != 1:
        current = session.scalar(select(TaskInstance.state).where(*_ti_is(key)))
        if current is None:
            raise LookupError(f"no task instance for {key}")
        return TI(current)
    session.execute(insert(TaskReschedule).values(
        dag_id=key.dag_id, run_id=key.run_id, task_id=key.task_id, map_index=key.map_index,
        try_number=key.try_number, start_date=poke_start or now, end_date=now,
        duration=_duration(poke_start, now) or 0.0, reschedule_date=reschedule_date,
    ))
    values: dict[str, Any] = {"state": TI.UP_FOR_RESCHEDULE.value, "end_date": now}
    if rendered_fields is not None:
        values["rendered_fields"] = rendered_fields
    session.execute(update(TRY_TABLE).where(*key_where(TRY_TABLE), state_in(TRY_TABLE, "reschedule_try")).values(values),
                    key_params(key))
    return TI.UP_FOR_RESCHEDULE
