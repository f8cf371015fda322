"""Queries of the UI's home page: what failed lately, what runs now, pool use, component jobs.

The home page refreshes every few seconds for every signed-in user, so each function here is a
small, bounded statement whatever the size of the history:

* lists are ``ORDER BY ... LIMIT n`` and come with a separate ``COUNT`` (never the whole table);
* every filter starts from the ``state`` column, which ``dag_run`` and ``task_instance`` index,
  so a query reads only the rows of that state (failed, running, queued) and then checks their
  time; the finished runs of the window are counted per state in one ``GROUP BY``;
* nothing loops over DAGs.

None of these functions writes; the caller owns the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.persist.models import DagModel, DagRun, ImportError_, Job, TaskInstance

#: Most rows a list of the home page shows (the counts next to it are exact).
LIST_LIMIT = 20

#: Run states that end a run; a run in one of them counts in the window by its ``end_date``.
FINISHED_RUN_STATES = ("success", "failed")
#: Run states of runs that are not finished; they are shown whenever they started.
ACTIVE_RUN_STATES = ("queued", "running")


@dataclass(frozen=True)
class Listing:
    """The first ``LIST_LIMIT`` rows of a list and how many there are in all."""

    rows: list[Any]
    total: int


def _listing(session: Session, stmt: Any, order: tuple[Any, ...], limit: int) -> Listing:
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(session.scalars(stmt.order_by(*order).limit(limit))) if total else []
    return Listing(rows, total)


def failed_runs(session: Session, since: datetime, limit: int = LIST_LIMIT) -> Listing:
    """Runs that failed since ``since`` (by their end), newest failure first."""
    stmt = select(DagRun).where(DagRun.state == "failed", DagRun.end_date >= since)
    return _listing(session, stmt, (DagRun.end_date.desc(), DagRun.id.desc()), limit)


def failed_task_instances(session: Session, since: datetime, limit: int = LIST_LIMIT) -> Listing:
    """Task instances that failed since ``since`` (by their end), newest first."""
    stmt = select(TaskInstance).where(TaskInstance.state == "failed", TaskInstance.end_date >= since)
    return _listing(session, stmt, (TaskInstance.end_date.desc(), TaskInstance.id.desc()), limit)


def runs_in_state(session: Session, state: str, limit: int = LIST_LIMIT) -> Listing:
    """Runs in ``state`` now (queued or running), the most recently started or queued first."""
    stmt = select(DagRun).where(DagRun.state == state)
    when = func.coalesce(DagRun.start_date, DagRun.queued_at, DagRun.run_after)
    return _listing(session, stmt, (when.desc(), DagRun.id.desc()), limit)


def task_instances_in_state(session: Session, state: str, limit: int = LIST_LIMIT) -> Listing:
    """Task instances in ``state`` now (running, queued...), the most recently started or queued first."""
    stmt = select(TaskInstance).where(TaskInstance.state == state)
    when = func.coalesce(TaskInstance.start_date, TaskInstance.queued_dttm)
    return _listing(session, stmt, (when.desc(), TaskInstance.id.desc()), limit)


def run_state_counts(session: Session, since: datetime) -> dict[str, int]:
    """Runs per state for the window: those that finished since ``since`` (success, failed) plus
    every run queued or running now. Every state is present, with 0 when there is none."""
    counts = {state: 0 for state in (*ACTIVE_RUN_STATES, *FINISHED_RUN_STATES)}
    finished = session.execute(
        select(DagRun.state, func.count())
        .where(DagRun.state.in_(FINISHED_RUN_STATES), DagRun.end_date >= since)
        .group_by(DagRun.state))
    active = session.execute(
        select(DagRun.state, func.count()).where(DagRun.state.in_(ACTIVE_RUN_STATES)).group_by(DagRun.state))
    for state, n in [*finished, *active]:
        counts[state] = int(n)
    return counts


def dag_counts(session: Session) -> dict[str, int]:
    """Active DAGs (present in a DAG file) that are unpaused, and paused ones."""
    rows = session.execute(
        select(DagModel.is_paused, func.count()).where(DagModel.is_active.is_(True)).group_by(DagModel.is_paused))
    found = {bool(paused): int(n) for paused, n in rows}
    return {"active": found.get(False, 0), "paused": found.get(True, 0)}


def import_error_count(session: Session) -> int:
    """How many DAG files failed to import."""
    return int(session.scalar(select(func.count(func.distinct(ImportError_.filename)))) or 0)


def running_jobs(session: Session, job_types: tuple[str, ...], limit: int = LIST_LIMIT) -> list[Job]:
    """Jobs of those types still marked running (alive or not), freshest heartbeat first."""
    return list(session.scalars(
        select(Job).where(Job.job_type.in_(job_types), Job.state == "running")
        .order_by(Job.latest_heartbeat.desc(), Job.id.desc()).limit(limit)))
