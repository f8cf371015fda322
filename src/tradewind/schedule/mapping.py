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

When a clear sends the instances of an expanded mapped task back to ``none``, the scheduler
counts the input again once its upstreams are done (:func:`revise`): missing instances are
created and extra ones removed.

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
from tradewind.persist.queries.task_instances import tis_by_ids
from tradewind.persist.queries.xcom import xcom_clear, xcom_count, xcom_items
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


#: Items one source of a mapped input is counted to at least: past ``max_length`` it only decides
#: the refusal, and up to here the refusal still names the exact number (100,000 stand-ins: 800 KB).
EXACT_COUNT_UP_TO = 100_000


def count_cap(max_length: int) -> int:
    """How far :func:`input_length` counts each source for a task limited to ``max_length``."""
    return max(max_length + 1, EXACT_COUNT_UP_TO)


@dataclass(frozen=True)
class InputLength:
    """What :func:`input_length` counted: ``length`` instances, exact unless a source was longer
    than the cap it was counted to (then ``sources`` names each upstream's real item count)."""

    length: int
    sources: dict[str, int]
    capped: bool

    def too_long_reason(self, task_id: str, max_length: int) -> str:
        many = f"more than {max_length}" if self.capped else str(self.length)
        counted = ", ".join(f"upstream {tid!r} returned {n} items" for tid, n in self.sources.items())
        return (f"mapped task {task_id!r} cannot expand to {many} instances"
                + (f" ({counted})" if self.capped and counted else "")
                + f": that is more than [core] max_map_length ({max_length})")


def input_length(session: Session, run: DagRun, snap: DagSnapshot, task: TaskSnapshot, *,
                 cap: int | None = None) -> InputLength:
    """How many instances the task's input stands for, from its upstreams' XComs.

    The values themselves are not loaded here when the database can count them (SQLite's and
    PostgreSQL's JSON functions give an array's length and an object's key count; a mapped
    upstream's instances are counted as rows): an upstream returning a list of 100,000 items
    costs the scheduler one integer. Each source stands for at most ``cap`` items (above
    ``max_length``: the totals of zip/concat/product still decide the same; see
    :func:`count_cap`), so nothing holds more than that. Raises :class:`UnmappableInputError` (not a list/dict) or
    :class:`_MissingValue`.
    """
    spec = expand_spec(task)
    sources: dict[str, int] = {}
    capped = False

    def value_of(task_id: str, key: str) -> Any:
        nonlocal capped
        counted: tuple[int | None, Any] | None
        if task_id in snap.mapped_task_ids:  # each instance's value is one item
            instances = xcom_count(session, run.dag_id, run.run_id, task_id, key)
            counted = (instances, None) if instances else None
        else:
            counted = xcom_items(session, run.dag_id, run.run_id, task_id, key)
        if counted is None:
            raise _MissingValue(f"upstream task {task_id!r} pushed no XCom {key!r} to map over")
        count, value = counted
        if count is None:  # not a plain list/dict (an envelope, a scalar): the value as it was pushed
            return value
        sources[task_id] = count
        if cap is not None and count > cap:
            capped = True
            count = cap
        return (None,) * count  # stands for the items; only their number matters here

    length = spec_length(spec, value_of, f"mapped task {task.task_id!r}")
    return InputLength(length, sources, capped)


def expand(session: Session, run: DagRun, snap: DagSnapshot, task: TaskSnapshot, row: Any, now: datetime,
           *, max_length: int) -> Expansion:
    """Expand the -1 instance ``row`` of ``task`` (its input upstreams are done); see the module docstring."""
    ti = session.get(TaskInstance, row.id)
    if ti is None or ti.state != TI.NONE.value or ti.map_index != -1:
        return Expansion([])  # moved by someone else since the rows were read
    try:
        counted = input_length(session, run, snap, task, cap=count_cap(max_length))
    except _MissingValue as exc:
        reason = f"cannot expand mapped task {task.task_id!r}: {exc}"
        transitions.mark_ti_upstream_failed(session, ti, now, note=reason)
        return Expansion([], TI.UPSTREAM_FAILED.value, reason)
    except UnmappableInputError as exc:
        reason = str(exc)
        transitions.fail_unexpandable(session, ti, now, reason)
        log.warning("%s/%s: %s", run.dag_id, run.run_id, reason)
        return Expansion([], TI.FAILED.value, reason)
    length = counted.length
    if length > max_length:
        reason = counted.too_long_reason(task.task_id, max_length)
        transitions.fail_unexpandable(session, ti, now, reason)
        log.warning("%s/%s: %s", run.dag_id, run.run_id, reason)
        return Expansion([], TI.FAILED.value, reason)
    if length == 0:
        reason = f"mapped task {task.task_id!r} has nothing to map over (empty input)"
        transitions.mark_ti_skipped(session, ti, now, note=reason)
        return Expansion([], TI.SKIPPED.value, reason)
    ti.map_index = 0
    created = [_sibling(ti, index) for index in range(1, length)]
    session.add_all(created)
    session.flush()
    return Expansion([ti, *created])


