"""The scheduler's memory of each running run's task instances, kept current step by step.

Reading every instance of every running run in every step made a step cost O(instances): a
10,000-task run paid for 10,000 rows each time one task finished. :class:`RunRows` keeps one
run's rows between steps and learns what changed cheaply:

- **What others move.** Runners, the triggerer and the health checks move only instances in
  :data:`VOLATILE` states (queued, running, deferred, restarting). Each step reads the rows in
  those states (an index range on ``(dag_id, run_id, state)``) and re-reads, by id, the rows the
  memory held volatile that have left them (a try that finished since).
- **What this scheduler moves.** The decision and queueing steps report their moves
  (:meth:`RunRows.set_state`), so the memory follows them without reading.
- **Everything else** (a clear or a mark from the UI, another scheduler): each step also reads
  the run's per-state ``count`` and ``sum(id)`` (a covering-index aggregate, no rows) and
  compares it with the memory's own; any difference, a new clear of the run or another DAG
  version drops the memory and the rows are read again in full.

For runs of DAGs without mapped tasks the memory also keeps, per task, the counts of its
direct upstream's states and the set of tasks whose upstream changed (:attr:`RunRows.dirty`),
so a decision step evaluates only those, with counts it does not recount: the fan-in task of a
10,000-wide fan-out costs O(1) per finished upstream, not O(10,000) per step. Runs of DAGs with
mapped tasks are read in full every step (their instances appear as inputs expand) and decided
over :class:`~tradewind.schedule.mapping.RunView`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import deps
from tradewind.schedule.deps import UpstreamCounts
from tradewind.states import FINISHED_TI_STATES, TaskInstanceState

TI = TaskInstanceState
#: States in which processes other than the scheduler's steps move an instance.
VOLATILE: frozenset[str] = frozenset({TI.QUEUED.value, TI.RUNNING.value, TI.DEFERRED.value, TI.RESTARTING.value})
#: States the decision step looks at (scheduled ones are decided, waiting for a slot).
UNDECIDED: frozenset[str] = frozenset({TI.NONE.value, TI.UP_FOR_RETRY.value, TI.UP_FOR_RESCHEDULE.value})
#: Undecided states whose decision depends on the clock (retry delay), not only on upstream states.
TIMED: frozenset[str] = frozenset({TI.UP_FOR_RETRY.value, TI.UP_FOR_RESCHEDULE.value})
_SCHEDULED = TI.SCHEDULED.value


@dataclass(slots=True)
class TiRow:
    """A task instance as the scheduler's steps read it (the columns of
    :data:`~tradewind.persist.queries.task_instances.TI_ROW_COLUMNS`, in that order).
    ``state`` is kept current as the steps move the instance."""

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


class RunRows:
    """One running run's instance rows (:class:`TiRow`) and what the
    scheduler derives from them. ``incremental`` (DAGs without mapped tasks): kept between steps,
    with per-task upstream counts and the dirty set; otherwise built afresh each step."""

    def __init__(self, run: DagRun, snap: DagSnapshot, rows: list[Any]) -> None:
        self.run_key = (run.dag_id, run.run_id)
        self.clear_number = run.clear_number
        self.version_id = run.dag_version_id
        self.snap = snap
        self.rows = rows
        self.incremental = not snap.mapped_task_ids
        self.by_id: dict[int, Any] = {r.id: r for r in rows}
        #: state -> [count, sum of ids]: compared with the database's to notice others' moves.
        self.tally: dict[str, list[int]] = {}
        self.volatile_ids: set[int] = set()
        self.scheduled: dict[int, Any] = {}
        #: (-priority_weight, id) of scheduled rows, a heap; entries of rows no longer scheduled are
        #: dropped when met (:meth:`scheduled_in_order`).
        self._queue_order: list[tuple[int, int]] = []
        self._offered: list[tuple[int, int]] = []
        for row in rows:
            self._count_in(row)
        #: Set when a move could not be applied as remembered: the next step reads in full.
        self.stale = False
        #: Read in full since the last decision step (instances of removed tasks are looked for then).
        self.fresh = True
        #: Tasks with a concurrency limit of their own (the queueing step counts their active instances).
        self.limited_tasks = [t for t, task in snap.tasks.items() if deps.has_task_limits(task)]
        if not self.incremental:
            return
        self.by_task: dict[str, Any] = {r.task_id: r for r in rows if r.map_index < 0}
        self.topo_index = {task_id: i for i, task_id in enumerate(snap.topological_order)}
        #: task id -> {state: upstream instances in it}; and the same over upstream setup tasks.
        self.up_counts: dict[str, dict[str, int]] = {}
        self.setup_counts: dict[str, dict[str, int]] = {}
        for task_id, task in snap.tasks.items():
            counts: dict[str, int] = {}
            setups: dict[str, int] = {}
            for up in task.upstream:
                state = self._state_of(up)
                counts[state] = counts.get(state, 0) + 1
                if snap.tasks[up].is_setup:
                    setups[state] = setups.get(state, 0) + 1
            self.up_counts[task_id] = counts
            self.setup_counts[task_id] = setups
        #: Undecided tasks to evaluate in the next decision step (all of them at first).
        self.dirty: set[str] = {r.task_id for r in self.by_task.values() if r.state in UNDECIDED}
        #: Tasks whose instance waits on the clock (retry delay, reschedule), and tasks that look
        #: at the previous run (depends_on_past, wait_for_downstream): evaluated every step.
        self.timed: set[str] = {r.task_id for r in self.by_task.values() if r.state in TIMED}
        self.past_tasks = [t for t, task in snap.tasks.items() if task.depends_on_past or task.wait_for_downstream]

    # ------------------------------------------------------------------ reading
    def _state_of(self, task_id: str) -> str:
        row = self.by_task.get(task_id)
        return TI.NONE.value if row is None else row.state

    def upstream_counts(self, task_id: str) -> UpstreamCounts:
        """Counts over the task's direct upstream instances (removed ones not counted)."""
        return UpstreamCounts.from_counts(self.up_counts[task_id], self.setup_counts[task_id])

    def to_decide(self) -> list[tuple[int, str]]:
        """A heap of (topological index, task id) of the undecided tasks to evaluate now: those whose
        upstream changed, plus the ones whose decision depends on the clock or the previous run.
        Clears the dirty set (moves made while deciding mark their downstream dirty again)."""
        wanted = set(self.dirty)
        self.dirty.clear()
        wanted.update(self.timed)
        for task_id in self.past_tasks:
            row = self.by_task.get(task_id)
            if row is not None and row.state == TI.NONE.value:
                wanted.add(task_id)
        heap = [(self.topo_index[t], t) for t in wanted if t in self.topo_index]
        heapq.heapify(heap)
        return heap

    def unfinished(self) -> bool:
        """Some instance of the run is not finished."""
        if not self.incremental:
            return any(r.state not in FINISHED_TI_STATES for r in self.rows)
        return any(n for state, (n, _) in self.tally.items() if state not in FINISHED_TI_STATES)

    def scheduled_in_order(self) -> Iterator[Any]:
        """The scheduled rows, highest priority first (then lowest id), lazily: a step that queues
        k instances pays O(k log n). Call :meth:`restore` once the step is done with the iterator."""
        heap = self._queue_order
        yielded: set[int] = set()
        while heap:
            key = heapq.heappop(heap)
            row = self.scheduled.get(key[1])
            if row is None or key[1] in yielded or -row.priority_weight != key[0]:
                continue  # queued, moved or re-weighted since it was pushed
            yielded.add(key[1])
            self._offered.append(key)
            yield row

    def restore(self) -> None:
        """Put back the rows :meth:`scheduled_in_order` offered that are still scheduled."""
        for key in self._offered:
            if key[1] in self.scheduled:
                heapq.heappush(self._queue_order, key)
        self._offered.clear()

    def add(self, rows: Iterable[Any]) -> None:
        """Instances created in this step (a mapped task expanded)."""
        for row in rows:
            self.rows.append(row)
            self.by_id[row.id] = row
            self._count_in(row)

    # ------------------------------------------------------------------ moving
    def set_state(self, row: Any, state: str) -> None:
        """Record that ``row`` is now in ``state`` (a move of this scheduler or one read back)."""
        old = row.state
        if old == state:
            return
        self._count_out(row)
        row.state = state
        self._count_in(row)
        if not self.incremental or row.map_index >= 0:
            return
        task = self.snap.tasks.get(row.task_id)
        if task is None:
            return
        if state in UNDECIDED:
            self.dirty.add(row.task_id)
        if state in TIMED:
            self.timed.add(row.task_id)
        elif old in TIMED:
            self.timed.discard(row.task_id)
        setup = task.is_setup
        for down in task.downstream:
            counts = self.up_counts[down]
            counts[old] = counts.get(old, 0) - 1
            counts[state] = counts.get(state, 0) + 1
            if setup:
                setups = self.setup_counts[down]
                setups[old] = setups.get(old, 0) - 1
                setups[state] = setups.get(state, 0) + 1
            self.dirty.add(down)

    def update(self, row: Any, fresh: Any) -> None:
        """Take every column of ``fresh`` (a row read back) into ``row``."""
        for name in ti_queries.TI_ROW_COLUMNS:
            if name != "state":
                setattr(row, name, getattr(fresh, name))
        self.set_state(row, fresh.state)

    def _count_in(self, row: Any) -> None:
        entry = self.tally.setdefault(row.state, [0, 0])
        entry[0] += 1
        entry[1] += row.id
        if row.state in VOLATILE:
            self.volatile_ids.add(row.id)
        elif row.state == _SCHEDULED:
            self.scheduled[row.id] = row
            heapq.heappush(self._queue_order, (-row.priority_weight, row.id))

    def _count_out(self, row: Any) -> None:
        entry = self.tally[row.state]
        entry[0] -= 1
        entry[1] -= row.id
        if not entry[0]:
            del self.tally[row.state]
        self.volatile_ids.discard(row.id)
        self.scheduled.pop(row.id, None)

    def fingerprint(self) -> dict[str, tuple[int, int]]:
        return {state: (n, total) for state, (n, total) in self.tally.items()}


