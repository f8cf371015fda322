"""The step over running runs: time out, decide, finish and queue, in one transaction; then
hand the queued tries to the executor and emit the DAG callbacks."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import auto_pause, setup_teardown, transitions
from tradewind.schedule.callbacks import DagCallbackRequest
from tradewind.schedule.decide import Decider, TiRow
from tradewind.schedule.executor_interface import TaskKey
from tradewind.schedule.handover import ExecutorHandOver
from tradewind.schedule.queueing import Queuer
from tradewind.schedule.step_context import StepContext
from tradewind.states import FINISHED_TI_STATES, DagRunState

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

    def step(self, now: datetime) -> bool:
        """Decide, finish and queue for every running run, in one transaction; then hand over.

        Task instances are read as light rows (:class:`~tradewind.schedule.decide.TiRow`); only
        the ones a decision changes are loaded as ORM objects and written -- in a wide run most
        instances stay as they are in a step, and building objects for all of them dominated it.
        """
        ctx = self.ctx
        callbacks: list[DagCallbackRequest] = []
        kills: list[TaskKey] = []
        with ctx.session() as session:
            runs = session.scalars(
                ctx.scoped(select(DagRun).where(DagRun.state == RUN.RUNNING.value), DagRun).with_for_update(
                    skip_locked=True
                )
            ).all()
            if not runs:
                return False
            snaps = ctx.snapshot_map(session, [ctx.pin_version(session, r) for r in runs])
            tis_by_run: dict[tuple[str, str], list[TiRow]] = defaultdict(list)
            for row in ti_queries.ti_rows_for_runs(session, [(r.dag_id, r.run_id) for r in runs]):
                tis_by_run[(row.dag_id, row.run_id)].append(TiRow(*row))
            changed = False
            live: list[tuple[DagRun, DagSnapshot]] = []
            for run in runs:
                snap = snaps.get(run.dag_version_id)  # type: ignore[arg-type]
                if snap is None:
                    continue
                tis = tis_by_run[(run.dag_id, run.run_id)]
                if self._timed_out(session, run, snap, tis, now, kills, callbacks):
                    changed = True
                    continue
                changed = self.decider.decide(session, run, snap, tis, now) or changed
                if self._finish_if_done(session, run, snap, tis, now, callbacks):
                    changed = True
                else:
                    live.append((run, snap))
            workloads = self.queuer.queue_ready(session, live, tis_by_run, now, self.handover.resting(now))
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

    def _finish_if_done(self, session: Session, run: DagRun, snap: DagSnapshot, tis: list[TiRow], now: datetime,
                        callbacks: list[DagCallbackRequest]) -> bool:
        """All instances finished: the run fails if any outcome leaf failed/upstream_failed (Airflow;
        teardowns count only with on_failure_fail_dagrun), else succeeds. A failed run may pause
        the DAG (max_consecutive_failed_dag_runs)."""
        if any(ti.state not in FINISHED_TI_STATES for ti in tis):
            return False
        success = not setup_teardown.failed_outcome_leaves(snap, ((ti.task_id, ti.state) for ti in tis))
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