def _sibling(ti: TaskInstance, map_index: int) -> TaskInstance:
    """A new, undecided instance of ``ti``'s task at ``map_index``, with ``ti``'s settings."""
    return TaskInstance(
        dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=map_index,
        state=TI.NONE.value, try_number=0, max_tries=ti.max_tries, pool=ti.pool, pool_slots=ti.pool_slots,
        queue=ti.queue, priority_weight=ti.priority_weight, operator=ti.operator,
        dag_version_id=ti.dag_version_id,
    )


#: States of an instance a revision may still move (decided instances keep their outcome).
_REVISABLE = frozenset({TI.NONE.value, TI.SCHEDULED.value, TI.UP_FOR_RETRY.value, TI.UP_FOR_RESCHEDULE.value})


@dataclass(frozen=True)
class Revision:
    """What :func:`revise` did: instances ``created``, and ``moved`` (row id -> new state)."""

    created: list[TaskInstance]
    moved: dict[int, str]


def revise(session: Session, run: DagRun, snap: DagSnapshot, task: TaskSnapshot, rows: list[Any], now: datetime,
           *, max_length: int) -> Revision:
    """Fit an expanded mapped task's instances (``rows``, map index >= 0) to its input counted
    again: after a clear, its upstream may now yield a different number of items (Airflow
    revises the map indexes then too).

    * n items: missing instances up to n-1 are created; undecided instances at n or above
      become ``removed`` and their XComs are dropped (decided ones keep their outcome);
    * no items: instance 0 is skipped (as a first expansion of an empty input would be; the
      skip carries downstream) and the others are removed;
    * an input that is not a list or dict, or too long: the cleared (``none``) instances fail
      without running, the reason in their note;
    * an upstream that pushed nothing: nothing changes (its failure reaches the instances
      through the trigger rule).
    """
    try:
        counted = input_length(session, run, snap, task, cap=count_cap(max_length))
    except _MissingValue:
        return Revision([], {})
    except UnmappableInputError as exc:
        return _fail_cleared(session, run, rows, now, str(exc))
    length = counted.length
    if length > max_length:
        return _fail_cleared(session, run, rows, now, counted.too_long_reason(task.task_id, max_length))
    objects = tis_by_ids(session, [r.id for r in rows])
    moved: dict[int, str] = {}
    for row in rows:
        ti = objects.get(row.id)
        if ti is None or ti.state != row.state or ti.state not in _REVISABLE:
            continue
        if length == 0 and ti.map_index == 0:
            transitions.mark_ti_skipped(
                session, ti, now, note=f"mapped task {task.task_id!r} has nothing to map over (empty input)")
        elif ti.map_index >= max(length, 1):
            transitions.mark_ti_removed(session, ti, now)
        else:
            continue
        moved[row.id] = ti.state
        # Its value from before the clear must not reach downstream pulls (a try clears its own
        # XComs when it starts; this instance will not run again).
        xcom_clear(session, ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    existing = {r.map_index for r in rows}
    template = objects.get(rows[0].id) if rows else None
    created = [] if template is None else [_sibling(template, i) for i in range(length) if i not in existing]
    if created:
        session.add_all(created)
        session.flush()
    if moved or created:
        log.info("%s/%s: mapped task %s re-counted after a clear: %d item(s), %d instance(s) created, %d moved",
                 run.dag_id, run.run_id, task.task_id, length, len(created), len(moved))
    return Revision(created, moved)


def _fail_cleared(session: Session, run: DagRun, rows: list[Any], now: datetime, reason: str) -> Revision:
    objects = tis_by_ids(session, [r.id for r in rows if r.state == TI.NONE.value])
    moved: dict[int, str] = {}
    for row_id, ti in objects.items():
        if ti.state == TI.NONE.value:
            transitions.fail_unexpandable(session, ti, now, reason)
            moved[row_id] = ti.state
    log.warning("%s/%s: %s", run.dag_id, run.run_id, reason)
    return Revision([], moved)


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
