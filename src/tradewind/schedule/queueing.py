"""The queueing step: scheduled instances become queued tries, by priority, within every limit
(executor slots, ``max_tis_per_query``, ``parallelism``, pools, ``max_active_tasks``, the
task's own concurrency limits), with backfills held to their fair share.

Several schedulers sharing a PostgreSQL database count and queue one at a time: the step's
limit accounting runs under a lock on the pool rows (Airflow's critical section).
"""

from __future__ import annotations

import logging
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun, Pool
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import deps, transitions
from tradewind.schedule.backfill import fair_share_order
from tradewind.schedule.run_rows import RunRows, TiRow
from tradewind.schedule.executor_interface import TaskKey, Workload
from tradewind.schedule.step_context import StepContext
from tradewind.states import TaskInstanceState

log = logging.getLogger(__name__)

TI = TaskInstanceState
#: How soon a scheduler that found the pool rows locked by another one tries to queue again.
CRITICAL_SECTION_RETRY = timedelta(milliseconds=50)


@dataclass(slots=True)
class QueueCandidate:
    """A scheduled instance that may be queued this step. Candidates come by priority (highest
    weight first), then their run's logical date (or run_after), then instance id."""

    row: TiRow
    rows: RunRows
    backfill: bool

    @property
    def ti_id(self) -> int:
        return self.row.id

    @property
    def snap(self) -> DagSnapshot:
        return self.rows.snap

    @property
    def task(self) -> Any:
        return self.snap.tasks[self.row.task_id]


@dataclass(slots=True)
class _Usage:
    """Slots in use as the step counts them: instances per DAG, free pool slots, and per task."""

    total: int
    per_dag: dict[str, int]
    pools: dict[str, int]
    per_task: dict[tuple[str, str], int]
    per_run_task: dict[tuple[str, str, str], int]

    def refuses(self, c: QueueCandidate) -> bool:
        """A limit other than parallelism keeps this candidate waiting."""
        ti = c.row
        return bool(
            deps.dag_concurrency_allows(ti.dag_id, self.per_dag.get(ti.dag_id, 0), c.snap.max_active_tasks)
            or deps.pool_has_slots(ti.pool, ti.pool_slots, self.pools)
            or deps.task_concurrency_allows(c.task, self.per_task.get((ti.dag_id, ti.task_id), 0),
                                            self.per_run_task.get((ti.dag_id, ti.run_id, ti.task_id), 0)))

    def take(self, ti: TiRow) -> None:
        self.total += 1
        self.per_dag[ti.dag_id] = self.per_dag.get(ti.dag_id, 0) + 1
        self.pools[ti.pool] -= ti.pool_slots
        key = (ti.dag_id, ti.task_id)
        self.per_task[key] = self.per_task.get(key, 0) + 1
        run_key = (ti.dag_id, ti.run_id, ti.task_id)
        self.per_run_task[run_key] = self.per_run_task.get(run_key, 0) + 1


