"""Answering a human-in-the-loop request: the one action the API, the CLI and the UI share.

:func:`respond` records a person's answer to the pending request of a task instance and, in the
same transaction, resumes the deferred task with it (deferred -> scheduled, the event in
``next_kwargs``): no polling, the task runs as soon as the scheduler wakes (the caller wakes it
after the commit). If the request's deadline fired first, the task is no longer waiting and the
answer is refused (:class:`HITLConflict`), so a request is answered exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.definition.operators.hitl import validate_response
from tradewind.definition.triggers.base import encode_value
from tradewind.definition.triggers.hitl import success_payload
from tradewind.persist.models import HITLDetail
from tradewind.persist.queries import hitl as hitl_queries
from tradewind.schedule import transitions

__all__ = ["HITLConflict", "HITLError", "HITLForbidden", "HITLInvalid", "HITLNotFound", "respond", "user_may_respond"]


class HITLError(Exception):
    """A response that cannot be recorded; subclasses say why (the API maps them to statuses)."""


class HITLNotFound(HITLError):
    """The task instance has no human-in-the-loop request."""


class HITLConflict(HITLError):
    """The request was answered already, or its task is no longer waiting for it."""


class HITLForbidden(HITLError):
    """The request names the users who may answer it, and this user is not one of them."""


class HITLInvalid(HITLError, ValueError):
    """The answer does not fit the request (unknown option, several without ``multiple``, bad param)."""


def _label(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    index = "" if map_index < 0 else f" (map index {map_index})"
    return f"task {task_id!r}{index} of run {run_id!r} of DAG {dag_id!r}"


def user_may_respond(detail: HITLDetail, user: Mapping[str, str]) -> bool:
    """No assigned users: anyone allowed to edit task instances; otherwise a match on id or name."""
    if not detail.assigned_users:
        return True
    return any(u.get("id") == user.get("id") or u.get("name") == user.get("name") for u in detail.assigned_users)


def respond(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1, *,
            chosen_options: Sequence[str], params_input: Mapping[str, Any] | None,
            user: Mapping[str, str], now: datetime) -> HITLDetail:
    """Answer the pending request of the instance and resume its task; returns the answered row.

    ``user`` is ``{"id", "name"}`` of who answers. Raises :class:`HITLNotFound`,
    :class:`HITLConflict`, :class:`HITLForbidden` or :class:`HITLInvalid` (nothing is written).
    """
    where = _label(dag_id, run_id, task_id, map_index)
    found = hitl_queries.latest_for_ti(session, dag_id, run_id, task_id, map_index, for_update=True)
    if found is None:
        raise HITLNotFound(f"Human-in-the-loop detail does not exist for {where}")
    detail = found.detail
    if detail.responded_at is not None:
        raise HITLConflict(f"Human-in-the-loop detail has already been updated for {where} "
                           "and is not allowed to write again.")
    if not found.pending:
        raise HITLConflict(f"{where} is no longer waiting for a response (state {found.ti_state or 'gone'})")
    who = {"id": str(user["id"]), "name": str(user["name"])}
    if not user_may_respond(detail, who):
        raise HITLForbidden(f"User={who['name']} (id={who['id']}) is not a respondent for the task.")
    try:
        filled = validate_response(detail.options, detail.multiple, detail.params, list(chosen_options),
                                   dict(params_input or {}))
    except ValueError as exc:
        raise HITLInvalid(f"{where}: {exc}") from None
    trigger_id = detail.trigger_id
    hitl_queries.record_response(detail, list(chosen_options), filled, who, now)
    payload = encode_value(success_payload(list(chosen_options), filled, now, who), "the HITL response")
    resumed = transitions.resume_from_trigger_events(session, {trigger_id: payload}, now)  # type: ignore[dict-item]
    if not resumed:
        # The deadline's event won the race between our read and this write.
        raise HITLConflict(f"{where} is no longer waiting for a response")
    return detail
