"""How ``/api/v1`` routes call the action layer (:mod:`tradewind.schedule.actions`): the
:class:`~tradewind.schedule.actions.Actor` of a request, action errors as problem JSON
(NotFound 404, Conflict 409, Invalid 422 naming the field), and the one wake-up after commit.

Use as::

    with action_errors(), write(request) as session:
        run = actions.trigger_run(session, actor_of(principal), ...)
        out = schemas.run_dict(run)
    wake_after(request, session)

``action_errors`` is outside ``write`` so the transaction is rolled back before the error answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import ApiError
from tradewind.schedule import actions


def actor_of(principal: Any) -> actions.Actor:
    """The caller as an actor: the UI's cookie sessions act ``via="ui"``, tokens and basic auth ``"api"``."""
    via = "ui" if getattr(principal, "via", None) == "session" else "api"
    return actions.Actor(username=getattr(principal, "username", None), via=via)


def _errors(exc: actions.ActionError) -> list[dict[str, Any]] | None:
    items = exc.errors or ([{"field": exc.field, "msg": exc.message}] if exc.field else [])
    return [{"loc": ["body", *str(e["field"]).split(".")], "field": e["field"], "msg": e["msg"], "type": "value_error"}
            for e in items] or None


def api_error(exc: actions.ActionError) -> ApiError:
    """The problem answer of an action error."""
    if isinstance(exc, actions.NotFound):
        return ApiError(404, exc.message, title=exc.title)
    if isinstance(exc, actions.Conflict):
        return ApiError(409, exc.message, title=exc.title)
    return ApiError(422, exc.message, title=exc.title, field=exc.field, errors=_errors(exc))


@contextmanager
def action_errors() -> Iterator[None]:
    """Turn an :class:`~tradewind.schedule.actions.ActionError` raised inside into its problem answer."""
    try:
        yield
    except actions.ActionError as exc:
        raise api_error(exc) from None


def wake_after(request: Request, session: Session) -> None:
    """After the write block committed: wake the scheduler if an action asked for it (once)."""
    actions.wake_after(request.app.state.db, session)
