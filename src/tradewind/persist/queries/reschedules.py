"""``task_reschedule`` reads: how long a sensor in reschedule mode has been waiting in its try.

The rows are written by :func:`tradewind.schedule.transitions.reschedule_try`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.persist.models import TaskReschedule


def reschedule_summary(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> tuple[datetime | None, int]:
    """The start of the try's first rescheduled poke (None if it never rescheduled) and how many
    times the try rescheduled, in one query."""
    first, count = session.execute(
        select(func.min(TaskReschedule.start_date), func.count()).where(
            TaskReschedule.dag_id == dag_id,
            TaskReschedule.run_id == run_id,
            TaskReschedule.task_id == task_id,
            TaskReschedule.map_index == map_index,
            TaskReschedule.try_number == try_number,
        )
    ).one()
    return first, int(count or 0)


def list_reschedules(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> list[TaskReschedule]:
    """Every reschedule of the instance, oldest first (history, CLI, tests)."""
    return list(session.scalars(
        select(TaskReschedule).where(
            TaskReschedule.dag_id == dag_id,
            TaskReschedule.run_id == run_id,
            TaskReschedule.task_id == task_id,
            TaskReschedule.map_index == map_index,
        ).order_by(TaskReschedule.id)
    ))
