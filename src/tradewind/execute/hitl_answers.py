"""The database side of :class:`~tradewind.definition.triggers.hitl.HITLTrigger` run inline.

``dags test`` runs triggers in its own thread until one fires; an answer given meanwhile
(REST API or ``tradewind tasks respond`` against the same database) resumes the task but cannot
cancel that thread's trigger. :func:`use_database` lets the trigger look the answer up instead
(kept here, beside the database, so the definition layer never reaches persist).
"""

from __future__ import annotations

import functools
from typing import Any

from tradewind.definition.triggers.hitl import set_response_reader, success_payload

__all__ = ["use_database"]


def _answer(db: Any, task_instance: Any) -> dict[str, Any] | None:
    from tradewind.persist.queries.hitl import latest_for_ti

    with db.read_scope() as session:
        row = latest_for_ti(session, task_instance.dag_id, task_instance.run_id, task_instance.task_id,
                            task_instance.map_index)
        if row is None or row.detail.responded_at is None or not row.detail.chosen_options:
            return None
        d = row.detail
        who = None if d.responded_by_user_id is None else {"id": d.responded_by_user_id,
                                                             "name": d.responded_by_user_name or ""}
        return success_payload(d.chosen_options, d.params_input or {}, d.responded_at, who)


def use_database(db: Any) -> None:
    """Let this process's HITL triggers see answers recorded in ``db``."""
    set_response_reader(functools.partial(_answer, db))
