"""Backfill queries: the Backfill rows and their per-date BackfillDagRun rows.

The session is passed in; nothing here commits. Deciding what a backfill does
(which dates, which runs to create or clear) is :mod:`tradewind.schedule.backfill`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.persist.models import Backfill, BackfillDagRun, DagRun
from tradewind.states import DagRunState

_UNFINISHED_RUNS = (DagRunState.QUEUED.value, DagRunState.RUNNING.value)


def get_backfill(session: Session, backfill_id: int) -> Backfill | None:
    return session.get(Backfill, backfill_id)


def list_backfills(session: Session, dag_id: str | None = None, *, active_only: bool = False) -> list[Backfill]:
    """Backfills, newest first; only one DAG's with ``dag_id``; only uncompleted ones with ``active_only``."""
    q = select(Backfill)
    if dag_id is not None:
        q = q.where(Backfill.dag_id == dag_id)
    if active_only:
        q = q.where(Backfill.completed_at.is_(None))
    return list(session.scalars(q.order_by(Backfill.created_at.desc(), Backfill.id.desc())))


def active_backfill_for_dag(session: Session, dag_id: str) -> Backfill | None:
    """The DAG's uncompleted backfill (there is at most one, as in Airflow)."""
    return session.scalars(
        select(Backfill).where(Backfill.dag_id == dag_id, Backfill.completed_at.is_(None)).limit(1)
    ).first()


def runnable_backfills(session: Session) -> list[Backfill]:
    """Uncompleted, unpaused backfills: the ones the scheduler drives, oldest first."""
    return list(session.scalars(
        select(Backfill).where(Backfill.completed_at.is_(None), Backfill.is_paused.is_(False)).order_by(Backfill.id)
    ))


def dag_runs_of(session: Session, backfill_id: int) -> list[BackfillDagRun]:
    """The backfill's dates in the order they run (``sort_ordinal``)."""
    return list(session.scalars(
        select(BackfillDagRun).where(BackfillDagRun.backfill_id == backfill_id).order_by(BackfillDagRun.sort_ordinal)
    ))


def pending_dates(session: Session, backfill_id: int, limit: int) -> list[BackfillDagRun]:
    """Dates with neither a run nor a reason for having none yet, next first."""
    return list(session.scalars(
        select(BackfillDagRun)
        .where(BackfillDagRun.backfill_id == backfill_id, BackfillDagRun.dag_run_id.is_(None),
               BackfillDagRun.exception_reason.is_(None))
        .order_by(BackfillDagRun.sort_ordinal)
        .limit(limit)
    ))


def unfinished_run_count(session: Session, backfill_id: int) -> int:
    """Queued + running runs that belong to the backfill (what its ``max_active_runs`` limits)."""
    return session.scalar(
        select(func.count()).select_from(DagRun)
        .where(DagRun.backfill_id == backfill_id, DagRun.state.in_(_UNFINISHED_RUNS))
    ) or 0


def run_states(session: Session, backfill_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """backfill id -> {run state: count} of the runs each backfill created or took over."""
    ids = list(backfill_ids)
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(DagRun.backfill_id, DagRun.state, func.count())
        .where(DagRun.backfill_id.in_(ids))
        .group_by(DagRun.backfill_id, DagRun.state)
    ).all()
    for backfill_id, state, n in rows:
        out[backfill_id][state] = n
    return out


def date_counts(session: Session, backfill_ids: Iterable[int]) -> dict[int, tuple[int, int, int]]:
    """backfill id -> (dates, dates with a run, dates skipped with a reason)."""
    ids = list(backfill_ids)
    out = {i: (0, 0, 0) for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(BackfillDagRun.backfill_id, func.count(), func.count(BackfillDagRun.dag_run_id),
               func.count(BackfillDagRun.exception_reason))
        .where(BackfillDagRun.backfill_id.in_(ids))
        .group_by(BackfillDagRun.backfill_id)
    ).all()
    for backfill_id, total, with_run, skipped in rows:
        out[backfill_id] = (total, with_run, skipped)
    return out


def latest_run_at(session: Session, dag_id: str, logical_date: datetime) -> DagRun | None:
    """The DAG's run with that logical date (the most recently started one if several)."""
    return session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date)
        .order_by(DagRun.start_date.is_(None), DagRun.start_date.desc(), DagRun.id.desc())
        .limit(1)
    ).first()
