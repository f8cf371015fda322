"""The step over running runs: time out, decide, finish and queue, in one transaction; then
hand the queued tries to the executor and emit the DAG callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import auto_pause, setup_teardown, transitions
from tradewind.schedule.callbacks import DagCallbackRequest
from tradewind.schedule.decide import Decider
from tradewind.schedule.run_rows import RunRows, RunRowsMemory, TiRow
from tradewind.schedule.executor_interface import TaskKey
from tradewind.schedule.handover import ExecutorHandOver
from tradewind.schedule.queueing import Queuer
from tradewind.schedule.step_context import StepContext
from tradewind.states import DagRunState

log = logging.getLogger(__name__)

RUN = DagRunState


class RunningRuns:
    """Drives every running run (in scope) forward by one step."""

    def __init__(self, ctx: StepContext, handover: ExecutorHandOver,
                 callback_sink: Callable[[DagCallbackRequest], None] | None) -> None:
        self.ctx = ctx
        self.handover = handover
        self.callback_sink = callback_sink
        self.decider = Decider(ctx)
        self.queuer = Queuer(ctx)
        self.memory = RunRowsMemory()

    def step(self, now: datetime) -> bool:
        """Decide, finish and queue for every running run, in one transaction; then hand over.

        Task instances are light rows (:class:`~tradewind.schedule.run_rows.TiRow`) that the
        scheduler keeps between steps and refreshes by what changed
        (:class:`~tradewind.schedule.run_rows.RunRowsMemory`); only the ones a decision changes are
        loaded as ORM objects and written.
        """
        ctx = self.ctx
        callbacks: list[DagCallbackRequest] = []
        kills: list[TaskKey] = []
        try:
            with ctx.session() as session:
                runs = session.scalars(
                    ctx.scoped(select(DagRun).where(DagRun.state == RUN.RUNNING.value), DagRun).with_for_update(
                        skip_locked=True
                    )
                ).all()
                if not runs:
                    self.memory.clear()
                    return False
                snaps = ctx.snapshot_map(session, [ctx.pin_version(session, r) for r in runs])
                rows_by_run = self.memory.rows_for(session, list(runs), snaps)
                changed = False
                live: list[tuple[DagRun, RunRows]] = []
                for run in runs:
                    rows = rows_by_run.get(run.id)
                    if rows is None:
                        continue
                    snap = rows.snap
                    if self._timed_out(session, run, snap, rows.rows, now, kills, callbacks):
                        self.memory.forget(run)
                        changed = True
                        continue
                    changed = self.decider.decide(session, run, snap, rows, now) or changed
                    if self._finish_if_done(session, run, snap, rows, now, callbacks):
                        self.memory.forget(run)
                        changed = True
                    else:
                        live.append((run, rows))
                workloads = self.queuer.queue_ready(session, live, now, self.handover.resting(now))
        except BaseException:
            self.memory.clear()  # what this step remembered may not have been committed
            raise
        for key in kills:
            ctx.executor.kill(key)
        self.handover.hand_over(workloads)
        self._emit(callbacks)
        return changed or bool(workloads)

    def _timed_out(self, session: Session, run: DagRun, snap: DagSnapshot, tis: list[TiRow], now: datetime,
                   kills: list[TaskKey], callbacks: list[DagCallbackRequest]) -> bool:
        timeout = snap.dagrun_timeout_td
        if timeout is None or run.start_date is None:
            return False
        deadline = run.start_date + timeout
        if now < deadline:
            self.ctx.deadlines.append(deadline)
            return False
        objects = ti_queries.tis_by_ids(session, [t.id for t in tis]).values()
        for ti in transitions.time_out_run(session, run, objects, now):
            kills.append(TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number))
        self._callback(snap, run, success=False, reason="timed_out", out=callbacks)
        auto_pause.pause_if_failing(session, run.dag_id, auto_pause.consecutive_failure_limit(snap, self.ctx.config),
                                    now=now)
        return True

    def _finish_if_done(self, session: Session, run: DagRun, snap: DagSnapshot, rows: RunRows, now: datetime,
                        callbacks: list[DagCallbackRequest]) -> bool:
        """All instances finished: the run fails if any outcome leaf failed/upstream_failed (Airflow;
        teardowns count only with on_failure_fail_dagrun), else succeeds. A failed run may pause
        the DAG (max_consecutive_failed_dag_runs)."""
        if rows.unfinished():
            return False
        success = not setup_teardown.failed_outcome_leaves(snap, ((ti.task_id, ti.state) for ti in rows.rows))
        transitions.finish_run(session, run, RUN.SUCCESS if success else RUN.FAILED, now)
        self.decider.forget_run(run)
        self._callback(snap, run, success=success, reason="success" if success else "task_failure", out=callbacks)
        if not success:
            auto_pause.pause_if_failing(session, run.dag_id,
                                        auto_pause.consecutive_failure_limit(snap, self.ctx.config), now=now)
        return True

    def _callback(self, snap: DagSnapshot, run: DagRun, *, success: bool, reason: str,
                  out: list[DagCallbackRequest]) -> None:
        name = "on_success_callback" if success else "on_failure_callback"
        if self.callback_sink is not None and name in snap.callbacks:
            out.append(DagCallbackRequest(run.dag_id, run.run_id, snap.fileloc, success, reason))

    def _emit(self, callbacks: list[DagCallbackRequest]) -> None:
        for request in callbacks:
            try:
                self.callback_sink(request)  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - a callback problem must not stop scheduling
                log.exception("callback sink failed for %s/%s", request.dag_id, request.run_id)
