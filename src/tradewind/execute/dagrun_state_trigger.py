"""``TriggerDagRunOperator(deferrable=True, wait_for_completion=True)``: wait in the triggerer.

After the runner created the triggered run (:mod:`tradewind.execute.dagrun_trigger`), the task
defers to :class:`DagRunStateTrigger` instead of keeping its worker slot while it polls, as
Airflow's operator defers to its ``DagStateTrigger``. The trigger reads the run's state every
``poll_interval`` seconds from the triggerer's database and fires with ``{"run_id", "state"}``
once the state is one of ``states`` (the operator's allowed and failed states); the task
resumes in ``TriggerDagRunOperator.execute_complete``, which fails it for a failed state.

The triggerer (and ``dags test``, which runs triggers inline) hands over how to read a run's
state with :func:`tradewind.execute.dagrun_state_db.use_database` before running triggers: a
trigger is rebuilt from its stored kwargs alone, and a database is not something to store
there. This module itself never touches the database, so the worker side (which raises the
deferral) stays free of persist.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from tradewind.definition.exceptions import DagRunTriggerException, TaskDeferred, TradewindException
from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent

__all__ = ["DagRunStateTrigger", "defer_until_done", "set_state_reader"]

#: ``reader(dag_id, run_id) -> state or None``, set by the triggerer; None where no triggers run.
_state_reader: Callable[[str, str], str | None] | None = None


def set_state_reader(reader: Callable[[str, str], str | None] | None) -> None:
    """How this process's triggers read a run's state (None when it has no such run)."""
    global _state_reader
    _state_reader = reader


def defer_until_done(request: DagRunTriggerException, run_id: str, *, log: Any) -> None:
    """Defer the running ``TriggerDagRunOperator`` until run ``run_id`` reaches an allowed or failed state."""
    states = [*request.allowed_states, *request.failed_states]
    log.info("Deferring until DAG %s run %s reaches %s (checked every %gs by the triggerer)",
             request.trigger_dag_id, run_id, "/".join(states), request.poke_interval)
    raise TaskDeferred(
        trigger=DagRunStateTrigger(dag_id=request.trigger_dag_id, run_id=run_id, states=states,
                                   poll_interval=request.poke_interval),
        method_name="execute_complete",
        kwargs={"trigger_run_id": run_id},
    )


class DagRunStateTrigger(BaseTrigger):
    """Fires when run ``run_id`` of ``dag_id`` is in one of ``states``; the payload is
    ``{"dag_id", "run_id", "state"}``. A deleted run fails the wait (the trigger raises)."""

    def __init__(self, dag_id: str, run_id: str, states: list[str], poll_interval: float = 60.0) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.run_id = run_id
        self.states = list(states)
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"dag_id": self.dag_id, "run_id": self.run_id, "states": self.states,
                 "poll_interval": self.poll_interval})

    def _state(self) -> str | None:
        if _state_reader is None:
            raise TradewindException(
                "DagRunStateTrigger runs only in the triggerer (or `dags test`): no run-state reader was handed over")
        return _state_reader(self.dag_id, self.run_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            state = await asyncio.to_thread(self._state)
            if state is None:
                raise TradewindException(f"DAG {self.dag_id!r} run {self.run_id!r} was deleted while a task "
                                         "waited for it")
            if state in self.states:
                yield TriggerEvent({"dag_id": self.dag_id, "run_id": self.run_id, "state": state})
                return
            await asyncio.sleep(self.poll_interval)
