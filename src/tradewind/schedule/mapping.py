"""Dynamic task mapping in the scheduler: when and how a mapped task becomes its instances.

A mapped task starts as one instance with ``map_index`` -1 (:func:`~tradewind.schedule.runs.start_run`).
When the upstreams its input reads from (``expand_input`` in the task's snapshot) are done,
the scheduler counts the items (:func:`input_length`, from their XComs) and expands it
(:func:`expand`), as Airflow does:

* n items: the -1 instance becomes map index 0 and instances 1..n-1 are created;
* no items: the -1 instance is skipped (and the usual trigger rules carry that downstream);
* an input that is not a list or a dict, or longer than ``[core] max_map_length``: the
  task fails without running, the reason in its note;
* an upstream that pushed nothing (it failed or was skipped): upstream_failed.

Afterwards every instance is decided on its own. A task downstream of a mapped task counts
all its instances in its trigger rule; inside a mapped task group, an instance's upstream
in the same group is the instance with the same map index (:meth:`RunView.upstream_states`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from tradewind.definition.mapped import UnmappableInputError, spec_length, spec_task_ids
from tradewind.parse.snapshot import DagSnapshot, TaskSnapshot
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries.xcom import xcom_get_many
from tradewind.schedule import transitions
from tradewind.states import FINISHED_TI_STATES, TaskInstanceState

log = logging.getLogger(__name__)

TI = TaskInstanceState
_FINISHED = frozenset(s.value for s in FINISHED_TI_STATES)


class _MissingValue(LookupError):
    """An upstream the mapped input reads from pushed no value."""


def expand_spec(task: TaskSnapshot) -> dict[str, Any]:
    return task.extra["expand_input"]


def input_task_ids(task: TaskSnapshot) -> set[str]:
    """The upstream tasks whose XComs the mapped task's input reads."""
    return spec_task_ids(expand_spec(task))


class RunView:
    """A run's instance rows grouped by task, with the states decided so far in this step."""

    def __init__(self, rows: Iterable[Any], snap: DagSnapshot) -> None:
        self.snap = snap
        self.by_task: dict[str, list[Any]] = {}
        for row in rows:
            self.by_task.setdefault(row.task_id, []).append(row)
        for task_rows in self.by_task.values():
            task_rows.sort(key=lambda r: r.map_index)
        #: row id -> state decided in this step (not yet written).
        self.planned: dict[int, str] = {}

    def instances(self, task_id: str) -> list[Any]:
        return self.by_task.get(task_id, [])

    def state(self, row: Any) -> str:
        return self.planned.get(row.id, row.state)

    def plan(self, row: Any, state: str) -> None:
        self.planned[row.id] = state

    def add(self, task_id: str, rows: Iterable[Any]) -> None:
        self.by_task.setdefault(task_id, []).extend(rows)
        self.by_task[task_id].sort(key=lambda r: r.map_index)

    def unexpanded(self, task_id: str) -> Any | None:
        """The -1 instance of a mapped task not expanded yet (None once expanded or decided)."""
        rows = self.by_task.get(task_id, [])
        if len(rows) == 1 and rows[0].map_index < 0 and self.state(rows[0]) == TI.NONE.value:
            return rows[0]
        return None

    def states_of(self, task_id: str) -> list[str]:
        return [self.state(r) for r in self.by_task.get(task_id, [])]

    def upstream_states(self, task: TaskSnapshot, map_index: int) -> dict[str, list[str]]:
        """The states a trigger rule counts for instance ``map_index`` of ``task``: every instance of
        each upstream, except within a mapped task group, where only the same map index counts
        (and an instance not expanded yet does not wait for its group's other tasks)."""
        group = task.extra.get("mapped_group")
        found: dict[str, list[str]] = {}
        for up in task.upstream:
            if group is not None and self.snap.tasks[up].extra.get("mapped_group") == group:
                if map_index < 0:
                    found[up] = []  # counted per instance once expanded
                    continue
                rows = self.by_task.get(up, [])
                same = [r for r in rows if r.map_index == map_index]
                # An upstream of the group not expanded yet (or skipped: empty input) stands for all.
                found[up] = [self.state(r) for r in (same or [r for r in rows if r.map_index < 0])]
            else:
                found[up] = self.states_of(up)
        return found

    def inputs_done(self, task: TaskSnapshot) -> bool:
        """Every upstream the task's input reads from has finished (all its instances)."""
        return all(
            self.by_task.get(tid) and all(s in _FINISHED for s in self.states_of(tid)) for tid in input_task_ids(task)
        )


