"""Users' notes on DAG runs and task instances (Airflow's ``dag_run_note`` / ``task_instance_note``).

One row per run or instance; writing a note again replaces its text (``updated_at`` moves,
``created_at`` stays). An empty or ``None`` note is stored as ``None`` (Airflow clears it that
way). Notes are capped at :data:`~tradewind.persist.models.NOTE_MAX_LEN` characters:
:class:`NoteTooLong` names the length and the limit. These are a user's words, apart from the
reason the scheduler records in ``task_instance.note``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.models import NOTE_MAX_LEN, DagRunNote, TaskInstanceNote

_Note = TypeVar("_Note", DagRunNote, TaskInstanceNote)


class NoteTooLong(ValueError):
    """A note longer than :data:`NOTE_MAX_LEN` characters."""

    def __init__(self, length: int) -> None:
        super().__init__(f"note is {length} characters long; a note may have at most {NOTE_MAX_LEN}")
        self.length = length


def check_note(note: str | None) -> str | None:
    """The note to store (``None`` for no note); raises :class:`NoteTooLong`."""
    if note is None or note == "":
        return None
    if len(note) > NOTE_MAX_LEN:
        raise NoteTooLong(len(note))
    return note


def set_run_note(session: Session, dag_run_id: int, note: str | None, *, user: str | None,
                 now: datetime) -> DagRunNote:
    """Write (or replace) the note of the run with primary key ``dag_run_id``."""
    return _set_note(session, DagRunNote, {"dag_run_id": dag_run_id}, note, user=user, now=now)


def set_ti_note(session: Session, ti_id: int, note: str | None, *, user: str | None,
                now: datetime) -> TaskInstanceNote:
    """Write (or replace) the note of the task instance with primary key ``ti_id``."""
    return _set_note(session, TaskInstanceNote, {"ti_id": ti_id}, note, user=user, now=now)


def _set_note(session: Session, model: type[_Note], key: dict[str, int], note: str | None, *,
              user: str | None, now: datetime) -> _Note:
    """The note row of ``model`` keyed by ``key`` (its one primary-key column), created when missing,
    with ``note``'s checked text: both note tables have the same columns apart from their key."""
    content = check_note(note)
    row = session.get(model, next(iter(key.values())))
    if row is None:
        row = model(**key, created_at=now)
        session.add(row)
    row.content, row.user_id, row.updated_at = content, user, now
    session.flush()
    return row


def run_notes(session: Session, dag_run_ids: Iterable[int]) -> dict[int, str | None]:
    """dag_run.id -> note text, for the runs that have a note row (one query)."""
    ids = sorted(set(dag_run_ids))
    if not ids:
        return {}
    rows = session.execute(select(DagRunNote.dag_run_id, DagRunNote.content).where(DagRunNote.dag_run_id.in_(ids)))
    return {run_id: content for run_id, content in rows}


def ti_notes(session: Session, ti_ids: Iterable[int]) -> dict[int, str | None]:
    """task_instance.id -> note text, for the instances that have a note row (one query)."""
    ids = sorted(set(ti_ids))
    if not ids:
        return {}
    rows = session.execute(select(TaskInstanceNote.ti_id, TaskInstanceNote.content)
                           .where(TaskInstanceNote.ti_id.in_(ids)))
    return {ti_id: content for ti_id, content in rows}
