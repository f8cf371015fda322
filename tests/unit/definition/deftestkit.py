"""Test doubles for the definition layer: an in-memory ``RuntimeTI`` and a context builder."""

from __future__ import annotations

import logging
from typing import Any, Iterable


class FakeTI:
    """In-memory implementation of the ``RuntimeTI`` protocol (XCom in a dict, skips recorded)."""

    def __init__(self, dag_id: str = "d", task_id: str = "t", run_id: str = "manual__1",
                 xcoms: dict[tuple[str, str], Any] | None = None) -> None:
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = -1
        self.try_number = 1
        self.max_tries = 0
        self.log = logging.getLogger("tradewind.task.test")
        self.xcoms: dict[tuple[str, str], Any] = dict(xcoms or {})
        self.skipped: list[str] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[(self.task_id, key)] = value

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", dag_id: Any = None,
                  map_indexes: Any = None, default: Any = None, include_prior_dates: bool = False) -> Any:
        if isinstance(task_ids, str):
            return self.xcoms.get((task_ids, key), default)
        return [self.xcoms.get((t, key), default) for t in task_ids or []]

    def skip_tasks(self, task_ids: Iterable[str]) -> None:
        self.skipped.extend(task_ids)


def context_for(task: Any, ti: FakeTI | None = None, **extra: Any) -> dict[str, Any]:
    """A minimal context: the keys operators under test read."""
    ti = ti or FakeTI(dag_id=task.dag_id, task_id=task.task_id)
    ti.task_id = task.task_id
    ctx = {"ti": ti, "task_instance": ti, "task": task, "dag": task.dag, "params": dict(task.params),
           "run_id": ti.run_id}
    ctx.update(extra)
    return ctx
