"""Task-instance queries. The session is passed in; nothing here commits or changes state
(state changes go through :mod:`tradewind.schedule.transitions`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, tuple_
from sqlalchemy.orm import Session

from tradewind.persist.models import Job, TaskInstance, TaskInstanceTry
from tradewind.persist.queries import in_chunks


def get_ti(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance | None:
    return session.scalars(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    ).one_or_none()


def list_tis(
    session: Session,
    dag_id: str | None = None,
    run_id: str | None = None,
    *,
    task_ids: Iterable[str] | None = None,
    state: str | Iterable[str] | None = None,
) -> list[TaskInstance]:
    q = select(TaskInstance)
    if dag_id is not None:
        q = q.where(TaskInstance.dag_id == dag_id)
    if run_id is not None:
        q = q.where(TaskInstance.run_id == run_id)
    if task_ids is not None:
        q = q.where(TaskInstance.task_id.in_(list(task_ids)))
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        q = q.where(TaskInstance.state.in_([str(s) for s in states]))
    return list(session.scalars(q.order_by(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.id)))


def tis_for_runs(session: Session, run_keys: Iterable[tuple[str, str]]) -> list[TaskInstance]:
    """All instances of the given (dag_id, run_id) runs, in one query."""
    keys = list(run_keys)
    if not keys:
        return []
    return list(
        session.scalars(select(TaskInstance).where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys)))
    )


#: The columns :func:`ti_rows_for_runs` reads: what the scheduler decides and queues on.
TI_ROW_COLUMNS = ("id", "dag_id", "run_id", "task_id", "map_index", "state", "try_number", "next_retry_at",
                  "priority_weight", "pool", "pool_slots", "queue", "dag_version_id")


def ti_rows_for_runs(session: Session, run_keys: Iterable[tuple[str, str]]) -> list[Any]:
    """All instances of the given (dag_id, run_id) runs as read-only rows of
    :data:`TI_ROW_COLUMNS` (no ORM objects: building them costs more than the query)."""
    keys = list(run_keys)
    if not keys:
        return []
    if len(keys) == 1:  # the usual case: a statement built once
        (dag_id, run_id), = keys
        return list(session.execute(_one_run_rows_stmt(), {"p_dag_id": dag_id, "p_run_id": run_id}))
    return list(session.execute(_ti_rows_select().where(_of_runs(keys))))


def ti_rows_in_states(session: Session, run_keys: list[tuple[str, str]], states: Iterable[str]) -> list[Any]:
    """The instances of the given runs that are in ``states``, as rows of :data:`TI_ROW_COLUMNS`
    (an index range on ``(dag_id, run_id, state)``)."""
    table = TaskInstance.__table__
    return list(session.execute(_ti_rows_select().where(_of_runs(run_keys), table.c.state.in_(sorted(states)))))


def state_tallies(session: Session, run_keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, tuple[int, int]]]:
    """(dag_id, run_id) -> {state: (instances in it, sum of their ids)}, read from the
    ``(dag_id, run_id, state)`` index alone (the id is in every index entry): a cheap way to
    notice that a run's instances moved without reading them."""
    table = TaskInstance.__table__
    stmt = (select(table.c.dag_id, table.c.run_id, table.c.state, func.count(), func.sum(table.c.id))
            .where(_of_runs(run_keys)).group_by(table.c.dag_id, table.c.run_id, table.c.state))
    out: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for dag_id, run_id, state, count, total in session.execute(stmt):
        out.setdefault((dag_id, run_id), {})[state] = (int(count), int(total))
    return out


def _ti_rows_select() -> Any:
    table = TaskInstance.__table__
    return select(*(table.c[name] for name in TI_ROW_COLUMNS))


def _of_runs(run_keys: list[tuple[str, str]]) -> Any:
    """The WHERE clause for the instances of these (dag_id, run_id) runs."""
    table = TaskInstance.__table__
    if len(run_keys) == 1:
        (dag_id, run_id), = run_keys
        return and_(table.c.dag_id == dag_id, table.c.run_id == run_id)
    return tuple_(table.c.dag_id, table.c.run_id).in_(run_keys)


def ti_rows_by_ids(session: Session, ids: Iterable[int]) -> list[Any]:
    """The instances with these ids as rows of :data:`TI_ROW_COLUMNS` (missing ids: no row)."""
    table = TaskInstance.__table__
    out: list[Any] = []
    for chunk in in_chunks(ids):
        out.extend(session.execute(_ti_rows_select().where(table.c.id.in_(chunk))))
    return out