# ---------------------------------------------------------------------- one step's reading
class RunRowsMemory:
    """The :class:`RunRows` of every running run, refreshed once per step by :meth:`rows_for`."""

    def __init__(self) -> None:
        self._kept: dict[int, RunRows] = {}
        #: Full reads and incremental refreshes so far (the benchmarks and tests read them).
        self.full_reads = 0
        self.refreshes = 0

    def forget(self, run: DagRun) -> None:
        self._kept.pop(run.id, None)

    def clear(self) -> None:
        """Drop every memory (a step failed half-way: what it remembered may not be committed)."""
        self._kept.clear()

    def rows_for(self, session: Session, runs: list[DagRun], snaps: dict[int, DagSnapshot]) -> dict[int, RunRows]:
        """run row id -> its current :class:`RunRows`, for the runs that have a snapshot."""
        live = {run.id for run in runs}
        for run_id in [k for k in self._kept if k not in live]:
            del self._kept[run_id]
        out: dict[int, RunRows] = {}
        to_check: list[tuple[DagRun, RunRows]] = []
        to_read: list[tuple[DagRun, DagSnapshot]] = []
        for run in runs:
            snap = snaps.get(run.dag_version_id)  # type: ignore[arg-type]
            if snap is None:
                continue
            kept = self._kept.get(run.id)
            if (kept is not None and not kept.stale and kept.snap is snap
                    and kept.clear_number == run.clear_number and kept.version_id == run.dag_version_id):
                to_check.append((run, kept))
            else:
                to_read.append((run, snap))
        for run, kept in to_check:
            out[run.id] = kept
        to_read.extend((run, kept.snap) for run, kept in self._refresh(session, to_check))
        if to_read:
            self.full_reads += len(to_read)
            by_run: dict[tuple[str, str], list[Any]] = {(r.dag_id, r.run_id): [] for r, _ in to_read}
            for row in ti_queries.ti_rows_for_runs(session, list(by_run)):
                by_run[(row.dag_id, row.run_id)].append(TiRow(*row))
            for run, snap in to_read:
                rows = RunRows(run, snap, by_run[(run.dag_id, run.run_id)])
                out[run.id] = rows
                if rows.incremental:
                    self._kept[run.id] = rows
                else:
                    self._kept.pop(run.id, None)
        return out

    def _refresh(self, session: Session, kept: list[tuple[DagRun, RunRows]]) -> list[tuple[DagRun, RunRows]]:
        """Bring the kept memories up to date; returns those that must be read in full."""
        if not kept:
            return []
        self.refreshes += len(kept)
        keys = [rows.run_key for _, rows in kept]
        by_key = {rows.run_key: rows for _, rows in kept}
        seen: set[int] = set()
        failed: set[tuple[str, str]] = set()
        for fresh in ti_queries.ti_rows_in_states(session, keys, VOLATILE):
            rows = by_key[(fresh.dag_id, fresh.run_id)]
            row = rows.by_id.get(fresh.id)
            if row is None:
                failed.add(rows.run_key)  # an instance this memory never saw
                continue
            seen.add(fresh.id)
            rows.update(row, fresh)
        gone = {row_id: rows for rows in by_key.values() for row_id in rows.volatile_ids if row_id not in seen}
        if gone:
            for fresh in ti_queries.ti_rows_by_ids(session, list(gone)):
                rows = gone.pop(fresh.id)
                rows.update(rows.by_id[fresh.id], fresh)
            failed.update(rows.run_key for rows in gone.values())  # deleted meanwhile
        prints = ti_queries.state_tallies(session, keys)
        out = []
        for run, rows in kept:
            if rows.run_key in failed or rows.fingerprint() != prints.get(rows.run_key, {}):
                self._kept.pop(run.id, None)
                out.append((run, rows))
        return out
