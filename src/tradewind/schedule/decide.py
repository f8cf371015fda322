"""The decision step: move each undecided task instance of a running run to scheduled,
skipped, upstream_failed or removed -- or leave it waiting.

Decisions are made on light rows (:class:`TiRow`) in topological order, so a skip or failure
propagates down the whole graph in one pass; then only the instances a decision moves are
loaded as ORM objects and moved through :mod:`tradewind.schedule.transitions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun
from tradewind.persist.queries import runs as run_queries
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import deps, mapping, transitions
from tradewind.schedule.step_context import StepContext
from tradewind.states import TaskInstanceState

TI = TaskInstanceState
#: States the decision step looks at (scheduled ones are already decided, waiting for a slot).
UNDECIDED = (TI.NONE.value, TI.UP_FOR_RETRY.value, TI.UP_FOR_RESCHEDULE.value)


@dataclass(slots=True)
class TiRow:
    """A task instance as one scheduler step reads it (the columns of
    :data:`~tradewind.persist.queries.task_instances.TI_ROW_COLUMNS`, in that order).
    ``state`` is kept current as the step moves the instance."""

    id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str
    try_number: int
    next_retry_at: datetime | None
    priority_weight: int
    pool: str
    pool_slots: int
    queue: str
    dag_version_id: int | None

    @classmethod
    def of(cls, ti: Any) -> TiRow:
        """The row of an ORM instance (one created by mapping in this step)."""
        return cls(*(getattr(ti, c) for c in ti_queries.TI_ROW_COLUMNS))


@dataclass(frozen=True, slots=True)
class Move:
    """One decision: move ``row`` to ``target``; ``note`` says why (skips, upstream failures)."""

    row: TiRow
    target: TaskInstanceState
    note: str | None = None


class Decider:
    """Decides the instances of running runs. Remembers, per run and clear, which mapped tasks
    had their input counted again (so a cleared run's XCom is read once per task)."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.max_map_length = ctx.config.getint("core", "max_map_length")
        #: run row id -> (its clear_number, mapped task ids whose input was counted since that clear).
        self._counted_since_clear: dict[int, tuple[int, set[str]]] = {}

    def forget_run(self, run: DagRun) -> None:
        """The run finished: drop what was remembered about it."""
        self._counted_since_clear.pop(run.id, None)

    def decide(self, session: Session, run: DagRun, snap: DagSnapshot, tis: list[TiRow], now: datetime) -> bool:
        """Move undecided instances to scheduled / skipped / upstream_failed, in topological order
        so a skip or failure propagates down the whole graph in one pass.

        Decided on the rows first; then the changed instances are loaded (one query) and moved
        through :mod:`transitions`. One whose state changed meanwhile is left alone.
        """
        # Mapped tasks (snap.mapped_task_ids) are decided per instance through a RunView; other DAGs
        # keep the one-instance-per-task fast path.
        view = mapping.RunView(tis, snap) if snap.mapped_task_ids else None
        states = {ti.task_id: ti.state for ti in tis if ti.map_index < 0}
        by_task = {ti.task_id: ti for ti in tis if ti.map_index < 0}
        previous: dict[str, Any] = {}  # the previous run's states, once a depends_on_past task needs them
        moves: list[Move] = []
        expanded = False
        for task_id in snap.topological_order:
            task = snap.tasks[task_id]
            if view is None:
                ti = by_task.get(task_id)
                rows = [] if ti is None else [ti]
            else:
                if task_id in snap.mapped_task_ids and (unexpanded := view.unexpanded(task_id)) is not None:
                    move, changed = self._expand_if_ready(session, run, snap, task, unexpanded, view, tis, now)
                    expanded = expanded or changed
                    if move is not None:
                        moves.append(move)
                        view.plan(unexpanded, move.target.value)
                    if not changed:
                        continue
                    if run.clear_number:
                        self._counted_since(run).add(task_id)
                elif task_id in snap.mapped_task_ids and run.clear_number:
                    expanded = self._revise_if_cleared(session, run, snap, task, view, tis, now) or expanded
                rows = view.instances(task_id)
            for ti in rows:
                if ti.state not in UNDECIDED:
                    continue
                upstream = states if view is None else view.upstream_states(task, ti.map_index)
                move = self._decide_instance(session, run, snap, task, ti, upstream, now, previous)
                if move is None:
                    continue
                moves.append(move)
                if view is None:
                    states[task_id] = move.target.value
                else:
                    view.plan(ti, move.target.value)
        for ti in tis:  # instances of tasks no longer in this version
            if ti.task_id not in snap.tasks and ti.state in (TI.NONE.value, TI.SCHEDULED.value):
                moves.append(Move(ti, TI.REMOVED))
        return self._apply_moves(session, moves, now) or expanded

    def _decide_instance(self, session: Session, run: DagRun, snap: DagSnapshot, task: Any, ti: TiRow,
                         upstream: dict[str, Any], now: datetime, previous: dict[str, Any]) -> Move | None:
        """The move for one undecided instance, or None while it waits. ``upstream``: task_id -> state
        (or the states of a mapped upstream's instances); ``previous`` caches the previous run's states."""
        reason = deps.task_dates_allow(task, run.logical_date)
        if reason:
            return Move(ti, TI.SKIPPED, reason)
        decision = deps.evaluate_trigger_rule(task.trigger_rule, deps.upstream_counts(task, snap, upstream))
        if decision.action == "wait":
            return None
        if decision.action == "skip":
            return Move(ti, TI.SKIPPED, decision.reason)
        if decision.action == "upstream_failed":
            return Move(ti, TI.UPSTREAM_FAILED, decision.reason)
        if deps.retry_delay_passed(ti, now):
            self.ctx.deadlines.append(ti.next_retry_at)  # type: ignore[arg-type]
            return None
        if task.depends_on_past or task.wait_for_downstream:
            if "states" not in previous:
                previous["states"] = self.previous_states(session, run)
            if deps.past_run_allows(task, previous["states"]):
                return None
        return Move(ti, TI.SCHEDULED)

    def _expand_if_ready(self, session: Session, run: DagRun, snap: DagSnapshot, task: Any, row: TiRow,
                         view: Any, tis: list[TiRow], now: datetime) -> tuple[Move | None, bool]:
        """A mapped task's -1 instance: decided like any instance until its trigger rule lets it run;
        then, once the upstreams its input reads from are done, expanded (schedule/mapping.py).
        Returns (a move of the -1 instance or None, whether the expansion changed the run)."""
        reason = deps.task_dates_allow(task, run.logical_date)
        if reason:
            return Move(row, TI.SKIPPED, reason), False
        decision = deps.evaluate_trigger_rule(task.trigger_rule, deps.upstream_counts(task, snap, view.upstream_states(task, -1)))
        if decision.action == "skip":
            return Move(row, TI.SKIPPED, decision.reason), False
        if decision.action == "upstream_failed":
            return Move(row, TI.UPSTREAM_FAILED, decision.reason), False
        if decision.action == "wait" or not view.inputs_done(task):
            return None, False
        result = mapping.expand(session, run, snap, task, row, now, max_length=self.max_map_length)
        if result.state is not None:  # skipped / failed / upstream_failed, written by mapping.expand
            row.state = result.state
            return None, True
        if not result.created:
            return None, False
        row.map_index = 0
        new_rows = [TiRow.of(ti) for ti in result.created[1:]]
        tis.extend(new_rows)
        view.add(task.task_id, new_rows)
        return None, True

    def _counted_since(self, run: DagRun) -> set[str]:
        """Mapped task ids whose input was counted since the run's last clear."""
        entry = self._counted_since_clear.get(run.id)
        if entry is None or entry[0] != run.clear_number:
            entry = (run.clear_number, set())
            self._counted_since_clear[run.id] = entry
        return entry[1]

    def _revise_if_cleared(self, session: Session, run: DagRun, snap: DagSnapshot, task: Any, view: Any,
                           tis: list[TiRow], now: datetime) -> bool:
        """In a cleared run, an expanded mapped task whose instances were cleared counts its input
        again once the upstreams it reads are done (they may yield a different number of items
        now), before its instances are decided (mapping.revise). Done once per task and clear:
        only runs with a clear_number get here, and the check before the XCom read is in memory."""
        counted = self._counted_since(run)
        if task.task_id in counted:
            return False
        rows = view.instances(task.task_id)
        if not any(view.state(r) == TI.NONE.value for r in rows) or not view.inputs_done(task):
            return False
        counted.add(task.task_id)
        result = mapping.revise(session, run, snap, task, rows, now, max_length=self.max_map_length)
        for row in rows:
            if row.id in result.moved:
                row.state = result.moved[row.id]
        if result.created:
            new_rows = [TiRow.of(ti) for ti in result.created]
            tis.extend(new_rows)
            view.add(task.task_id, new_rows)
        return bool(result.moved or result.created)

    @staticmethod
    def _apply_moves(session: Session, moves: list[Move], now: datetime) -> bool:
        """Apply the decided moves to the instances' ORM objects; update the rows to match."""
        if not moves:
            return False
        objects = ti_queries.tis_by_ids(session, [move.row.id for move in moves])
        for move in moves:
            row = move.row
            ti = objects.get(row.id)
            if ti is None or ti.state != row.state:
                continue  # deleted or moved by someone else since the rows were read
            if move.target == TI.SKIPPED:
                transitions.mark_ti_skipped(session, ti, now, note=move.note)
            elif move.target == TI.UPSTREAM_FAILED:
                transitions.mark_ti_upstream_failed(session, ti, now, note=move.note)
            elif move.target == TI.SCHEDULED:
                transitions.schedule_ti(session, ti, now)
            else:
                transitions.mark_ti_removed(session, ti, now)
            row.state = ti.state
        return True

    @staticmethod
    def previous_states(session: Session, run: DagRun) -> dict[str, str] | None:
        """{task_id: state} of the run before ``run`` (depends_on_past, wait_for_downstream)."""
        prev = run_queries.previous_run(session, run)
        if prev is None:
            return None
        return ti_queries.states_for_runs(session, [(prev.dag_id, prev.run_id)])[(prev.dag_id, prev.run_id)]
