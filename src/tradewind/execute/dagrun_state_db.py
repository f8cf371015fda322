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


class _CrossRunReader:
    """Other DAGs' task and run states from ``db``, under the Task SDK's names (what
    ``ExternalTaskSensor``'s counting asks its ``ti``), for ``ExternalTaskTrigger``."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def get_ti_count(self, dag_id: str, **filters: Any) -> int:
        from tradewind.persist.queries.cross_run import ti_count

        with self.db.read_scope() as session:
            return ti_count(session, dag_id, **filters)

    def get_task_states(self, dag_id: str, **filters: Any) -> dict[str, dict[str, str]]:
        from tradewind.persist.queries.cross_run import task_states

        with self.db.read_scope() as session:
            return task_states(session, dag_id, **filters)

    def get_dr_count(self, dag_id: str, **filters: Any) -> int:
        from tradewind.persist.queries.cross_run import dr_count

        with self.db.read_scope() as session:
            return dr_count(session, dag_id, **filters)


def use_database(db: Any) -> None:
    """Let this process's run-state triggers read from ``db`` (the triggerer's database), and its
    external-task triggers (``ExternalTaskSensor(deferrable=True)``) too."""
    from tradewind.definition.sensors.external_task_trigger import set_cross_run_reader

    set_state_reader(functools.partial(_run_state, db))
    set_cross_run_reader(_CrossRunReader(db))
