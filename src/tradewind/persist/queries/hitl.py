"""The ``hitl_detail`` table: human-in-the-loop requests (one per try) and their responses.

A request is written in the transaction that defers its task (:func:`record_request`, called by
:func:`tradewind.schedule.transitions.defer_try` for HITL triggers), from the trigger's kwargs.
It is *pending* while its task instance is deferred on that same trigger; it is answered once
by a person (:func:`record_response`) or, past its deadline, by its defaults
(:func:`record_trigger_events`, when the trigger's event resumes the task).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from tradewind.definition.triggers.base import decode_value
from tradewind.persist.models import HITLDetail, TaskInstance
from tradewind.workloads import TaskKey

#: The trigger class whose deferrals are HITL requests.
HITL_TRIGGER_CLASSPATH = "tradewind.definition.triggers.hitl.HITLTrigger"
_DEFERRED = "deferred"


def record_request(session: Session, key: TaskKey, classpath: str, trigger_kwargs: dict[str, Any],
                   trigger_id: int, now: datetime) -> HITLDetail | None:
    """Store the request of try ``key`` that just deferred on trigger ``trigger_id`` (kwargs in
    their stored form); None for any trigger other than the HITL one. A try that asks again
    (deferred a second time) replaces its unanswered request."""
    if classpath != HITL_TRIGGER_CLASSPATH:
        return None
    kwargs = decode_value(trigger_kwargs or {})
    row = session.scalar(select(HITLDetail).where(
        HITLDetail.dag_id == key.dag_id, HITLDetail.run_id == key.run_id, HITLDetail.task_id == key.task_id,
        HITLDetail.map_index == key.map_index, HITLDetail.try_number == key.try_number))
    if row is None:
        row = HITLDetail(dag_id=key.dag_id, run_id=key.run_id, task_id=key.task_id, map_index=key.map_index,
                         try_number=key.try_number)
        session.add(row)
    row.trigger_id = trigger_id
    row.subject = str(kwargs.get("subject") or "")
    row.body = kwargs.get("body")
    row.options = list(kwargs.get("options") or [])
    row.defaults = kwargs.get("defaults")
    row.multiple = bool(kwargs.get("multiple"))
    row.params = dict(kwargs.get("params") or {})
    row.assigned_users = list(kwargs.get("assigned_users") or [])
    row.timeout_at = kwargs.get("timeout_datetime")
    row.created_at = now
    row.responded_at = row.responded_by_user_id = row.responded_by_user_name = row.chosen_options = None
    row.params_input = {}
    session.flush()
    return row


def record_response(row: HITLDetail, chosen_options: list[str], params_input: dict[str, Any],
                    user: dict[str, str] | None, now: datetime) -> None:
    """Answer ``row`` (``user`` None: the defaults after a timeout); it is no longer pending."""
    row.chosen_options = list(chosen_options)
    row.params_input = dict(params_input)
    row.responded_at = now
    row.responded_by_user_id = user["id"] if user else None
    row.responded_by_user_name = user["name"] if user else None
    row.trigger_id = None


def record_trigger_events(session: Session, events: dict[int, Any], now: datetime) -> int:
    """HITL triggers that fired on their own (the deadline): record the defaults they carry as
    the answer of requests still open on them. Error events (no defaults) leave the request
    unanswered, as in Airflow. ``events``: trigger id -> payload in stored form. Returns how many."""
    ids = sorted(events)
    if not ids:
        return 0
    rows = session.scalars(select(HITLDetail).where(HITLDetail.trigger_id.in_(ids),
                                                    HITLDetail.responded_at.is_(None))).all()
    answered = 0
    for row in rows:
        payload = decode_value(events[row.trigger_id])  # type: ignore[index]
        if isinstance(payload, dict) and payload.get("chosen_options"):
            when = payload.get("responded_at")
            record_response(row, payload["chosen_options"], payload.get("params_input") or {}, None,
                            when if isinstance(when, datetime) else now)
            answered += 1
        else:
            row.trigger_id = None
    session.flush()
    return answered


# ------------------------------------------------------------------------------ reads
@dataclass(frozen=True)
class HITLRow:
    """A request with its task instance's state (None when the instance is gone)."""

    detail: HITLDetail
    ti_state: str | None
    ti_trigger_id: int | None

    @property
    def pending(self) -> bool:
        """Waiting for an answer: unanswered, and its instance still deferred on its trigger."""
        d = self.detail
        return (d.responded_at is None and d.trigger_id is not None and self.ti_state == _DEFERRED
                and self.ti_trigger_id == d.trigger_id)


