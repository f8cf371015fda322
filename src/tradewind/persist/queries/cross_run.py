"""Read-only questions a task asks about *other* runs and DAGs (``ExternalTaskSensor``).

The execute layer's runtime task instance exposes these as Airflow 3's Task SDK names
(``get_ti_count``, ``get_task_states``, ``get_dr_count``, ``get_dagrun_state``). Runs are
picked by logical date or run id; a task group is every task whose group is the group or
one nested in it, in the DAG's latest parsed version.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries.dags import latest_snapshot


def group_task_ids(session: Session, dag_id: str, group_id: str) -> list[str]:
    """Ids of the tasks in task group ``group_id`` (nested groups included) of the DAG's latest version."""
    found = latest_snapshot(session, dag_id)
    if found is None:
        return []
    _, snapshot = found
    prefix = f"{group_id}."
    return sorted(
        task_id for task_id, task in snapshot.tasks.items()
        if task.task_group is not None and (task.task_group == group_id or task.task_group.startswith(prefix))
    )


def dag_task_ids(session: Session, dag_id: str) -> set[str] | None:
    """Task ids of the DAG's latest parsed version; None when no such DAG is stored."""
    found = latest_snapshot(session, dag_id)
    return None if found is None else set(found[1].tasks)


def _run_filter(stmt: Any, logical_dates: Iterable[datetime] | None, run_ids: Iterable[str] | None) -> Any:
    if logical_dates is not None:
        stmt = stmt.where(DagRun.logical_date.in_(list(logical_dates)))
    if run_ids is not None:
        stmt = stmt.where(DagRun.run_id.in_(list(run_ids)))
    return stmt


def _ti_stmt(columns: list[Any], session: Session, dag_id: str, *, map_index: int | None,
             task_ids: Iterable[str] | None, task_group_id: str | None,
             logical_dates: Iterable[datetime] | None, run_ids: Iterable[str] | None) -> Any:
    stmt = (
        select(*columns)
        .select_from(TaskInstance)
        .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
        .where(TaskInstance.dag_id == dag_id)
    )
    if task_group_id is not None:
        stmt = stmt.where(TaskInstance.task_id.in_(group_task_ids(session, dag_id, task_group_id)))
    if task_ids is not None:
        stmt = stmt.where(TaskInstance.task_id.in_(list(task_ids)))
    if map_index is not None:
        stmt = stmt.where(TaskInstance.map_index == map_index)
    return _run_filter(stmt, logical_dates, run_ids)


def ti_count(
    session: Session,
    dag_id: str,
    *,
    map_index: int | None = None,
    task_ids: Iterable[str] | None = None,
    task_group_id: str | None = None,
    logical_dates: Iterable[datetime] | None = None,
    run_ids: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
) -> int:
    """How many task instances of ``dag_id`` match (all map indexes unless ``map_index``)."""
    stmt = _ti_stmt([func.count()], session, dag_id, map_index=map_index, task_ids=task_ids,
                    task_group_id=task_group_id, logical_dates=logical_dates, run_ids=run_ids)
    if states is not None:
        stmt = stmt.where(TaskInstance.state.in_([str(s) for s in states]))
    return int(session.scalar(stmt) or 0)


def task_states(
    session: Session,
    dag_id: str,
    *,
    map_index: int | None = None,
    task_ids: Iterable[str] | None = None,
    task_group_id: str | None = None,
    logical_dates: Iterable[datetime] | None = None,
    run_ids: Iterable[str] | None = None,
) -> dict[str, dict[str, str]]:
    """``{run_id: {task_id: state}}``; a mapped instance is keyed ``"<task_id>_<map_index>"``."""
    stmt = _ti_stmt([TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state],
                    session, dag_id, map_index=map_index, task_ids=task_ids, task_group_id=task_group_id,
                    logical_dates=logical_dates, run_ids=run_ids)
    out: dict[str, dict[str, str]] = {}
    for run_id, task_id, index, state in session.execute(stmt):
        name = task_id if index is None or index < 0 else f"{task_id}_{index}"
        out.setdefault(run_id, {})[name] = state
    return out


def dr_count(
    session: Session,
    dag_id: str,
    *,
    logical_dates: Iterable[datetime] | None = None,
    run_ids: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
) -> int:
    """How many runs of ``dag_id`` match."""
    stmt = _run_filter(select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id), logical_dates, run_ids)
    if states is not None:
        stmt = stmt.where(DagRun.state.in_([str(s) for s in states]))
    return int(session.scalar(stmt) or 0)


def dagrun_state(session: Session, dag_id: str, run_id: str) -> str | None:
    """The state of one run, or None when there is no such run."""
    return session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