class Queuer:
    """Queues ready instances and builds their workloads (handed over after the commit)."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.parallelism = ctx.config.parallelism
        self.max_tis_per_loop = ctx.config.getint("scheduler", "max_tis_per_query")

    def candidates(self, session: Session, live: list[tuple[DagRun, RunRows]],
                   resting: set[str | None]) -> tuple[Iterator[QueueCandidate], int]:
        """Scheduled instances of live runs, lazily in queueing order, and how many of them belong
        to runs that are not backfills; none of a paused DAG's runs (backfills excepted) and none
        for an executor that rests."""
        streams = []
        live_waiting = 0
        paused = self.ctx.paused_dag_ids(session)
        for run, rows in live:
            if not rows.scheduled:
                continue
            backfill = run.backfill_id is not None
            if run.dag_id in paused and not backfill:
                continue  # pausing freezes a running run: nothing new starts, running tries finish
            if not backfill:
                live_waiting += len(rows.scheduled)
            streams.append(self._stream(run, rows, backfill, resting))
        return (c for *_, c in heapq.merge(*streams)), live_waiting

    @staticmethod
    def _stream(run: DagRun, rows: RunRows, backfill: bool,
                resting: set[str | None]) -> Iterator[tuple[int, datetime, int, QueueCandidate]]:
        order = run.logical_date or run.run_after
        snap = rows.snap
        for ti in rows.scheduled_in_order():
            task = snap.tasks.get(ti.task_id)
            if task is None or (resting and getattr(task, "executor", None) in resting):
                continue
            yield -ti.priority_weight, order, ti.id, QueueCandidate(ti, rows, backfill)

    def queue_ready(self, session: Session, live: list[tuple[DagRun, RunRows]], now: datetime,
                    resting: set[str | None]) -> list[Workload]:
        """Queue scheduled instances by priority within every limit; returns their workloads.

        Fair share: while other runs' instances wait, backfill instances are offered only part
        of the free slots first (:func:`~tradewind.schedule.backfill.fair_share_order`).
        Only as many candidates are looked at as it takes to fill the free slots (plus those a
        limit refuses), so a run with 10,000 scheduled instances costs a step O(k log n).
        """
        if not any(rows.scheduled for _, rows in live):
            return []
        if not self.ctx.db.is_sqlite and not self._enter_critical_section(session, now):
            return []
        budget = min(self.ctx.executor.slots_available(), self.max_tis_per_loop)
        per_dag, pools = deps.active_usage(session)
        total = sum(per_dag.values())
        free = min(budget, max(self.parallelism - total, 0))
        if free <= 0:
            return []
        candidates, live_waiting = self.candidates(session, live, resting)
        per_task, per_run_task = deps.task_active_counts(
            session, {(run.dag_id, task_id) for run, rows in live for task_id in rows.limited_tasks})
        usage = _Usage(total, per_dag, pools, per_task, per_run_task)
        chosen: list[QueueCandidate] = []
        try:
            for c in fair_share_order(candidates, free, lambda c: c.backfill, live_waiting=live_waiting):
                if budget <= 0 or deps.parallelism_allows(usage.total, self.parallelism):
                    break
                if usage.refuses(c):
                    continue
                chosen.append(c)
                budget -= 1
                usage.take(c.row)
            return self._queue(session, chosen, now)
        finally:
            for _, rows in live:
                rows.restore()

    def _queue(self, session: Session, chosen: list[QueueCandidate], now: datetime) -> list[Workload]:
        objects = ti_queries.tis_by_ids(session, [c.ti_id for c in chosen])
        workloads = []
        for c in chosen:
            ti = objects.get(c.ti_id)
            if ti is None or ti.state != TI.SCHEDULED.value:
                continue  # moved by someone else since the rows were read
            try_number = transitions.queue_ti(session, ti, now, queued_by_job_id=self.ctx.job_id)
            c.row.try_number = try_number
            c.rows.set_state(c.row, ti.state)
            task = c.task
            workloads.append(Workload(
                key=TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, try_number),
                fileloc=c.snap.fileloc, environ=dict(self.ctx.environ), priority_weight=ti.priority_weight,
                pool=ti.pool, queue=ti.queue, execution_timeout=task.execution_timeout,
                executor=getattr(task, "executor", None), snapshot_hash=self.ctx.hashes.get(ti.dag_version_id),
            ))
        return workloads

    def _enter_critical_section(self, session: Session, now: datetime) -> bool:
        """PostgreSQL: lock the pool rows (``FOR UPDATE NOWAIT``) so that schedulers sharing the
        database count active instances and queue against pool/parallelism/concurrency limits one
        at a time (Airflow's critical section) -- each sees the instances the previous one queued.

        The lock is held until this step's transaction commits. When another scheduler holds it,
        this step queues nothing rather than wait (its decisions so far are kept: the attempt runs
        in a savepoint) and the scheduler looks again shortly.
        """
        try:
            with session.begin_nested():
                session.execute(select(Pool.pool).with_for_update(nowait=True)).all()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            log.debug("pool rows locked by another scheduler; queueing in the next step")
            self.ctx.deadlines.append(now + CRITICAL_SECTION_RETRY)
            return False
        return True
