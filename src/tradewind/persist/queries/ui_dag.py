"""Reads for the per-DAG views of the UI (graph, Gantt, task duration/tries, calendar, versions, events).

Every query is bounded by one DAG and either one run or a list of run ids, and uses an index:
``dag_run (dag_id, logical_date)`` to pick recent runs, the unique keys of ``task_instance`` and
``task_instance_try`` (``dag_id, run_id, ...``) for their task rows. The calendar groups by day in
the database, so a DAG with a run every minute still returns at most 366 × states rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from tradewind.persist.models import AuditLog, DagRun, DagVersion, TaskInstance, TaskInstanceTry


def recent_runs(session: Session, dag_id: str, limit: int) -> list[DagRun]:
    """The DAG's ``limit`` most recent runs by logical date, oldest first (the order charts read)."""
    rows = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id)
        .order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(limit))
    return list(reversed(list(rows)))


def latest_run(session: Session, dag_id: str) -> DagRun | None:
    """The run with the latest logical date (the graph and Gantt show it when no run is picked)."""
    return session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id)
        .order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(1)).first()


def run_task_instances(session: Session, dag_id: str, run_id: str) -> list[Any]:
    """(task_id, map_index, state, try_number, queued_dttm, start_date, end_date) of one run's instances."""
    return list(session.execute(
        select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.try_number,
               TaskInstance.queued_dttm, TaskInstance.start_date, TaskInstance.end_date)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)))


def run_tries(session: Session, dag_id: str, run_id: str) -> list[Any]:
    """Every try of one run: (task_id, map_index, try_number, state, start_date, end_date, duration)."""
    return list(session.execute(
        select(TaskInstanceTry.task_id, TaskInstanceTry.map_index, TaskInstanceTry.try_number,
               TaskInstanceTry.state, TaskInstanceTry.start_date, TaskInstanceTry.end_date,
               TaskInstanceTry.duration)
        .where(TaskInstanceTry.dag_id == dag_id, TaskInstanceTry.run_id == run_id)
        .order_by(TaskInstanceTry.task_id, TaskInstanceTry.map_index, TaskInstanceTry.try_number)))


def task_stats(session: Session, dag_id: str, run_ids: Sequence[str]) -> list[Any]:
    """Per (run_id, task_id): earliest start, latest end, summed duration, most tries, instance count.

    Mapped tasks collapse to one row per run (start of the first instance to end of the last).
    """
    if not run_ids:
        return []
    return list(session.execute(
        select(TaskInstance.run_id, TaskInstance.task_id, func.min(TaskInstance.start_date),
               func.max(TaskInstance.end_date), func.sum(TaskInstance.duration),
               func.max(TaskInstance.try_number), func.count())
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(list(run_ids)))
        .group_by(TaskInstance.run_id, TaskInstance.task_id)))


def run_day_counts(session: Session, dag_id: str, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """(UTC day as 'YYYY-MM-DD', run state, number of runs) for runs with a logical date in [start, end)."""
    if session.get_bind().dialect.name == "sqlite":
        day = func.substr(DagRun.logical_date, 1, 10)
    else:
        day = cast(DagRun.logical_date, Date)
    rows = session.execute(
        select(day, DagRun.state, func.count())
        .where(DagRun.dag_id == dag_id, DagRun.logical_date >= start, DagRun.logical_date < end)
        .group_by(day, DagRun.state))
    return [(str(d)[:10], state, int(n)) for d, state, n in rows]


def run_year_bounds(session: Session, dag_id: str) -> tuple[datetime | None, datetime | None]:
    """Logical dates of the DAG's first and last runs (the calendar's year selector range)."""
    first, last = session.execute(
        select(func.min(DagRun.logical_date), func.max(DagRun.logical_date)).where(DagRun.dag_id == dag_id)).one()
    return first, last


def versions_with_run_counts(session: Session, dag_id: str) -> list[tuple[DagVersion, int]]:
    """Every stored version of the DAG, newest first, with how many runs were created with it
    (two queries: the versions, then one GROUP BY over ``dag_run.dag_version_id``)."""
    versions = list(session.scalars(
        select(DagVersion).where(DagVersion.dag_id == dag_id).order_by(DagVersion.version_number.desc())))
    counts = dict(session.execute(
        select(DagRun.dag_version_id, func.count()).where(DagRun.dag_id == dag_id)
        .group_by(DagRun.dag_version_id)).all())
    return [(v, int(counts.get(v.id, 0))) for v in versions]


def version_by_number(session: Session, dag_id: str, number: int) -> DagVersion | None:
    return session.scalar(select(DagVersion).where(DagVersion.dag_id == dag_id, DagVersion.version_number == number))


def dag_events(session: Session, dag_id: str, *, limit: int, offset: int,
               event: str | None = None) -> tuple[list[AuditLog], int]:
    """One page of the audit log entries about the DAG, newest first, and how many there are
    (the index ``log (dag_id, dttm)`` serves both)."""
    where = [AuditLog.dag_id == dag_id]
    if event:
        where.append(AuditLog.event == event)
    total = session.scalar(select(func.count()).select_from(AuditLog).where(*where)) or 0
    rows = session.scalars(select(AuditLog).where(*where).order_by(AuditLog.dttm.desc(), AuditLog.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), int(total)


def dag_event_names(session: Session, dag_id: str) -> list[str]:
    """The distinct event names logged about the DAG (the Events tab's filter)."""
    return list(session.scalars(select(AuditLog.event).where(AuditLog.dag_id == dag_id).distinct()
                                .order_by(AuditLog.event)))
