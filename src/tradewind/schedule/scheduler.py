"""The scheduler loop: short steps, each in its own transaction.

One :meth:`Scheduler.run_once` does, in order:

1. apply executor events (a try whose process died without recording -> failed/retry)
   (:mod:`~tradewind.schedule.handover`);
2. create due runs (timetables, backfills, assets) and start queued runs within
   ``max_active_runs``, creating their task instances (:mod:`~tradewind.schedule.create_runs`);
3. for running runs (:mod:`~tradewind.schedule.running_runs`): time out (``dagrun_timeout``),
   decide each instance (:mod:`~tradewind.schedule.decide`: trigger rules, skip/upstream_failed
   propagation, retry delay, depends_on_past), finish the run when everything is done, and queue
   ready instances (:mod:`~tradewind.schedule.queueing`: priority, executor slots, pools,
   ``max_active_tasks``, ``parallelism``), handing :class:`Workload`s to the executor after commit;
4. every so often (:mod:`~tradewind.schedule.health`): fail zombies (running instances without
   a heartbeat), put instances queued longer than ``[scheduler] task_queued_timeout`` back to
   scheduled (a broker lost them), time out deferred instances' triggers;
5. heartbeat this scheduler's job (:mod:`~tradewind.schedule.scheduler_job`), which also --
   every so often, right after step 1 -- adopts the queued instances of schedulers that
   stopped heartbeating.

:meth:`run_forever` is event-driven: it waits on the executor's waker until the
next known deadline (retry, next run, heartbeat check), at most
``[scheduler] max_idle_wait``; a finished task wakes it at once, and so does a run
triggered by another process (:func:`tradewind.schedule.wakeup.notify_scheduler`).

Several schedulers may share a PostgreSQL database: runs, zombie candidates and stuck queued
instances are selected with ``FOR UPDATE SKIP LOCKED``, the queueing step's limit accounting
runs under a lock on the pool rows (one scheduler at a time), and every try is claimed
atomically by the runner.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from tradewind.config import Config
from tradewind.persist.db import Database, utcnow
from tradewind.schedule.callbacks import DagCallbackRequest
from tradewind.schedule.create_runs import RunCreation
from tradewind.schedule.executor_interface import BaseExecutor
from tradewind.schedule.handover import UNAVAILABLE_RETRY, ExecutorHandOver
from tradewind.schedule.health import HealthChecks
from tradewind.schedule.queueing import CRITICAL_SECTION_RETRY
from tradewind.schedule.running_runs import RunningRuns
from tradewind.schedule.scheduler_job import JOB_TYPE, SchedulerJob
from tradewind.schedule.step_context import StepContext
from tradewind.schedule.wakeup import WakeListener
from tradewind.states import DagRunState

__all__ = ["CRITICAL_SECTION_RETRY", "JOB_TYPE", "UNAVAILABLE_RETRY", "Scheduler"]

log = logging.getLogger(__name__)

RUN = DagRunState


class Scheduler:
    """Decides what runs when; the executor runs it. See the module docstring."""

    def __init__(
        self,
        config: Config,
        db: Database,
        executor: BaseExecutor,
        *,
        clock: Callable[[], datetime] | None = None,
        callback_sink: Callable[[DagCallbackRequest], None] | None = None,
        only_run: tuple[str, str] | None = None,
        health_probes: list[Callable[[], str | None]] | None = None,
    ) -> None:
        """``only_run=(dag_id, run_id)`` limits the scheduler to that one run (``dags test``):
        no runs are created from timetables and no other run or try is touched.

        ``health_probes``: callables naming a problem of a helper this scheduler's process
        supervises besides its executor's (a DAG processor child), or None while it is healthy;
        stored with every job heartbeat."""
        self.config = config
        self.db = db
        self.executor = executor
        self.clock = clock or utcnow
        self.callback_sink = callback_sink
        self.waker = executor.waker
        self.only_run = only_run
        self.health_probes = list(health_probes or ())
        self.max_idle_wait = config.getfloat("scheduler", "max_idle_wait")
        self.hostname = config.get("core", "hostname") or socket.gethostname()
        self.ctx = StepContext(config, db, executor, self.clock, only_run)
        self.job = SchedulerJob(self.ctx, self.hostname)
        self.handover = ExecutorHandOver(self.ctx)
        self.run_creation = RunCreation(self.ctx)
        self.running_runs = RunningRuns(self.ctx, self.handover, callback_sink)
        self.health = HealthChecks(self.ctx)
        self._started = False

    @property
    def job_id(self) -> int | None:
        """This scheduler's job row, once the first step registered it."""
        return self.ctx.job_id

    @property
    def heartbeat_timeout(self) -> timedelta:
        return self.health.heartbeat_timeout

    @property
    def _deadlines(self) -> list[datetime]:
        return self.ctx.deadlines

    def close(self) -> None:
        """Release the database connection; for callers that drive :meth:`run_once` themselves
        (the pytest plugin's simulator). ``run_forever`` releases it on its own."""
        self.ctx.close_connection()

    # ------------------------------------------------------------------ the loop
    def run_once(self) -> bool:
        """One loop step. True if it changed anything (so the caller loops again at once)."""
        now = self.clock()
        self.ctx.deadlines.clear()
        if not self._started:
            self.job.start(now)
            self._started = True
        did = self.handover.apply_events()
        did = self.job.step(now) or did  # first: adopted instances are queued again in this step
        created, states = self.run_creation.step(now)
        did = created or did
        if RUN.RUNNING.value in states:
            did = self.running_runs.step(now) or did
        did = self.health.step(now) or did
        self.job.heartbeat(now, self.helper_problems)
        return did

    def run_forever(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; starts and finally ends the executor.

        Also listens for wake-ups from other processes (:mod:`tradewind.schedule.wakeup`),
        so a run triggered elsewhere starts without waiting out ``max_idle_wait``.
        """
        self.executor.start()
        listener = WakeListener(self.db, self.waker) if self.only_run is None else None
        if listener is not None:
            listener.start()
        try:
            while not stop.is_set():
                try:
                    did = self.run_once()
                except OperationalError as exc:  # database busy/unreachable: retry after a pause
                    log.warning("scheduler step failed, retrying: %s", exc)
                    did = False
                if did:
                    continue
                self.waker.wait(self._idle_timeout())
        finally:
            if listener is not None:
                listener.close()
            self.job.end()
            self.ctx.close_connection()
            self.executor.end(wait=True)

    def _idle_timeout(self) -> float:
        now = self.clock()
        waits = [(d - now).total_seconds() for d in self.ctx.deadlines]
        return max(0.0, min([self.max_idle_wait, *waits]))

    def helper_problems(self) -> list[str]:
        """What is wrong with the helpers this scheduler depends on (its executor's fork server,
        the probes' helpers); empty while all are healthy."""
        problems = list(self.executor.helper_problems())
        for probe in self.health_probes:
            problem = probe()
            if problem:
                problems.append(problem)
        return problems
