"""Queries behind the UI's task-instance page: one instance's mapped siblings and its XCom rows.

Both read through the unique keys ``(dag_id, run_id, task_id, map_index[, key])`` of their
tables, so they stay index lookups however many runs a DAG has.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.models import TaskInstance, XCom


def mapped_instances(session: Session, dag_id: str, run_id: str, task_id: str) -> list[Any]:
    """The expanded instances (``map_index >= 0``) of a mapped task in one run, by map index.

    Rows carry only what the list shows: map index, label, state, try number and timing.
    """
    T = TaskInstance
    return list(session.execute(
        select(T.map_index, T.rendered_map_index, T.state, T.try_number, T.start_date, T.end_date, T.duration)
        .where(T.dag_id == dag_id, T.run_id == run_id, T.task_id == task_id, T.map_index >= 0)
        .order_by(T.map_index)
    ))


def has_mapped_instances(session: Session, dag_id: str, run_id: str, task_id: str) -> bool:
    """Whether the task has been expanded in the run (its ``-1`` instance is then gone)."""
    T = TaskInstance
    return session.execute(
        select(T.id).where(T.dag_id == dag_id, T.run_id == run_id, T.task_id == task_id, T.map_index >= 0).limit(1)
    ).first() is not None


def instance_xcoms(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[XCom]:
    """Every XCom row one task instance pushed, by key."""
    return list(session.scalars(
        select(XCom)
        .where(XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.task_id == task_id, XCom.map_index == map_index)
        .order_by(XCom.key)
    ))
