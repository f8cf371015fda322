"""The server side of :class:`~tradewind.execute.dagrun_state_trigger.DagRunStateTrigger`: run
states read from the triggerer's database (kept apart so the worker side never reaches persist)."""

from __future__ import annotations

import functools
from typing import Any

from tradewind.execute.dagrun_state_trigger import set_state_reader

__all__ = ["use_database"]


def _run_state(db: Any, dag_id: str, run_id: str) -> str | None:
    from tradewind.persist.queries.runs import get_run

    with db.read_scope() as session:
        run = get_run(session, dag_id, run_id)
        return None if run is None else str(run.state)


def use_database(db: Any) -> None:
    """Let this process's run-state triggers read from ``db`` (the triggerer's database)."""
    set_state_reader(functools.partial(_run_state, db))