def _joined() -> Select[Any]:
    ti = TaskInstance
    return select(HITLDetail, ti.state, ti.trigger_id).outerjoin(ti, and_(
        ti.dag_id == HITLDetail.dag_id, ti.run_id == HITLDetail.run_id, ti.task_id == HITLDetail.task_id,
        ti.map_index == HITLDetail.map_index))


def latest_for_ti(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1, *,
                  try_number: int | None = None, for_update: bool = False) -> HITLRow | None:
    """The request of the instance's newest try that asked (or of ``try_number``), or None."""
    stmt = _joined().where(HITLDetail.dag_id == dag_id, HITLDetail.run_id == run_id,
                           HITLDetail.task_id == task_id, HITLDetail.map_index == map_index)
    if try_number is not None:
        stmt = stmt.where(HITLDetail.try_number == try_number)
    stmt = stmt.order_by(HITLDetail.try_number.desc()).limit(1)
    if for_update:
        stmt = stmt.with_for_update(of=HITLDetail)
    found = session.execute(stmt).first()
    return HITLRow(found[0], found[1], found[2]) if found else None


@dataclass(frozen=True)
class HITLFilter:
    """What :func:`list_requests` selects; None means "any"."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    dag_id_pattern: str | None = None
    task_id_pattern: str | None = None
    response_received: bool | None = None
    pending: bool | None = None
    ti_states: tuple[str, ...] = ()
    responded_by: Iterable[str] = ()
    subject_search: str | None = None
    body_search: str | None = None


ORDER_COLUMNS = {
    "id": HITLDetail.id, "created_at": HITLDetail.created_at, "responded_at": HITLDetail.responded_at,
    "subject": HITLDetail.subject, "dag_id": HITLDetail.dag_id, "run_id": HITLDetail.run_id,
    "task_id": HITLDetail.task_id, "map_index": HITLDetail.map_index,
    "responded_by_user_id": HITLDetail.responded_by_user_id,
    "responded_by_user_name": HITLDetail.responded_by_user_name, "task_instance_state": TaskInstance.state,
}


def _filtered(stmt: Select[Any], f: HITLFilter) -> Select[Any]:
    d, ti = HITLDetail, TaskInstance
    exact = ((f.dag_id, d.dag_id), (f.run_id, d.run_id), (f.task_id, d.task_id), (f.map_index, d.map_index))
    for value, column in exact:
        if value is not None:
            stmt = stmt.where(column == value)
    for pattern, column in ((f.dag_id_pattern, d.dag_id), (f.task_id_pattern, d.task_id),
                            (f.subject_search, d.subject), (f.body_search, d.body)):
        if pattern:
            stmt = stmt.where(column.ilike(f"%{pattern}%"))
    if f.response_received is not None:
        stmt = stmt.where(d.responded_at.is_not(None) if f.response_received else d.responded_at.is_(None))
    if f.pending is not None:
        waiting = and_(d.responded_at.is_(None), ti.state == _DEFERRED, ti.trigger_id == d.trigger_id)
        stmt = stmt.where(waiting if f.pending else ~waiting)
    if f.ti_states:
        stmt = stmt.where(ti.state.in_(f.ti_states))
    who = list(f.responded_by)
    if who:
        stmt = stmt.where((d.responded_by_user_id.in_(who)) | (d.responded_by_user_name.in_(who)))
    return stmt


def list_requests(session: Session, f: HITLFilter, *, order_by: str = "created_at", descending: bool = False,
                  offset: int = 0, limit: int = 100) -> tuple[list[HITLRow], int]:
    """A page of requests matching ``f`` and the total count. Raises ``KeyError`` for an unknown order."""
    column = ORDER_COLUMNS[order_by]
    stmt = _filtered(_joined(), f)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    order = column.desc() if descending else column.asc()
    rows = session.execute(stmt.order_by(order, HITLDetail.id).offset(offset).limit(limit)).all()
    return [HITLRow(r[0], r[1], r[2]) for r in rows], total