@cache
def _one_run_rows_stmt() -> Any:
    table = TaskInstance.__table__
    return _ti_rows_select().where(table.c.dag_id == bindparam("p_dag_id"), table.c.run_id == bindparam("p_run_id"))


def tis_by_ids(session: Session, ids: Iterable[int]) -> dict[int, TaskInstance]:
    """ORM objects of the instances with these ids (those already in the session cost no query)."""
    found: dict[int, TaskInstance] = {}
    missing = []
    for ti_id in ids:
        obj = session.identity_map.get(session.identity_key(TaskInstance, ti_id))
        if obj is not None:
            found[ti_id] = obj  # type: ignore[assignment]
        else:
            missing.append(ti_id)
    for chunk in in_chunks(missing):
        for obj in session.scalars(select(TaskInstance).where(TaskInstance.id.in_(chunk))):
            found[obj.id] = obj
    return found


def states_for_runs(session: Session, run_keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """(dag_id, run_id) -> {task_id: state} for unmapped instances, in one query."""
    keys = list(run_keys)
    out: dict[tuple[str, str], dict[str, str]] = {k: {} for k in keys}
    if not keys:
        return out
    rows = session.execute(
        select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.state).where(
            tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys), TaskInstance.map_index < 0
        )
    ).all()
    for dag_id, run_id, task_id, state in rows:
        out[(dag_id, run_id)][task_id] = state
    return out


def list_tries(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[TaskInstanceTry]:
    return list(
        session.scalars(
            select(TaskInstanceTry)
            .where(
                TaskInstanceTry.dag_id == dag_id,
                TaskInstanceTry.run_id == run_id,
                TaskInstanceTry.task_id == task_id,
                TaskInstanceTry.map_index == map_index,
            )
            .order_by(TaskInstanceTry.try_number)
        )
    )


def earliest_retry_at(session: Session) -> datetime | None:
    """When the next up_for_retry instance becomes due (for the scheduler's wait)."""
    return session.scalar(select(func.min(TaskInstance.next_retry_at)).where(TaskInstance.state == "up_for_retry"))


def stale_running(session: Session, older_than: datetime) -> list[TaskInstance]:
    """Running instances whose last heartbeat is older than ``older_than`` (zombie candidates).

    Locked ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite ignores it): of several schedulers
    checking at once, each takes the rows the others have not, so no try is failed twice.
    """
    return list(
        session.scalars(
            select(TaskInstance).where(
                TaskInstance.state == "running",
                (TaskInstance.last_heartbeat_at < older_than) | TaskInstance.last_heartbeat_at.is_(None),
            ).with_for_update(skip_locked=True)
        )
    )


def stuck_queued(session: Session, queued_before: datetime) -> list[TaskInstance]:
    """Instances queued before ``queued_before`` and still not started by any worker.

    Locked ``FOR UPDATE SKIP LOCKED`` like :func:`stale_running`, so two schedulers never
    both put one back to scheduled.
    """
    return list(
        session.scalars(
            select(TaskInstance).where(
                TaskInstance.state == "queued", TaskInstance.queued_dttm < queued_before,
            ).with_for_update(skip_locked=True)
        )
    )


def orphaned_queued_stmt(*, legacy_queued_before: datetime) -> Any:
    """Queued instances whose scheduler is gone: the job that queued them is not running (ended,
    declared dead, or deleted); instances queued before ``queued_by_job_id`` was recorded count
    when queued before ``legacy_queued_before``. A SELECT to lock ``FOR UPDATE SKIP LOCKED``."""
    job = Job.__table__
    alive = exists().where(job.c.id == TaskInstance.queued_by_job_id, job.c.state == "running")
    return select(TaskInstance).where(
        TaskInstance.state == "queued",
        (TaskInstance.queued_by_job_id.is_not(None) & ~alive)
        | (TaskInstance.queued_by_job_id.is_(None) & (TaskInstance.queued_dttm < legacy_queued_before)),
    )


def earliest_heartbeat(session: Session) -> datetime | None:
    return session.scalar(select(func.min(TaskInstance.last_heartbeat_at)).where(TaskInstance.state == "running"))
