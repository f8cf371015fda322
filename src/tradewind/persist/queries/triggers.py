"""The ``trigger`` table: rows a deferred task instance waits on, and which triggerer runs them.

A trigger is *assigned* to one triggerer job (``triggerer_id``). A triggerer takes
unassigned triggers, and those of triggerers that stopped heartbeating, up to its
capacity; it runs exactly the triggers assigned to it, so when another one takes a
trigger over, the first one notices and cancels its copy. A trigger no deferred task
instance waits on any more (the instance was cleared, marked, timed out or resumed) is
deleted by :func:`delete_unused`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from tradewind.persist.models import Job, TaskInstance, Trigger

TRIGGERER_JOB_TYPE = "triggerer"
_DEFERRED = "deferred"
#: The classpath of an asset watcher's row (see persist/queries/asset_watchers.py): no task
#: instance waits on it, yet it is in use while a DAG is scheduled on the watched asset.
WATCHER_CLASSPATH = "tradewind:asset-watcher"


def add_trigger(session: Session, classpath: str, kwargs: dict[str, Any], now: datetime) -> int:
    """Insert a trigger row (kwargs already in their stored JSON form); return its id."""
    result = session.execute(insert(Trigger).values(classpath=classpath, kwargs=kwargs, created_date=now))
    return int(result.inserted_primary_key[0])


def alive_triggerer_ids(session: Session, now: datetime, grace: timedelta) -> list[int]:
    """Triggerer jobs that are running and heartbeat within ``grace``."""
    return list(session.scalars(select(Job.id).where(
        Job.job_type == TRIGGERER_JOB_TYPE, Job.state == "running", Job.latest_heartbeat >= now - grace)))


def assign_unassigned(session: Session, triggerer_id: int, capacity: int, alive_ids: Iterable[int]) -> int:
    """Give ``triggerer_id`` up to ``capacity`` triggers (oldest first) that nobody alive runs.

    The UPDATE re-checks the condition row by row, so two triggerers racing for the same
    trigger cannot both keep it past their next look. Returns how many were taken.
    """
    if capacity <= 0:
        return 0
    alive = sorted(set(alive_ids) | {triggerer_id})
    orphan = or_(Trigger.triggerer_id.is_(None), Trigger.triggerer_id.not_in(alive))
    ids = list(session.scalars(select(Trigger.id).where(orphan).order_by(Trigger.id).limit(capacity)))
    if not ids:
        return 0
    result = session.execute(
        update(Trigger).where(Trigger.id.in_(ids), orphan).values(triggerer_id=triggerer_id)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def ids_for_triggerer(session: Session, triggerer_id: int) -> set[int]:
    return set(session.scalars(select(Trigger.id).where(Trigger.triggerer_id == triggerer_id)))


def count_for_triggerer(session: Session, triggerer_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Trigger).where(Trigger.triggerer_id == triggerer_id)))


def trigger_rows(session: Session, ids: Iterable[int]) -> list[Any]:
    """``(id, classpath, kwargs)`` of those triggers, with the instance waiting on each
    (``dag_id, run_id, task_id, map_index``; None when no deferred instance waits on it)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    ti = TaskInstance
    return list(session.execute(
        select(Trigger.id, Trigger.classpath, Trigger.kwargs, ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        .select_from(Trigger)
        .outerjoin(ti, (ti.trigger_id == Trigger.id) & (ti.state == _DEFERRED))
        .where(Trigger.id.in_(wanted))
    ))


def release(session: Session, triggerer_id: int) -> int:
    """A triggerer stopping hands its triggers back (another one takes them at once)."""
    result = session.execute(update(Trigger).where(Trigger.triggerer_id == triggerer_id)
                             .values(triggerer_id=None).execution_options(synchronize_session=False))
    return result.rowcount or 0


def delete_triggers(session: Session, ids: Iterable[int]) -> None:
    wanted = sorted(set(ids))
    if wanted:
        session.execute(delete(Trigger).where(Trigger.id.in_(wanted)).execution_options(synchronize_session=False))


def any_trigger(session: Session) -> bool:
    """Whether the trigger table has a row at all (an idle triggerer's whole check)."""
    return session.scalar(select(Trigger.id).limit(1)) is not None


def delete_unused(session: Session) -> int:
    """Delete triggers no deferred task instance waits on; returns how many."""
    waited_on = exists().where(TaskInstance.trigger_id == Trigger.id, TaskInstance.state == _DEFERRED)
    result = session.execute(delete(Trigger).where(~waited_on, Trigger.classpath != WATCHER_CLASSPATH)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0
