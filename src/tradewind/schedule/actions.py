"""Manual actions, one implementation for every interface (REST API v1 and v2, UI, CLI).

Trigger a run, mark a run or task instances, clear, pause/unpause, delete a run, a task
instance or a DAG, write notes, and (in :mod:`tradewind.schedule.actions_backfill`, re-exported here) create,
pause, unpause and cancel backfills. Interfaces only validate their own input format, call one
action inside their own transaction, map :class:`ActionError` kinds to their answers, and render.

Every action:

* works in the caller's session (``with db.session_scope() as session:``) and never commits;
* writes its audit entry (``persist.queries.audit``) in that session, owned by
  ``actor.username``, with ``extra["source"]`` = ``actor.via``; dry runs write nothing;
* raises :class:`NotFound`, :class:`Conflict` or :class:`Invalid` (subclasses of
  :class:`ActionError`, with ``field``); the input is checked before anything changes, and a
  refusal met midway (an illegal state change) leaves the caller's transaction to roll back;
* marks the session when the scheduler has new work; after the commit the caller calls
  :func:`wake_after` (``actions.wake_after(db, session)``) exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.definition.timetables import DataInterval
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import (
    DagRun,
    DagRunNote,
    HITLDetail,
    TaskInstance,
    TaskInstanceNote,
    TaskInstanceTry,
    TaskReschedule,
    XCom,
)
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.queries import notes as note_queries
from tradewind.persist.queries import runs as run_queries
from tradewind.persist.queries.task_instances import list_tis
from tradewind.schedule import clearing, transitions
from tradewind.schedule.action_support import (
    WAKE_KEY,
    ActionError,
    Actor,
    Conflict,
    Invalid,
    NotFound,
    check_aware,
    check_conf_size,
    check_task,
    find_dag,
    find_run,
    find_run_at,
    find_snapshot,
    find_task_instance,
    mark_wake,
    record,
    run_snapshot,
    wake_after,
    wake_needed,
)
from tradewind.schedule.actions_backfill import (
    BackfillCreated,
    cancel_backfill,
    create_backfill,
    find_backfill,
    pause_backfill,
    unpause_backfill,
)

__all__ = [
    "WAKE_KEY", "ActionError", "Actor", "BackfillCreated", "Conflict", "Invalid", "NotFound", "RUN_STATES",
    "TI_STATES", "TRIGGER_RUN_TYPES", "cancel_backfill", "clear_run", "clear_task_instances", "create_backfill", "delete_dag",
    "delete_run", "delete_task_instance", "find_backfill", "find_dag", "find_run", "find_run_at", "find_snapshot",
    "find_task_instance", "pause_backfill", "run_snapshot", "set_paused", "set_run_note", "set_run_state",
    "set_task_instance_note", "set_task_instance_state", "trigger_run", "unpause_backfill", "wake_after",
    "wake_needed",
]

#: States a run may be marked with by hand (Airflow's "mark run as ...").
RUN_STATES = ("success", "failed", "queued")
#: States a task instance may be marked with by hand (Airflow's "mark success/failed/skipped").
TI_STATES = ("success", "failed", "skipped")
#: Types of run :func:`trigger_run` creates: a user's trigger, or an asset's materialization.
TRIGGER_RUN_TYPES = ("manual", "asset_materialization")


def _note_or_invalid(note: str | None) -> str | None:
    try:
        return note_queries.check_note(note)
    except note_queries.NoteTooLong as exc:
        raise Invalid(str(exc), field="note") from None


# ------------------------------------------------------------------------ trigger
def _interval(start: datetime | None, end: datetime | None) -> DataInterval | None:
    """An explicit data interval (Airflow 3's trigger body): both ends or neither, aware, in order."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise Invalid("give both data_interval_start and data_interval_end, or neither",
                      field="data_interval_start" if start is None else "data_interval_end")
    check_aware(start, "data_interval_start")
    check_aware(end, "data_interval_end")
    if start > end:
        raise Invalid(f"data_interval_start {start.isoformat()} is after data_interval_end {end.isoformat()}",
                      field="data_interval_end")
    return DataInterval(start, end)


