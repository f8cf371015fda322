"""The runtime task instance as operators see it (``context["ti"]``).

The execute layer provides the implementation (``execute/runtime.py``); operators
and the authoring API use only this protocol, so the definition layer never
touches the database. Tests use small in-memory doubles of it.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Protocol, runtime_checkable


@runtime_checkable
class RuntimeTI(Protocol):
    """One try of one task instance, while it runs."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int
    max_tries: int
    log: logging.Logger

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key`` for this task instance."""
        ...

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = "return_value",
        dag_id: str | None = None,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
        include_prior_dates: bool = False,
    ) -> Any:
        """Airflow's ``xcom_pull``: one value for a single task id, a list for several."""
        ...

    def skip_tasks(self, task_ids: Iterable[str]) -> None:
        """Mark the given tasks of this DAG run as skipped (branching, short-circuit)."""
        ...
