"""Creating DAG runs (from the timetable, or by hand) and their task instances.

Runs are pinned to the DAG version (``dag_version_id``) they were created
with; task instances are created from that version's snapshot when the run
starts (queued -> running).
"""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.definition.missed_runs import MissedRuns
from tradewind.definition.params import InvalidParamsError, resolve_run_params
from tradewind.definition.timetables import DataInterval, DagRunInfo, TimeRestriction, Timetable, timetable_from_dict
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagModel, DagRun, TaskInstance
from tradewind.persist.queries import runs as run_queries
from tradewind.schedule import transitions
from tradewind.states import DagRunState, DagRunType, TaskInstanceState


class RunCreationError(ValueError):
    """A run cannot be created as asked; the message says why."""


class DuplicateRunError(RunCreationError):
    """A run with that run_id already exists for the DAG."""


class InvalidRunParamsError(RunCreationError):
    """The run's params (DAG defaults overridden by ``conf``) do not fit their schemas.

    ``errors`` maps each bad param name to the reason (the REST API returns it with 422).
    """

    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.errors = errors


_TIMETABLES: dict[str, Timetable] = {}


def timetable_of(snapshot: DagSnapshot) -> Timetable:
    """The snapshot's timetable, deserialised once per distinct dict."""
    key = repr(sorted(snapshot.timetable.items()))
    tt = _TIMETABLES.get(key)
    if tt is None:
        tt = _TIMETABLES[key] = timetable_from_dict(snapshot.timetable)
    return tt


def _accepts_now(tt: Timetable) -> bool:
    return "now" in inspect.signature(tt.next_dagrun_info).parameters


def missed_runs_of(snapshot: DagSnapshot) -> MissedRuns:
    """The snapshot's missed-run policy (older snapshots without one follow ``catchup``)."""
    return MissedRuns.deserialize(snapshot.missed_runs, catchup=snapshot.catchup)


def _timetable_next(tt: Timetable, last: DataInterval | None, restriction: TimeRestriction,
                    now: datetime) -> DagRunInfo | None:
    if _accepts_now(tt):
        return tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction, now=now)
    return tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)


def next_run_info(snapshot: DagSnapshot, last: DataInterval | None, now: datetime) -> DagRunInfo | None:
    """The next automated run after ``last`` (None: no more), under the DAG's missed-run policy.

    ``all``/``latest`` are the timetable's own catchup True/False. ``none`` and a window skip
    every run whose ``run_after`` is older than the policy's cutoff (``now`` minus the window,
    or minus the grace for ``none``): the timetable's no-catchup answer at the cutoff jumps
    close to it, then catchup steps go to the first run at or after it. The scheduler, the
    ``dags next-execution``/``dags simulate`` previews and the pytest plugin all come here.
    """
    tt = timetable_of(snapshot)
    if not tt.can_be_scheduled:
        return None
    policy = missed_runs_of(snapshot)
    age = policy.cutoff_age()
    if age is None:
        restriction = TimeRestriction(snapshot.start_date_dt, snapshot.end_date_dt, policy.catchup)
        return _timetable_next(tt, last, restriction, now)
    cutoff = now - age
    info = _timetable_next(tt, last, TimeRestriction(snapshot.start_date_dt, snapshot.end_date_dt, False), cutoff)
    stepping = TimeRestriction(snapshot.start_date_dt, snapshot.end_date_dt, True)
    while info is not None and info.run_after < cutoff:
        following = _timetable_next(tt, info.data_interval, stepping, now)
        if following is not None and following.data_interval == info.data_interval:
            return None  # a timetable that does not move on (e.g. @once) has nothing after its one run
        info = following
    return info


def last_automated_interval(session: Session, dag_id: str) -> DataInterval | None:
    """Data interval of the DAG's latest scheduled/backfill run: where the timetable goes on from."""
    last = run_queries.last_automated_run(session, dag_id)
    if last is None or last.data_interval_start is None or last.data_interval_end is None:
        return None
    return DataInterval(last.data_interval_start, last.data_interval_end)


def create_scheduled_runs(
    session: Session,
    dag: DagModel,
    snapshot: DagSnapshot,
    dag_version_id: int,
    *,
    now: datetime,
    active_runs: int,
) -> list[DagRun]:
    """Create every due run (``run_after <= now``) the DAG's ``max_active_runs`` allows.

    ``active_runs`` is the DAG's queued + running run count. Updates the DagModel's
    ``next_dagrun*`` fields to the first run not created yet (None: no more).
    Missed runs are skipped by :func:`next_run_info` as the DAG's missed-run policy says.
    """
    created: list[DagRun] = []
    info = next_run_info(snapshot, last_automated_interval(session, dag.dag_id), now)
    limit = dag.max_active_runs or snapshot.max_active_runs
    while info is not None and info.run_after <= now and active_runs + len(created) < limit:
        run_id = DagRunType.SCHEDULED.run_id_for(info.logical_date.isoformat())
        if not run_queries.run_exists(session, dag.dag_id, run_id):
            run = DagRun(
                dag_id=dag.dag_id, run_id=run_id, run_type=DagRunType.SCHEDULED.value,
                state=DagRunState.QUEUED.value, logical_date=info.logical_date,
                data_interval_start=info.data_interval.start, data_interval_end=info.data_interval.end,
                run_after=info.run_after, queued_at=now, conf={}, external_trigger=False,
                triggered_by="timetable", dag_version_id=dag_version_id,
            )
            session.add(run)
            created.append(run)
        info = next_run_info(snapshot, info.data_interval, now)
    _store_next(dag, info)
    session.flush()
    return created


