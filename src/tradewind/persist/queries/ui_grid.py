"""Reads behind the UI's grid view: the last N runs of a DAG and their task instances' states.

Two indexed queries and nothing else: the runs come from ``dag_run (dag_id, logical_date)``
(newest first, limited), the instances from the ``task_instance (dag_id, run_id, ...)``
indexes, restricted to those runs by a subquery. Rows are plain tuples (no ORM objects):
a grid of 1,000 runs x 50 tasks is 50,000 rows and must come back in well under 300 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.models import DagRun, TaskInstance

#: Largest number of runs one grid request may ask for.
MAX_GRID_RUNS = 1000

#: The run columns the grid shows, in the order :func:`grid_runs` returns them.
RUN_COLUMNS: tuple[str, ...] = ("run_id", "run_type", "state", "logical_date", "run_after", "queued_at",
                                "start_date", "end_date", "data_interval_start", "data_interval_end")


def _runs_select(dag_id: str, columns: Sequence[Any], *, limit: int, run_types: Sequence[str],
                 states: Sequence[str]) -> Any:
    stmt = select(*columns).where(DagRun.dag_id == dag_id)
    if run_types:
        stmt = stmt.where(DagRun.run_type.in_(list(run_types)))
    if states:
        stmt = stmt.where(DagRun.state.in_(list(states)))
    limit = max(1, min(int(limit), MAX_GRID_RUNS))
    return stmt.order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(limit)


def grid_runs(session: Session, dag_id: str, *, limit: int, run_types: Sequence[str] = (),
              states: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """The newest ``limit`` runs of a DAG (optionally of some types/states), newest first.

    Each row holds :data:`RUN_COLUMNS` in order. Read through the session's connection (Core,
    not ORM): row objects are what would cost time here.
    """
    stmt = _runs_select(dag_id, [getattr(DagRun, name) for name in RUN_COLUMNS], limit=limit,
                        run_types=run_types, states=states)
    return [tuple(row) for row in session.connection().execute(stmt).all()]


def grid_instances(session: Session, dag_id: str, *, limit: int, run_types: Sequence[str] = (),
                   states: Sequence[str] = ()) -> list[tuple[str, str, int, str]]:
    """``(run_id, task_id, map_index, state)`` of every task instance of the runs :func:`grid_runs`
    returns for the same arguments (those runs are a subquery: no list of ids is sent back)."""
    runs = _runs_select(dag_id, [DagRun.run_id], limit=limit, run_types=run_types, states=states)
    stmt = select(TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
        TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(runs.scalar_subquery()))
    return [tuple(row) for row in session.connection().execute(stmt).all()]  # type: ignore[misc]