def trigger_run(session: Session, actor: Actor, dag_id: str, *, run_id: str | None = None,
                logical_date: datetime | None = None, conf: dict[str, Any] | None = None, note: str | None = None,
                config: Any, now: datetime, data_interval_start: datetime | None = None,
                data_interval_end: datetime | None = None, run_after: datetime | None = None,
                run_type: str = "manual") -> DagRun:
    """Create a queued manual run of the DAG's latest version (with the user's ``note``, if any).

    ``run_type`` is ``manual`` or ``asset_materialization`` (Airflow 3's type of a run asked for
    by materializing an asset it produces); it also prefixes the default run id.

    ``conf`` is refused when its JSON is bigger than ``config``'s ``[core] max_conf_size`` bytes,
    when it is not an object, or when it breaks the DAG's params (one ``errors`` item per bad
    param, ``field`` ``conf.<name>``). ``logical_date`` must be time-zone aware (default: now).
    ``data_interval_start``/``_end`` (both or neither) replace the timetable's inferred interval;
    ``run_after`` (default: now) is when the scheduler may start the run.
    Audit event ``trigger``. Wakes the scheduler.

    Raises :class:`NotFound` (no such DAG, or not parsed yet), :class:`Conflict` (run id taken),
    :class:`Invalid` (conf, logical_date, run_id, note, data interval, run_after).
    """
    from tradewind.schedule.runs import DuplicateRunError, InvalidRunParamsError, RunCreationError, create_manual_run

    if run_type not in TRIGGER_RUN_TYPES:
        raise Invalid(f"run_type must be one of {', '.join(TRIGGER_RUN_TYPES)}, got {run_type!r}", field="run_type")
    check_conf_size(conf, config.getint("core", "max_conf_size"))
    if conf is not None and not isinstance(conf, dict):
        raise Invalid(f"conf must be a JSON object, got {type(conf).__name__}", field="conf")
    check_aware(logical_date, "logical_date")
    check_aware(run_after, "run_after")
    interval = _interval(data_interval_start, data_interval_end)
    note = _note_or_invalid(note)
    version_id, snapshot = find_snapshot(session, dag_id)
    if run_id is None and run_type != "manual":
        run_id = f"{run_type}__{(logical_date or now).isoformat()}"
    try:
        run = create_manual_run(session, snapshot, version_id, run_id=run_id, logical_date=logical_date, conf=conf,
                                note=note, note_user=actor.username, data_interval=interval, run_after=run_after,
                                now=now)
    except DuplicateRunError as exc:
        message = (f"DAGRun with DAG ID: '{dag_id}' and DAGRun ID: '{run_id}' already exists" if run_id
                   else str(exc))  # without a run_id the taken one is the default the message names
        raise Conflict(message, field="dag_run_id", title="DAGRun already exists") from None
    except InvalidRunParamsError as exc:
        errors = [{"field": f"conf.{name}", "msg": reason} for name, reason in sorted(exc.errors.items())]
        raise Invalid(str(exc), field=errors[0]["field"] if errors else "conf", errors=errors) from None
    except RunCreationError as exc:
        raise Invalid(str(exc), field="dag_run_id" if "run_id" in str(exc) else "conf") from None
    run.run_type = run_type
    record(session, actor, "trigger", now=now, dag_id=dag_id, run_id=run.run_id,
           extra={"conf": conf or {}, **({"note": note} if note else {}),
                  **({"run_type": run_type} if run_type != "manual" else {})})
    mark_wake(session)
    return run


# ------------------------------------------------------------------------ runs
def set_run_state(session: Session, actor: Actor, dag_id: str, run_id: str, state: str, *, now: datetime) -> DagRun:
    """Mark a run ``success``, ``failed`` or ``queued`` with Airflow's semantics
    (:func:`tradewind.schedule.transitions.set_run_state` says what happens to its instances).

    Audit event ``set_run_state`` (``extra``: ``from``, ``state``). Wakes the scheduler.
    Raises :class:`Invalid` (``state`` not one of :data:`RUN_STATES`), :class:`NotFound`,
    :class:`Conflict` (a change the state graph does not allow).
    """
    state = str(state)
    if state not in RUN_STATES:
        raise Invalid(f"state must be one of {', '.join(RUN_STATES)}, got {state!r}", field="state")
    run = find_run(session, dag_id, run_id)
    before = run.state
    try:
        transitions.set_run_state(session, run, state, now)
    except transitions.IllegalTransition as exc:
        raise Conflict(str(exc), field="state", title="Illegal state change") from None
    record(session, actor, "set_run_state", now=now, dag_id=dag_id, run_id=run_id,
           extra={"from": before, "state": state})
    mark_wake(session)
    return run


