"""The decision step: move each undecided task instance of a running run to scheduled,
skipped, upstream_failed or removed -- or leave it waiting.

Decisions are made on light rows (:class:`TiRow`) in topological order, so a skip or failure
propagates down the whole graph in one pass; then only the instances a decision moves are
loaded as ORM objects and moved through :mod:`tradewind.schedule.transitions`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun
from tradewind.persist.queries import runs as run_queries
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import deps, mapping, transitions
from tradewind.schedule.run_rows import UNDECIDED, RunRows, TiRow
from tradewind.schedule.step_context import StepContext
from tradewind.states import TaskInstanceState

TI = TaskInstanceState

__all__ = ["Decider", "Move"]


@dataclass(frozen=True, slots=True)
class Move:
    """One decision: move ``row`` to ``target``; ``note`` says why (skips, upstream failures)."""

    row: TiRow
    target: TaskInstanceState
    note: str | None = None
    #: The state the decision was made from, when the row already shows the move (incremental decisions).
    old: str | None = None


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

    def decide(self, session: Session, run: DagRun, snap: DagSnapshot, rows: RunRows, now: datetime) -> bool:
        """Move undecided instances to scheduled / skipped / upstream_failed, in topological order
        so a skip or failure propagates down the whole graph in one pass.

        Decided on the rows first; then the changed instances are loaded (one query) and moved
        through :mod:`transitions`. One whose state changed meanwhile is left alone.
        """
        if rows.incremental:
            return self._decide_changed(session, run, snap, rows, now)
        return self._decide_all(session, run, snap, rows, now)

    def _decide_changed(self, session: Session, run: DagRun, snap: DagSnapshot, rows: RunRows, now: datetime) -> bool:
        """A DAG without mapped tasks: evaluate only the tasks whose upstream changed since the last
        step (and those waiting on the clock or the previous run), with the upstream counts the
        memory keeps (:class:`~tradewind.schedule.run_rows.RunRows`). A move is recorded in the
        memory at once, which marks its downstream for this same pass."""
        heap = rows.to_decide()
        previous: dict[str, Any] = {}
        moves: list[Move] = []
        seen: set[str] = set()
        while heap:
            _, task_id = heapq.heappop(heap)
            if task_id in seen:
                continue
            seen.add(task_id)
            ti = rows.by_task.get(task_id)
            if ti is None or ti.state not in UNDECIDED:
                continue
            task = snap.tasks[task_id]
            move = self._decide_instance(session, run, task, ti, rows.upstream_counts(task_id), now, previous)
            if move is None:
                continue
            moves.append(Move(ti, move.target, move.note, old=ti.state))
            rows.set_state(ti, move.target.value)
            for down in task.downstream:
                heapq.heappush(heap, (rows.topo_index[down], down))
        rows.dirty.clear()  # every task marked during this pass came later in it
        if rows.fresh:  # read in full: look once for instances of tasks no longer in this version
            rows.fresh = False
            moves.extend(_removed_task_moves(rows.rows, snap))
        return self._apply_moves(session, moves, now, rows)

    def _decide_all(self, session: Session, run: DagRun, snap: DagSnapshot, rows: RunRows, now: datetime) -> bool:
        """A DAG with mapped tasks: every instance, through a :class:`~tradewind.schedule.mapping.RunView`
        (instances appear as inputs expand; a mapped upstream counts all its instances)."""
        tis = rows.rows
        view = mapping.RunView(tis, snap)
        previous: dict[str, Any] = {}  # the previous run's states, once a depends_on_past task needs them
        moves: list[Move] = []
        expanded = False
        for task_id in snap.topological_order:
            task = snap.tasks[task_id]
            if task_id in snap.mapped_task_ids and (unexpanded := view.unexpanded(task_id)) is not None:
                move, changed = self._expand_if_ready(session, run, snap, task, unexpanded, view, rows, now)
                expanded = expanded or changed
                if move is not None:
                    moves.append(move)
                    view.plan(unexpanded, move.target.value)
                if not changed:
                    continue
                if run.clear_number:
                    self._counted_since(run).add(task_id)
            elif task_id in snap.mapped_task_ids and run.clear_number:
                expanded = self._revise_if_cleared(session, run, snap, task, view, rows, now) or expanded
            for ti in view.instances(task_id):
                if ti.state not in UNDECIDED:
                    continue
                counts = deps.upstream_counts(task, snap, view.upstream_states(task, ti.map_index))
                move = self._decide_instance(session, run, task, ti, counts, now, previous)
                if move is None:
                    continue
                moves.append(move)
                view.plan(ti, move.target.value)
        moves.extend(_removed_task_moves(tis, snap))
        return self._apply_moves(session, moves, now, rows) or expanded

    def _decide_instance(self, session: Session, run: DagRun, task: Any, ti: TiRow,
                         counts: deps.UpstreamCounts, now: datetime, previous: dict[str, Any]) -> Move | None:
        """The move for one undecided instance, or None while it waits. ``counts``: its upstream
        instances' states; ``previous`` caches the previous run's states."""
        reason = deps.task_dates_allow(task, run.logical_date)
        if reason:
            return Move(ti, TI.SKIPPED, reason)
        decision = deps.evaluate_trigger_rule(task.trigger_rule, counts)
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
                         view: Any, rows: RunRows, now: datetime) -> tuple[Move | None, bool]:
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
            rows.set_state(row, result.state)
            return None, True
        if not result.created:
            return None, False
        row.map_index = 0
        new_rows = [TiRow.of(ti) for ti in result.created[1:]]
        rows.add(new_rows)
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
                           rows: RunRows, now: datetime) -> bool:
        """In a cleared run, an expanded mapped task whose instances were cleared counts its input
        again once the upstreams it reads are done (they may yield a different number of items
        now), before its instances are decided (mapping.revise). Done once per task and clear:
        only runs with a clear_number get here, and the check before the XCom read is in memory."""
        counted = self._counted_since(run)
        if task.task_id in counted:
            return False
        instances = view.instances(task.task_id)
        if not any(view.state(r) == TI.NONE.value for r in instances) or not view.inputs_done(task):
            return False
        counted.add(task.task_id)
        result = mapping.revise(session, run, snap, task, instances, now, max_length=self.max_map_length)
        for row in instances:
            if row.id in result.moved:
                rows.set_state(row, result.moved[row.id])
        if result.created:
            new_rows = [TiRow.of(ti) for ti in result.created]
            rows.add(new_rows)
            view.add(task.task_id, new_rows)
        return bool(result.moved or result.created)

    @staticmethod
    def _apply_moves(session: Session, moves: list[Move], now: datetime, rows: RunRows) -> bool:
        """Apply the decided moves to the instances' ORM objects; record them in ``rows``. An
        instance moved by someone else since it was read is left alone (and an incremental memory
        that already showed the move is read afresh next step)."""
        if not moves:
            return False
        objects = ti_queries.tis_by_ids(session, [move.row.id for move in moves])
        for move in moves:
            row = move.row
            was = row.state if move.old is None else move.old
            ti = objects.get(row.id)
            if ti is None or ti.state != was:
                if move.old is not None:
                    rows.stale = True
                continue  # deleted or moved by someone else since the rows were read
            if move.target == TI.SKIPPED:
                transitions.mark_ti_skipped(session, ti, now, note=move.note)
            elif move.target == TI.UPSTREAM_FAILED:
                transitions.mark_ti_upstream_failed(session, ti, now, note=move.note)
            elif move.target == TI.SCHEDULED:
                transitions.schedule_ti(session, ti, now)
            else:
                transitions.mark_ti_removed(session, ti, now)
            rows.set_state(row, ti.state)
        return True

    @staticmethod
    def previous_states(session: Session, run: DagRun) -> dict[str, str] | None:
        """{task_id: state} of the run before ``run`` (depends_on_past, wait_for_downstream)."""
        prev = run_queries.previous_run(session, run)
        if prev is None:
            return None
        return ti_queries.states_for_runs(session, [(prev.dag_id, prev.run_id)])[(prev.dag_id, prev.run_id)]


def _removed_task_moves(rows: list[TiRow], snap: DagSnapshot) -> list[Move]:
    """Instances of tasks no longer in this DAG version, not started yet: they become removed."""
    return [Move(ti, TI.REMOVED) for ti in rows
            if ti.task_id not in snap.tasks and ti.state in (TI.NONE.value, TI.SCHEDULED.value)]
