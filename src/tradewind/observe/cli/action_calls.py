"""How CLI commands call the manual actions of :mod:`tradewind.schedule.actions` (the one
implementation shared with the REST API and the UI): who acts, one transaction per call, the
scheduler woken once after the commit, and :class:`~tradewind.schedule.actions.ActionError`
turned into one readable error line (exit 1), with "Did you mean ...?" for an unknown DAG."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tradewind.observe.cli.common import CliError, cli_user

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from tradewind.persist.db import Database
    from tradewind.schedule.actions import ActionError, Actor


def cli_actor() -> "Actor":
    """The person at this terminal, acting through the CLI (recorded in the audit log)."""
    from tradewind.schedule.actions import Actor

    return Actor(username=cli_user(), via="cli")


def action_failed(db: "Database", exc: "ActionError", dag_id: str | None) -> CliError:
    """The CLI's error line for a refused action; an unknown DAG gets its closest ids."""
    from tradewind.schedule.actions import NotFound

    if isinstance(exc, NotFound) and exc.field == "dag_id" and dag_id is not None and "not found" in exc.message:
        from tradewind.observe.cli.dagrefs import dag_not_found

        with db.read_scope() as session:
            return dag_not_found(session, dag_id)
    return CliError(exc.message)


@contextmanager
def action_session(db: "Database", dag_id: str | None = None) -> Iterator["Session"]:
    """One transaction for the actions called in the block; the scheduler is woken once after
    it commits (if an action asked), and an :class:`ActionError` becomes a :class:`CliError`."""
    from tradewind.schedule.actions import ActionError, wake_after

    try:
        with db.session_scope() as session:
            yield session
    except ActionError as exc:
        raise action_failed(db, exc, dag_id) from None
    wake_after(db, session)