def delete_run(session: Session, actor: Actor, dag_id: str, run_id: str, *, now: datetime) -> int:
    """Delete a run with its task instances, tries, XComs and notes; returns the rows deleted.

    Audit event ``delete_dag_run`` (``extra``: ``rows``). Raises :class:`NotFound`.
    """
    find_run(session, dag_id, run_id)
    count = run_queries.delete_run(session, dag_id, run_id)
    record(session, actor, "delete_dag_run", now=now, dag_id=dag_id, run_id=run_id, extra={"rows": count})
    return count


def set_run_note(session: Session, actor: Actor, dag_id: str, run_id: str, note: str | None, *,
                 now: datetime) -> DagRunNote:
    """Write (replace; ``None`` or ``""`` clears) the user's note on a run, at most 1000 characters.

    Audit event ``dag_run.set_note``. Raises :class:`NotFound`, :class:`Invalid` (``note`` too long).
    """
    content = _note_or_invalid(note)
    run = find_run(session, dag_id, run_id)
    row = note_queries.set_run_note(session, run.id, content, user=actor.username, now=now)
    record(session, actor, "dag_run.set_note", now=now, dag_id=dag_id, run_id=run_id,
           extra={"note": content})
    return row


# ------------------------------------------------------------------------ clearing
def _record_clear(session: Session, actor: Actor, dag_id: str, tis: Sequence[TaskInstance], count: int, *,
                  now: datetime, run_id: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """One ``clear`` entry per DAG touched (ExternalTaskMarkers reach other DAGs)."""
    for other in sorted({ti.dag_id for ti in tis} | {dag_id}):
        mine = [ti for ti in tis if ti.dag_id == other]
        if not mine and other != dag_id:
            continue
        record(session, actor, "clear", now=now, dag_id=other, run_id=run_id if other == dag_id else None, extra={
            "task_ids": sorted({ti.task_id for ti in mine}), "run_ids": sorted({ti.run_id for ti in mine}),
            "count": count, **(extra or {}),
            **({"via_external_task_marker_of": dag_id} if other != dag_id else {})})


def _select(session: Session, snapshot: DagSnapshot, request: clearing.ClearRequest) -> list[TaskInstance]:
    """The clear's selection; an invalid one (a bad regex, only_failed with only_running, an
    ExternalTaskMarker that cannot be followed) is :class:`Invalid` naming the input at fault."""
    if request.only_failed and request.only_running:
        raise Invalid("only_failed and only_running exclude each other; choose one", field="only_running")
    try:
        return clearing.instances_for(session, snapshot, request)
    except clearing.ClearError as exc:
        regex = request.task_regex is not None and "regex" in str(exc)
        raise Invalid(str(exc), field="task_regex" if regex else None) from None


def _clear(session: Session, actor: Actor, dag_id: str, tis: list[TaskInstance], *, now: datetime,
           run_id: str | None = None, extra: dict[str, Any] | None = None) -> None:
    count = clearing.clear(session, tis, now=now)
    _record_clear(session, actor, dag_id, tis, count, now=now, run_id=run_id, extra=extra)
    mark_wake(session)


def clear_run(session: Session, actor: Actor, dag_id: str, run_id: str, *, only_failed: bool = False,
              dry_run: bool = False, now: datetime) -> list[TaskInstance]:
    """Clear a run's instances (only failed/upstream_failed ones with ``only_failed``), plus what
    ExternalTaskMarkers among them point at; the runs go back to queued. Returns the instances
    cleared (or that would be, with ``dry_run``: then nothing changes and nothing is recorded).

    Audit event ``clear`` per DAG touched. Wakes the scheduler. Raises :class:`NotFound`,
    :class:`Invalid` (an ExternalTaskMarker that cannot be followed).
    """
    run = find_run(session, dag_id, run_id)
    tis = _select(session, run_snapshot(session, run),
                  clearing.ClearRequest(dag_id, run_id=run_id, only_failed=only_failed))
    if not dry_run:
        _clear(session, actor, dag_id, tis, now=now, run_id=run_id, extra={"only_failed": only_failed})
    return tis


TaskRef = str | tuple[str, int] | Sequence[Any]


def _split_task_refs(task_ids: Iterable[TaskRef]) -> tuple[set[str], dict[str, set[int]]]:
    """Names of the chosen tasks, and the map indexes of those given only as (task_id, map_index)."""
    whole: set[str] = set()
    indexes: dict[str, set[int]] = {}
    for ref in task_ids:
        if isinstance(ref, str):
            whole.add(ref)
        elif isinstance(ref, Sequence) and len(ref) == 2 and isinstance(ref[0], str) and isinstance(ref[1], int):
            indexes.setdefault(ref[0], set()).add(ref[1])
        else:
            raise Invalid(f"task_ids items must be a task id or a [task_id, map_index] pair, got {ref!r}",
                          field="task_ids")
    for name in whole:
        indexes.pop(name, None)
    return whole | set(indexes), indexes


def _task_regex(task_ids: set[str]) -> str:
    return "^(" + "|".join(re.escape(t) for t in sorted(task_ids)) + ")$"


def clear_task_instances(
    session: Session,
    actor: Actor,
    dag_id: str,
    *,
    dag_run_id: str | None = None,
    task_ids: Sequence[TaskRef] | None = None,
    task_regex: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    only_failed: bool = False,
    only_running: bool = False,
    include_upstream: bool = False,
    include_downstream: bool = False,
    include_future: bool = False,
    include_past: bool = False,
    reset_dag_runs: bool = True,
    dry_run: bool = False,
    now: datetime,
) -> list[TaskInstance]:
    """Clear task instances of a DAG (Airflow's ``ClearTaskInstancesBody``; ``tasks clear``).

    Tasks: ``task_ids`` (ids, or ``(task_id, map_index)`` pairs for single mapped instances), or
    ``task_regex`` (the CLI's), or every task; plus their upstream/downstream on request, their
    setups and teardowns, and what ExternalTaskMarkers among the instances point at (other DAGs
    too). Runs: ``dag_run_id`` (with ``include_past``/``include_future``: also the runs before /
    after its logical date), else those with a logical date in ``[start_date, end_date]``.
    ``only_failed`` / ``only_running`` narrow the states. The affected runs go back to queued
    (``reset_dag_runs=False`` is refused: a cleared instance in a finished run would never run).

    Returns the instances cleared (or that would be, with ``dry_run``: nothing changes or is
    recorded). Audit event ``clear`` per DAG touched. Wakes the scheduler. Raises
    :class:`NotFound` (DAG, run), :class:`Invalid` (unknown tasks, a bad regex, both only_*,
    reset_dag_runs=False, a date without time zone).
    """
    if not reset_dag_runs:
        raise Invalid("reset_dag_runs=false is not supported: clearing always puts the affected runs back to "
                      "queued so the scheduler runs the cleared instances", field="reset_dag_runs")
    if task_ids is not None and task_regex is not None:
        raise Invalid("give task_ids or task_regex, not both", field="task_regex")
    check_aware(start_date, "start_date")
    check_aware(end_date, "end_date")
    _, snapshot = find_snapshot(session, dag_id)
    indexes: dict[str, set[int]] = {}
    if task_ids is not None:
        names, indexes = _split_task_refs(task_ids)
        unknown = sorted(names - set(snapshot.tasks))
        if unknown:
            raise Invalid(f"DAG '{dag_id}' has no task(s) {', '.join(unknown)}", field="task_ids")
        if not names:
            return []  # nothing chosen, nothing cleared (Airflow's empty selection)
        task_regex = _task_regex(names)
    start, end, run_id = start_date, end_date, dag_run_id
    if dag_run_id is not None:
        run = find_run(session, dag_id, dag_run_id)
        if (include_past or include_future) and run.logical_date is not None:
            start = None if include_past else run.logical_date
            end = None if include_future else run.logical_date
            run_id = None
    request = clearing.ClearRequest(dag_id, task_regex=task_regex, start=start, end=end, run_id=run_id,
                                    upstream=include_upstream, downstream=include_downstream,
                                    only_failed=only_failed, only_running=only_running)
    tis = [ti for ti in _select(session, snapshot, request)
           if not (ti.dag_id == dag_id and ti.task_id in indexes and ti.map_index not in indexes[ti.task_id])]
    if not dry_run:
        _clear(session, actor, dag_id, tis, now=now, run_id=dag_run_id)
    return tis


# ------------------------------------------------------------------------ marking instances
def _runs_around(session: Session, run: DagRun, *, past: bool, future: bool) -> list[DagRun]:
    """``run``, plus the DAG's runs before (``past``) / after (``future``) its logical date."""
    if run.logical_date is None or not (past or future):
        return [run]
    stmt = select(DagRun).where(DagRun.dag_id == run.dag_id, DagRun.logical_date.is_not(None))
    if not past:
        stmt = stmt.where(DagRun.logical_date >= run.logical_date)
    if not future:
        stmt = stmt.where(DagRun.logical_date <= run.logical_date)
    return list(session.scalars(stmt.order_by(DagRun.logical_date, DagRun.id)))


def _tis_to_mark(session: Session, snapshot: DagSnapshot, runs: list[DagRun], task_id: str, map_index: int | None,
                 *, upstream: bool, downstream: bool) -> list[TaskInstance]:
    task_ids = {task_id}
    if upstream:
        task_ids |= snapshot.all_upstream(task_id)
    if downstream:
        task_ids |= snapshot.all_downstream(task_id)
    tis: list[TaskInstance] = []
    for run in runs:
        tis += [ti for ti in list_tis(session, run.dag_id, run.run_id, task_ids=sorted(task_ids))
                if map_index is None or ti.task_id != task_id or ti.map_index == map_index]
    return tis


def set_task_instance_state(session: Session, actor: Actor, dag_id: str, run_id: str, task_id: str,
                            map_index: int | None, state: str, *, include_upstream: bool = False,
                            include_downstream: bool = False, include_future: bool = False,
                            include_past: bool = False, dry_run: bool = False, now: datetime) -> list[TaskInstance]:
    """Mark a task's instance(s) ``success``, ``failed`` or ``skipped`` by hand.

    ``map_index`` None: every instance of the task in the run (all map indexes); an int: that
    one. ``include_upstream`` / ``include_downstream`` add the task's relatives (all their map
    indexes); ``include_past`` / ``include_future`` do the same in the DAG's runs before / after
    this run's logical date. A finished run whose instance changes goes back to running, so the
    scheduler decides it again. Instances already in ``state`` are left as they are.

    Returns the instances marked (or that would be, with ``dry_run``: nothing changes or is
    recorded). Audit event ``set_state``. Wakes the scheduler. Raises :class:`Invalid`
    (``new_state`` not one of :data:`TI_STATES`), :class:`NotFound` (DAG, run, task, instance),
    :class:`Conflict` (a change the state graph does not allow).
    """
    state = str(state)
    if state not in TI_STATES:
        raise Invalid(f"new_state must be one of {', '.join(TI_STATES)}, got {state!r}", field="new_state")
    run = find_run(session, dag_id, run_id)
    snapshot = run_snapshot(session, run)
    check_task(snapshot, task_id)
    runs = _runs_around(session, run, past=include_past, future=include_future)
    tis = _tis_to_mark(session, snapshot, runs, task_id, map_index, upstream=include_upstream,
                       downstream=include_downstream)
    if not any(ti.task_id == task_id and ti.run_id == run_id for ti in tis):
        find_task_instance(session, dag_id, run_id, task_id, -1 if map_index is None else map_index)
    if dry_run:
        return tis
    try:
        for ti in tis:
            if ti.state != state:
                transitions.set_ti_state(session, ti, state, now)
    except transitions.IllegalTransition as exc:
        raise Conflict(str(exc), field="new_state", title="Illegal state change") from None
    record(session, actor, "set_state", now=now, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index,
           extra={"state": state, "task_ids": sorted({t.task_id for t in tis}),
                  **({"run_ids": sorted({t.run_id for t in tis})} if len(runs) > 1 else {})})
    mark_wake(session)
    return tis


def set_task_instance_note(session: Session, actor: Actor, dag_id: str, run_id: str, task_id: str, map_index: int,
                           note: str | None, *, now: datetime) -> TaskInstanceNote:
    """Write (replace; ``None`` or ``""`` clears) the user's note on one task instance (map index
    -1 for an unmapped task), at most 1000 characters.

    Audit event ``task_instance.set_note``. Raises :class:`NotFound`, :class:`Invalid` (``note`` too long).
    """
    content = _note_or_invalid(note)
    ti = find_task_instance(session, dag_id, run_id, task_id, map_index)
    row = note_queries.set_ti_note(session, ti.id, content, user=actor.username, now=now)
    record(session, actor, "task_instance.set_note", now=now, dag_id=dag_id, run_id=run_id, task_id=task_id,
           map_index=map_index, extra={"note": content})
    return row


#: Rows of one task instance, children first (deleting the instance deletes these; its note cascades).
_TI_ROW_TABLES = (XCom, TaskInstanceTry, TaskReschedule, HITLDetail)


def delete_task_instance(session: Session, actor: Actor, dag_id: str, run_id: str, task_id: str,
                         map_index: int = -1, *, now: datetime) -> int:
    """Delete one task instance with its tries, XComs, reschedules, HITL requests and note (Airflow
    3.1's "delete task instance"); returns the rows deleted. The run keeps its other instances;
    the scheduler re-creates nothing for it (clear the run to run the task again).

    Audit event ``delete_task_instance`` (``extra``: ``rows``). Raises :class:`NotFound`,
    :class:`Conflict` while the instance is running.
    """
    ti = find_task_instance(session, dag_id, run_id, task_id, map_index)
    if ti.state == "running":
        raise Conflict(f"task instance {task_id} (map index {map_index}) of run '{run_id}' is running; mark it or "
                       "wait before deleting it", field="task_id", title="TaskInstance still running")
    count = 0
    for table in _TI_ROW_TABLES:
        result = session.execute(delete(table).where(
            table.dag_id == dag_id, table.run_id == run_id, table.task_id == task_id, table.map_index == map_index,
        ).execution_options(synchronize_session=False))
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.delete(ti)
    session.flush()
    record(session, actor, "delete_task_instance", now=now, dag_id=dag_id, run_id=run_id, task_id=task_id,
           map_index=map_index, extra={"rows": count + 1})
    return count + 1


# ------------------------------------------------------------------------ DAGs
def set_paused(session: Session, actor: Actor, dag_id: str, paused: bool, *, now: datetime) -> bool:
    """Pause or unpause a DAG; True when that changed it (then audit event ``paused`` /
    ``unpaused``; unpausing wakes the scheduler, so queued runs start now). Raises :class:`NotFound`."""
    dag = find_dag(session, dag_id)
    changed = bool(dag.is_paused) != bool(paused)
    dag_queries.set_paused(session, dag_id, bool(paused))
    if changed:
        record(session, actor, "paused" if paused else "unpaused", now=now, dag_id=dag_id)
        if not paused:
            mark_wake(session)
    return changed


def delete_dag(session: Session, actor: Actor, dag_id: str, *, now: datetime) -> int:
    """Delete a DAG's rows (runs, instances, tries, XComs, notes, versions); it comes back on its
    file's next parse. Returns the rows deleted. Audit event ``delete_dag`` (``extra``: ``rows``).

    Raises :class:`NotFound`, :class:`Conflict` while any of its instances is running.
    """
    find_dag(session, dag_id)
    running = session.scalar(select(TaskInstance.id).where(
        TaskInstance.dag_id == dag_id, TaskInstance.state == "running").limit(1))
    if running is not None:
        raise Conflict(f"DAG '{dag_id}' has task instances still running; mark them or wait before deleting",
                       field="dag_id", title="TaskInstances still running")
    count = dag_queries.delete_dag(session, dag_id)
    record(session, actor, "delete_dag", now=now, dag_id=dag_id, extra={"rows": count})
    return count

