"""DAG-run queries. The session is passed in; nothing here commits or changes state
(state changes go through :mod:`tradewind.schedule.transitions`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradewind.persist.models import DagRun, TaskInstance, TaskInstanceTry, XCom
from tradewind.states import DagRunState, DagRunType

UNFINISHED = (DagRunState.QUEUED.value, DagRunState.RUNNING.value)
AUTOMATED_TYPES = (DagRunType.SCHEDULED.value, DagRunType.BACKFILL.value)


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun | None:
    return session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none()


def list_runs(
    session: Session,
    dag_id: str | None = None,
    *,
    state: str | Iterable[str] | None = None,
    run_type: str | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[DagRun]:
    """Runs, filtered; newest logical date (then id) first by default."""
    q = select(DagRun)
    if dag_id is not None:
        q = q.where(DagRun.dag_id == dag_id)
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        q = q.where(DagRun.state.in_([str(s) for s in states]))
    if run_type is not None:
        q = q.where(DagRun.run_type == str(run_type))
    order = (DagRun.run_after.desc(), DagRun.id.desc()) if newest_first else (DagRun.run_after, DagRun.id)
    q = q.order_by(*order)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def run_counts_by_state(session: Session, states: Iterable[str] = UNFINISHED, *,
                        exclude_backfill: bool = False) -> dict[tuple[str, str], int]:
    """(dag_id, state) -> number of runs in that state. ``exclude_backfill``: leave out backfill
    runs (they count against their backfill's ``max_active_runs``, not the DAG's)."""
    q = select(DagRun.dag_id, DagRun.state, func.count()).where(DagRun.state.in_([str(s) for s in states]))
    if exclude_backfill:
        q = q.where(DagRun.backfill_id.is_(None))
    rows = session.execute(q.group_by(DagRun.dag_id, DagRun.state)).all()
    return {(dag_id, state): n for dag_id, state, n in rows}


def last_automated_run(session: Session, dag_id: str) -> DagRun | None:
    """The scheduled/backfill run with the latest logical date (for the timetable)."""
    return session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.run_type.in_(AUTOMATED_TYPES), DagRun.logical_date.is_not(None))
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    ).first()


def run_exists(session: Session, dag_id: str, run_id: str) -> bool:
    return session.scalar(
        select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    ) > 0


def previous_run(session: Session, run: DagRun) -> DagRun | None:
    """The run of the same DAG with the latest logical date before ``run``'s."""
    if run.logical_date is None:
        return None
    return session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == run.dag_id, DagRun.logical_date < run.logical_date)
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    ).first()


def earliest_run_after(session: Session, state: str = DagRunState.QUEUED.value) -> datetime | None:
    return session.scalar(select(func.min(DagRun.run_after)).where(DagRun.state == state))


#: Rows that belong to a run, children first (deleting a run deletes these too).
RUN_ROW_TABLES = (XCom, TaskInstanceTry, TaskInstance, DagRun)


def delete_run(session: Session, dag_id: str, run_id: str) -> int:
    """Delete one run with its task instances, tries and XComs; returns the number of rows deleted."""
    count = 0
    for table in RUN_ROW_TABLES:
        result = session.execute(
            delete(table)
            .where(table.dag_id == dag_id, table.run_id == run_id)
            .execution_options(synchronize_session=False)
        )
        count += int(result.rowcount or 0)
    return count
