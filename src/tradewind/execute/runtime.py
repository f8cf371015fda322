"""``context["ti"]``: the running try's task instance, backed by the try's store.

:class:`RuntimeTaskInstance` implements the definition layer's ``RuntimeTI`` protocol
(``xcom_push``, ``xcom_pull``, ``skip_tasks``, ``log`` and the identifying attributes)
with Airflow's semantics:

* ``xcom_pull(task_ids="a")`` returns one value; ``task_ids=["a", "b"]`` a list in that
  order (``default`` where a task pushed nothing); ``task_ids=None`` means this task.
* default key ``return_value``; ``map_indexes`` int -> one value, list -> list; ``None``
  -> the unmapped value, or the list of all mapped values (by map index) when the
  pulled task is mapped.
* pulling something that does not exist returns ``default`` (``None`` unless given).

Pushes are buffered and written in the try's final transaction (together with the
outcome), so a try costs two write transactions instead of one per push; this try's own
pending pushes are visible to its own pulls. Every read and write beyond the buffer goes
through the try's :class:`~tradewind.execute.try_store.TryStore` (the database, or the
execution API on a worker without database access).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tradewind.definition.xcom_serde import decode_xcom, serialize_xcom, serialize_xcom_with_copy
from tradewind.execute.logs import TASK_LOGGER
from tradewind.execute.try_store import TryStore
from tradewind.workloads import TaskKey

XCOM_RETURN_KEY = "return_value"

_ABSENT = object()

__all__ = ["XCOM_RETURN_KEY", "RuntimeTaskInstance", "serialize_xcom"]


class RuntimeTaskInstance:
    """The task instance of the running try, as user code sees it."""

    def __init__(
        self,
        key: TaskKey,
        *,
        store: TryStore,
        max_tries: int = 1,
        task: Any = None,
        logical_date: datetime | None = None,
        start_date: datetime | None = None,
        hostname: str | None = None,
        log_url: str | None = None,
        operator: str | None = None,
    ) -> None:
        self.key = key
        self.dag_id = key.dag_id
        self.task_id = key.task_id
        self.run_id = key.run_id
        self.map_index = key.map_index
        self.try_number = key.try_number
        self.max_tries = max_tries
        self.task = task
        self.logical_date = logical_date
        self.start_date = start_date
        self.hostname = hostname or socket.gethostname()
        self.log_url = log_url
        self.operator = operator or (type(task).__name__ if task is not None else None)
        self.state = "running"
        self.log = logging.getLogger(TASK_LOGGER)
        self._store = store
        #: key -> value (a JSON round-tripped copy), written with the outcome.
        self.pending_xcoms: dict[str, Any] = {}
        #: (first reschedule start, reschedule count) of this try, read once on first use.
        self._reschedules: tuple[datetime | None, int] | None = None

    def __repr__(self) -> str:
        return f"<TaskInstance: {self.key.short()} [{self.state}]>"

    # ------------------------------------------------- Airflow 2 attributes DAG code reads
    @property
    def execution_date(self) -> datetime | None:
        """Airflow 2's name of ``logical_date``."""
        return self.logical_date

    @property
    def pool(self) -> str | None:
        return getattr(self.task, "pool", None)

    @property
    def queue(self) -> str | None:
        return getattr(self.task, "queue", None)

    @property
    def priority_weight(self) -> int | None:
        return getattr(self.task, "priority_weight", None)

    @property
    def end_date(self) -> datetime | None:
        return None  # the try is running

    @property
    def duration(self) -> float | None:
        return None  # the try is running

    def get_template_context(self) -> dict[str, Any]:
        """The context of this running try (Airflow's ``ti.get_template_context()``)."""
        from tradewind.definition.context import get_current_context

        context = get_current_context()
        if context.get("ti") is not self:
            raise RuntimeError(f"{self!r}: get_template_context() works only inside this task's own try")
        return context

    def get_dagrun(self) -> Any:
        """The run of this try as the context shows it (``context["dag_run"]``)."""
        return self.get_template_context()["dag_run"]

    # ------------------------------------------------------------------- XCom
    def xcom_push(self, key: str, value: Any, execution_date: datetime | None = None) -> None:
        """Store ``value`` under ``key`` for this task instance: a JSON value or one of the types
        :mod:`tradewind.definition.xcom_serde` carries (as Airflow's serde does). ``execution_date``
        (Airflow 2, deprecated there) must be this try's own date when given."""
        if execution_date is not None and self.logical_date is not None and execution_date != self.logical_date:
            raise ValueError(f"task {self.dag_id}.{self.task_id}: xcom_push(execution_date=...) can only push to "
                             f"this run ({self.logical_date.isoformat()}), got {execution_date!r}")
        if not isinstance(key, str) or not key:
            raise ValueError(f"task {self.dag_id}.{self.task_id}: XCom key must be a non-empty string, got {key!r}")
        # Keep a copy (typed values as their JSON envelopes, as stored), so later mutation of
        # ``value`` by user code does not change what is stored.
        _text, self.pending_xcoms[key] = serialize_xcom_with_copy(value, dag_id=self.dag_id, task_id=self.task_id,
                                                                  key=key)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = XCOM_RETURN_KEY,
        dag_id: str | None = None,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
        include_prior_dates: bool = False,
        run_id: str | None = None,
    ) -> Any:
        """Pull XCom values (Airflow semantics; see the module docstring)."""
        dag_id = dag_id or self.dag_id
        run_id = run_id or self.run_id
        single_task = task_ids is None or isinstance(task_ids, str)
        ids: list[str] = [self.task_id] if task_ids is None else [task_ids] if isinstance(task_ids, str) else list(task_ids)
        single_index = map_indexes is None or isinstance(map_indexes, int)
        indexes: list[int] | None = (
            None if map_indexes is None else [map_indexes] if isinstance(map_indexes, int) else list(map_indexes)
        )
        rows = self._load(dag_id, run_id, ids, key, include_prior_dates)
        results = []
        for tid in ids:
            by_index = rows.get(tid, {})
            if indexes is None:
                if -1 in by_index:
                    results.append(by_index[-1])
                elif by_index:
                    results.append([by_index[i] for i in sorted(by_index)])
                else:
                    results.append(default)
            else:
                values = [by_index.get(i, default) for i in indexes]
                results.append(values[0] if single_index else values)
        return results[0] if single_task else results

    def _load(
        self, dag_id: str, run_id: str, task_ids: list[str], key: str, include_prior_dates: bool
    ) -> dict[str, dict[int, Any]]:
        """{task_id: {map_index: value}} for ``key`` in the run (or the latest earlier run)."""
        found = self._store.xcom_values(self.key, dag_id, run_id, task_ids, key,
                                        include_prior_dates=include_prior_dates)
        if dag_id == self.dag_id and run_id == self.run_id and key in self.pending_xcoms:
            if self.task_id in task_ids:
                found.setdefault(self.task_id, {})[self.map_index] = self.pending_xcoms[key]
        # Stored values are JSON; typed ones (tuples, DataFrames, dataclasses...) come back as their type.
        return {tid: {index: decode_xcom(value) for index, value in by_index.items()}
                for tid, by_index in found.items()}

    # --------------------------------------------------------------- branching
    def skip_tasks(self, task_ids: Iterable[str]) -> list[str]:
        """Mark the not-yet-started instances of ``task_ids`` in this run skipped now."""
        ids = [task_ids] if isinstance(task_ids, str) else list(task_ids)
        skipped = self._store.skip_tasks(self.key, ids)
        if skipped:
            self.log.info("Skipping tasks %s", ", ".join(skipped))
        return skipped

    # ------------------------------------------------------- sensors (reschedule mode)
    def _reschedule_summary(self) -> tuple[datetime | None, int]:
        if self._reschedules is None:
            self._reschedules = self._store.reschedule_summary(self.key)
        return self._reschedules

    def get_first_reschedule_date(self, context: Any = None) -> datetime | None:
        """When this try's first rescheduled poke started (Airflow 3 name); None if it never
        rescheduled. A sensor's ``timeout`` counts from here."""
        return self._reschedule_summary()[0]

    def get_reschedule_count(self) -> int:
        """How many times this try rescheduled so far (the sensor's poke number is this + 1)."""
        return self._reschedule_summary()[1]

    # ----------------------------------------- other runs (ExternalTaskSensor; Task SDK names)
    def get_ti_count(
        self,
        dag_id: str,
        map_index: int | None = None,
        task_ids: Iterable[str] | None = None,
        task_group_id: str | None = None,
        logical_dates: Iterable[datetime] | None = None,
        run_ids: Iterable[str] | None = None,
        states: Iterable[str] | None = None,
    ) -> int:
        """How many task instances of ``dag_id`` match the filters."""
        return self._store.ti_count(dag_id, map_index=map_index, task_ids=task_ids, task_group_id=task_group_id,
                                    logical_dates=logical_dates, run_ids=run_ids, states=states)

    def get_task_states(
        self,
        dag_id: str,
        map_index: int | None = None,
        task_ids: Iterable[str] | None = None,
        task_group_id: str | None = None,
        logical_dates: Iterable[datetime] | None = None,
        run_ids: Iterable[str] | None = None,
    ) -> dict[str, dict[str, str]]:
        """``{run_id: {task_id: state}}`` of the matching instances of ``dag_id``."""
        return self._store.task_states(dag_id, map_index=map_index, task_ids=task_ids,
                                       task_group_id=task_group_id, logical_dates=logical_dates, run_ids=run_ids)

    def get_dr_count(
        self,
        dag_id: str,
        logical_dates: Iterable[datetime] | None = None,
        run_ids: Iterable[str] | None = None,
        states: Iterable[str] | None = None,
    ) -> int:
        """How many runs of ``dag_id`` match the filters."""
        return self._store.dr_count(dag_id, logical_dates=logical_dates, run_ids=run_ids, states=states)

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        """The state of run ``run_id`` of ``dag_id`` (None when there is no such run)."""
        return self._store.dagrun_state(dag_id, run_id)

    def get_dag_task_ids(self, dag_id: str) -> set[str] | None:
        """Task ids of the DAG's latest parsed version, None when no such DAG is stored
        (``ExternalTaskSensor(check_existence=True)``)."""
        return self._store.dag_task_ids(dag_id)
