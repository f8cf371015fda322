"""``ExternalTaskTrigger``: the triggerer's side of ``ExternalTaskSensor(deferrable=True)``.

It counts the external DAG's task instances (or runs) in the allowed, failed and skipped states
every ``poll_interval`` seconds, with the same rule as the sensor's poke, and fires
``{"status": "success" | "failed" | "skipped"}``. The counts come from a reader the triggerer (and
``dags test``, which runs triggers inline) hands over with :func:`set_cross_run_reader` — an object
answering the Task SDK's ``get_ti_count`` / ``get_task_states`` / ``get_dr_count`` from its
database — so this definition-layer module never touches the database itself, and the trigger is
rebuilt from its stored (JSON) kwargs alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tradewind.definition import timezone
from tradewind.definition.exceptions import TradewindException
from tradewind.definition.sensors.external_task import count_in_states
from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent

__all__ = ["ExternalTaskTrigger", "set_cross_run_reader"]

_reader: Any = None


def set_cross_run_reader(reader: Any) -> None:
    """How this process's external-task triggers read other DAGs' states (None: they cannot)."""
    global _reader
    _reader = reader


class ExternalTaskTrigger(BaseTrigger):
    """Fires once the external tasks/group/run of every date reach ``allowed_states``, or as soon as
    one reaches a failed or skipped state."""

    def __init__(self, external_dag_id: str, logical_dates: Sequence[str], allowed_states: Sequence[str],
                 external_task_ids: Sequence[str] | None = None, external_task_group_id: str | None = None,
                 failed_states: Sequence[str] = (), skipped_states: Sequence[str] = (),
                 poll_interval: float = 2.0) -> None:
        super().__init__()
        self.external_dag_id = external_dag_id
        self.external_task_ids = list(external_task_ids) if external_task_ids is not None else None
        self.external_task_group_id = external_task_group_id
        self.logical_dates = [str(d) for d in logical_dates]
        self.allowed_states = list(allowed_states)
        self.failed_states = list(failed_states)
        self.skipped_states = list(skipped_states)
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"external_dag_id": self.external_dag_id, "external_task_ids": self.external_task_ids,
                 "external_task_group_id": self.external_task_group_id, "logical_dates": self.logical_dates,
                 "allowed_states": self.allowed_states, "failed_states": self.failed_states,
                 "skipped_states": self.skipped_states, "poll_interval": self.poll_interval})

    def status(self) -> str | None:
        """``"failed"``, ``"skipped"``, ``"success"``, or None while still waiting (blocking: DB reads)."""
        if _reader is None:
            raise TradewindException("ExternalTaskTrigger runs only in the triggerer (or `dags test`): no reader "
                                     "of other DAGs' states was handed over")
        dates = [timezone.to_utc(d) for d in self.logical_dates]

        def count(states: list[str]) -> float:
            return count_in_states(_reader, self.external_dag_id, self.external_task_ids,
                                   self.external_task_group_id, dates, states)

        if self.failed_states and count(self.failed_states) > 0:
            return "failed"
        if self.skipped_states and count(self.skipped_states) > 0:
            return "skipped"
        return "success" if count(self.allowed_states) >= len(dates) else None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            status = await asyncio.to_thread(self.status)
            if status is not None:
                yield TriggerEvent({"status": status})
                return
            await asyncio.sleep(self.poll_interval)