def _store_next(dag: DagModel, info: DagRunInfo | None) -> None:
    if info is None:
        dag.next_dagrun = dag.next_dagrun_create_after = None
        dag.next_dagrun_data_interval_start = dag.next_dagrun_data_interval_end = None
        return
    dag.next_dagrun = info.logical_date
    dag.next_dagrun_data_interval_start = info.data_interval.start
    dag.next_dagrun_data_interval_end = info.data_interval.end
    dag.next_dagrun_create_after = info.run_after


def create_manual_run(
    session: Session,
    snapshot: DagSnapshot,
    dag_version_id: int | None,
    *,
    run_id: str | None = None,
    logical_date: datetime | None = None,
    conf: dict[str, Any] | None = None,
    note: str | None = None,
    note_user: str | None = None,
    data_interval: DataInterval | None = None,
    run_after: datetime | None = None,
    now: datetime,
) -> DagRun:
    """A queued manual run (``tradewind dags trigger``); the scheduler starts it.

    Callers in another process than the scheduler (CLI, REST API) should call
    :func:`tradewind.schedule.wakeup.notify_scheduler` after committing, so a running
    scheduler starts the run at once instead of after its idle wait.

    Run id ``manual__<iso logical date>`` (Airflow's form) unless given; logical date is the given one or
    ``now``; the data interval comes from the timetable's
    ``infer_manual_data_interval``. The DAG's params (the snapshot's defaults
    overridden by ``conf`` keys) are checked against their JSON schemas; ``conf``
    keys that are not params are allowed. Raises :class:`InvalidRunParamsError` (no
    run is created) when a param is invalid or a required one is missing,
    :class:`DuplicateRunError` when the run id is taken, :class:`RunCreationError`
    for other bad input (a ``note`` longer than 1000 characters too). A ``note`` is stored as
    the run's user note (``dag_run_note``, written by ``note_user``). ``data_interval`` replaces
    the timetable's inferred one; ``run_after`` (default ``now``) is when the scheduler may start it.

    Manual triggers from an interface go through :func:`tradewind.schedule.actions.trigger_run`
    (audit entry, conf size limit); this is the part shared with tests and ``dags test``.
    """
    from tradewind.persist.queries import notes as note_queries

    try:
        note = note_queries.check_note(note)
    except note_queries.NoteTooLong as exc:
        raise RunCreationError(str(exc)) from None
    if conf is not None and not isinstance(conf, dict):
        raise RunCreationError(f"conf for DAG {snapshot.dag_id} must be a JSON object (dict), got {type(conf).__name__}")
    if snapshot.params:
        try:
            resolve_run_params(snapshot.params, conf, dag_id=snapshot.dag_id)
        except InvalidParamsError as exc:
            raise InvalidRunParamsError(f"Cannot create a run: {exc}", exc.errors) from None
    if logical_date is not None and logical_date.tzinfo is None:
        raise RunCreationError(f"logical_date {logical_date.isoformat()} must be timezone-aware")
    logical = logical_date or now
    run_id = run_id or DagRunType.MANUAL.run_id_for(logical.isoformat())
    if not run_id.strip() or len(run_id) > 250:
        raise RunCreationError(f"run_id {run_id!r} must be 1 to 250 characters")
    if any(ch in "/\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in run_id):
        # The run id names a folder of the task logs: a separator would put them elsewhere.
        raise RunCreationError(f"run_id {run_id!r} must not contain '/', '\\' or control characters")
    if run_queries.run_exists(session, snapshot.dag_id, run_id):
        raise DuplicateRunError(f"DAG {snapshot.dag_id} already has a run with run_id {run_id!r}")
    interval = data_interval or timetable_of(snapshot).infer_manual_data_interval(run_after=logical)
    run = DagRun(
        dag_id=snapshot.dag_id, run_id=run_id, run_type=DagRunType.MANUAL.value,
        state=DagRunState.QUEUED.value, logical_date=logical,
        data_interval_start=interval.start, data_interval_end=interval.end,
        run_after=run_after or now, queued_at=now, conf=dict(conf or {}), external_trigger=True,
        triggered_by="manual", dag_version_id=dag_version_id,
    )
    session.add(run)
    session.flush()
    if note is not None:
        note_queries.set_run_note(session, run.id, note, user=note_user, now=now)
    return run


def start_run(session: Session, run: DagRun, snapshot: DagSnapshot, now: datetime) -> list[TaskInstance]:
    """queued -> running, creating the instances the run does not have yet.

    Instances whose task left the DAG version are marked removed; a task that
    came back is restored to none. Every task gets one instance with map index -1; the
    scheduler expands a mapped task's into one per item later (:mod:`tradewind.schedule.mapping`).
    """
    transitions.set_run_running(session, run, now)
    existing: dict[str, list[TaskInstance]] = {}
    for ti in session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
    ):
        existing.setdefault(ti.task_id, []).append(ti)
    created = []
    for task_id in snapshot.topological_order:
        if task_id in existing:
            removed = [ti for ti in existing[task_id] if ti.state == TaskInstanceState.REMOVED.value]
            if removed:
                transitions.clear_task_instances(session, removed, now=now, dag_run_state="running")
            continue
        task = snapshot.tasks[task_id]
        ti = TaskInstance(
            dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, map_index=-1,
            state=TaskInstanceState.NONE.value, try_number=0, max_tries=task.retries + 1,
            pool=task.pool, pool_slots=task.pool_slots, queue=task.queue,
            priority_weight=task.priority_weight_total, operator=task.operator,
            dag_version_id=run.dag_version_id,
        )
        session.add(ti)
        created.append(ti)
    for task_id, tis in existing.items():
        for ti in tis:
            if task_id not in snapshot.tasks and ti.state in (
                    TaskInstanceState.NONE.value, TaskInstanceState.SCHEDULED.value):
                transitions.mark_ti_removed(session, ti, now)
    session.flush()
    return created