@dataclass(frozen=True)
class Expansion:
    """What :func:`expand` did: ``created`` new instances (the -1 one became map index 0), or
    moved the -1 instance to ``state`` (skipped, failed, upstream_failed) with ``reason``."""

    created: list[TaskInstance]
    state: str | None = None
    reason: str | None = None


def input_length(session: Session, run: DagRun, snap: DagSnapshot, task: TaskSnapshot) -> int:
    """How many instances the task's input stands for, from its upstreams' XComs.

    Raises :class:`UnmappableInputError` (not a list/dict) or :class:`_MissingValue`.
    """
    spec = expand_spec(task)
    cache: dict[tuple[str, str], Any] = {}

    def value_of(task_id: str, key: str) -> Any:
        if (task_id, key) not in cache:
            values = xcom_get_many(session, run.dag_id, run.run_id, [task_id], key)
            if not values:
                raise _MissingValue(f"upstream task {task_id!r} pushed no XCom {key!r} to map over")
            if task_id in snap.mapped_task_ids:
                cache[(task_id, key)] = [v for (_, mi), v in sorted(values.items(), key=lambda kv: kv[0][1])]
            else:
                cache[(task_id, key)] = values.get((task_id, -1))
        return cache[(task_id, key)]

    return spec_length(spec, value_of, f"mapped task {task.task_id!r}")


def expand(session: Session, run: DagRun, snap: DagSnapshot, task: TaskSnapshot, row: Any, now: datetime,
           *, max_length: int) -> Expansion:
    """Expand the -1 instance ``row`` of ``task`` (its input upstreams are done); see the module docstring."""
    ti = session.get(TaskInstance, row.id)
    if ti is None or ti.state != TI.NONE.value or ti.map_index != -1:
        return Expansion([])  # moved by someone else since the rows were read
    try:
        length = input_length(session, run, snap, task)
    except _MissingValue as exc:
        reason = f"cannot expand mapped task {task.task_id!r}: {exc}"
        transitions.mark_ti_upstream_failed(session, ti, now, note=reason)
        return Expansion([], TI.UPSTREAM_FAILED.value, reason)
    except UnmappableInputError as exc:
        reason = str(exc)
        transitions.fail_unexpandable(session, ti, now, reason)
        log.warning("%s/%s: %s", run.dag_id, run.run_id, reason)
        return Expansion([], TI.FAILED.value, reason)
    if length > max_length:
        reason = (f"mapped task {task.task_id!r} cannot expand to {length} instances: that is more than "
                  f"[core] max_map_length ({max_length})")
        transitions.fail_unexpandable(session, ti, now, reason)
        log.warning("%s/%s: %s", run.dag_id, run.run_id, reason)
        return Expansion([], TI.FAILED.value, reason)
    if length == 0:
        reason = f"mapped task {task.task_id!r} has nothing to map over (empty input)"
        transitions.mark_ti_skipped(session, ti, now, note=reason)
        return Expansion([], TI.SKIPPED.value, reason)
    ti.map_index = 0
    created = [
        TaskInstance(
            dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=index,
            state=TI.NONE.value, try_number=0, max_tries=ti.max_tries, pool=ti.pool, pool_slots=ti.pool_slots,
            queue=ti.queue, priority_weight=ti.priority_weight, operator=ti.operator,
            dag_version_id=ti.dag_version_id,
        )
        for index in range(1, length)
    ]
    session.add_all(created)
    session.flush()
    return Expansion([ti, *created])


def set_rendered_map_index(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int,
                           label: str) -> None:
    """Store a mapped instance's ``map_index_template`` label (written with its try's outcome)."""
    session.execute(
        update(TaskInstance)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id,
               TaskInstance.map_index == map_index)
        .values(rendered_map_index=label[:250])
        .execution_options(synchronize_session=False)
    )
