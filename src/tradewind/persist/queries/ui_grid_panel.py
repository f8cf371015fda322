"""Reads behind the grid's details panel: one run's task-instance timings and its DAG version.

Both are lookups of one run through the unique keys of ``task_instance (dag_id, run_id, ...)``
and ``dag_version (id)``: the panel loads them when a run or a cell is looked at, never with the
grid's own data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.models import DagVersion, TaskInstance


def run_instance_times(session: Session, dag_id: str, run_id: str) -> list[tuple[Any, ...]]:
    """``(task_id, map_index, state, try_number, start_date, end_date, duration)`` of every task
    instance of one run (plain tuples, no ORM objects)."""
    T = TaskInstance
    stmt = select(T.task_id, T.map_index, T.state, T.try_number, T.start_date, T.end_date, T.duration).where(
        T.dag_id == dag_id, T.run_id == run_id)
    return [tuple(row) for row in session.connection().execute(stmt)]


def version_number(session: Session, dag_version_id: int | None) -> int | None:
    """The version number of a DAG version row (None for a run recorded without one)."""
    if dag_version_id is None:
        return None
    return session.execute(select(DagVersion.version_number).where(DagVersion.id == dag_version_id)).scalar()
