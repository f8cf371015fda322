"""The scheduler's job row -- registered at start, heartbeating, ended at stop -- and the
adoption of what dead schedulers left queued.

A scheduler is dead when its job has not heartbeat for ``[scheduler]
scheduler_health_check_threshold`` (30 s, as in Airflow), or, on this host, when its process
is gone. Every ``threshold / 2`` (and right when another scheduler's heartbeat would turn
stale), a live scheduler marks dead ones ``failed`` and puts the instances they queued
(``task_instance.queued_by_job_id``) back to scheduled with their try number kept, so they are
queued again within the threshold plus one loop step instead of after ``task_queued_timeout``.
A late copy of the old message then finds its try not queued, or claimed by the new one:
claims are atomic. Running instances are left alone: a try outlives the scheduler that queued
it, and its own heartbeat (the zombie check) tells whether it lives.

At start the same adoption runs for the scheduler's previous self; a scheduler alone on its
database (no other live scheduler, on SQLite as on PostgreSQL) takes back every queued
instance it does not hold, as only a dead scheduler can have queued them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.persist.models import Job, TaskInstance
from tradewind.persist.queries import jobs as job_queries
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import transitions
from tradewind.schedule.executor_interface import TaskKey
from tradewind.schedule.step_context import StepContext
from tradewind.states import TaskInstanceState

log = logging.getLogger(__name__)

JOB_TYPE = "scheduler"
TI = TaskInstanceState


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SchedulerJob:
    """One scheduler's job row and its adoption of dead schedulers' queued instances."""

    def __init__(self, ctx: StepContext, hostname: str) -> None:
        self.ctx = ctx
        self.hostname = hostname
        self.threshold = timedelta(seconds=ctx.config.getfloat("scheduler", "scheduler_health_check_threshold"))
        self.heartbeat_every = timedelta(seconds=max(ctx.config.heartbeat_interval, 1.0))
        self._next_heartbeat: datetime | None = None
        self._next_adoption: datetime | None = None

    @property
    def job_id(self) -> int | None:
        return self.ctx.job_id

    # ------------------------------------------------------------------ life cycle
    def start(self, now: datetime) -> None:
        """Register the job; adopt what a previous scheduler (this one before a restart, or a
        dead other) left queued."""
        with self.ctx.session() as session:
            self.ctx.job_id = job_queries.start_job(session, JOB_TYPE, self.hostname, os.getpid(), now).id
            # No other live scheduler: whatever is queued was queued by a dead one (or our previous self).
            alone = not self._other_live_scheduler(session, now)
            self.adopt(session, now, alone=alone, note="re-queued after scheduler restart")
        self._next_adoption = now + self.threshold / 2

    def heartbeat(self, now: datetime, problems: Callable[[], list[str]]) -> None:
        """Refresh the job's heartbeat and its helpers' ``problems()`` (at most every
        ``task_heartbeat_interval``, 1 s at least).
        A job another scheduler declared dead is registered anew: this one lives after all."""
        if self.ctx.job_id is None or (self._next_heartbeat is not None and now < self._next_heartbeat):
            return
        with self.ctx.session() as session:
            if not job_queries.job_heartbeat(session, self.ctx.job_id, now, problems=problems()):
                old = self.ctx.job_id
                self.ctx.job_id = job_queries.start_job(session, JOB_TYPE, self.hostname, os.getpid(), now).id
                log.warning("scheduler job %s was declared dead (no heartbeat for %gs); going on as job %s",
                            old, self.threshold.total_seconds(), self.ctx.job_id)
        self._next_heartbeat = now + self.heartbeat_every

    def end(self) -> None:
        if self.ctx.job_id is None:
            return
        try:
            with self.ctx.session() as session:
                job_queries.end_job(session, self.ctx.job_id, self.ctx.clock())
        except Exception:  # noqa: BLE001 - shutting down; the stale heartbeat tells the story
            log.exception("could not mark scheduler job %s ended", self.ctx.job_id)

    # ------------------------------------------------------------------ adoption
    def step(self, now: datetime) -> bool:
        """Adopt dead schedulers' queued instances, when due. ``dags test`` (``only_run``)
        leaves other schedulers alone."""
        if self.ctx.only_run is not None or self.ctx.job_id is None:
            return False
        if self._next_adoption is not None and now < self._next_adoption:
            self.ctx.deadlines.append(self._next_adoption)
            return False
        with self.ctx.session() as session:
            count = self.adopt(session, now, alone=False)
            self._next_adoption = self._next_check(session, now)
        self.ctx.deadlines.append(self._next_adoption)
        return count > 0

    def adopt(self, session: Session, now: datetime, *, alone: bool, note: str | None = None) -> int:
        """Mark dead scheduler jobs failed and put the instances orphaned in queued back to
        scheduled: those a finished or gone scheduler job queued, and -- ``alone`` -- every
        queued one. Tries this scheduler's executor holds are kept. Returns how many."""
        dead = self._fail_dead_jobs(session, now) if self.ctx.only_run is None else []
        if alone:
            stmt = select(TaskInstance).where(TaskInstance.state == TI.QUEUED.value)
        else:
            stmt = ti_queries.orphaned_queued_stmt(legacy_queued_before=now - self.threshold)
        stmt = self.ctx.scoped(stmt, TaskInstance).with_for_update(skip_locked=True)
        count = 0
        mine = None
        for ti in session.scalars(stmt).all():
            if mine is None:
                mine = self.ctx.executor.running_keys()
            if TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number) in mine:
                continue
            why = note or f"re-queued: scheduler job {ti.queued_by_job_id}, which queued it, stopped"
            count += transitions.unqueue_ti(session, ti, now, note=why)
        if dead or count:
            log.warning("adopted %d queued task instance(s) of dead scheduler job(s) %s", count,
                        ", ".join(map(str, dead)) or "(earlier ones)")
        return count

    def _fail_dead_jobs(self, session: Session, now: datetime) -> list[int]:
        """Running scheduler jobs other than this one that are dead, marked failed; their ids.
        Locked ``SKIP LOCKED``: of two live schedulers adopting at once, each takes its own."""
        jobs = session.scalars(
            select(Job).where(Job.job_type == JOB_TYPE, Job.state == job_queries.RUNNING, Job.id != self.ctx.job_id)
            .with_for_update(skip_locked=True)
        ).all()
        dead = [job.id for job in jobs if self._is_dead(job, now)]
        if dead:
            session.execute(update(Job).where(Job.id.in_(dead), Job.state == job_queries.RUNNING)
                            .values(state=job_queries.FAILED, end_date=now)
                            .execution_options(synchronize_session="fetch"))
        return dead

    def _is_dead(self, job: Job, now: datetime) -> bool:
        if job.latest_heartbeat <= now - self.threshold:
            return True
        return bool(job.hostname == self.hostname and job.pid and not pid_alive(job.pid))

    def _next_check(self, session: Session, now: datetime) -> datetime:
        """Every ``threshold / 2``, and as soon as another scheduler's heartbeat would turn stale."""
        soonest = session.scalar(select(Job.latest_heartbeat).where(
            Job.job_type == JOB_TYPE, Job.state == job_queries.RUNNING, Job.id != self.ctx.job_id,
        ).order_by(Job.latest_heartbeat).limit(1))
        regular = now + self.threshold / 2
        if soonest is None:
            return regular
        stale_at = soonest + self.threshold
        return stale_at if now < stale_at < regular else regular

    def _other_live_scheduler(self, session: Session, now: datetime) -> bool:
        """Another scheduler heartbeat within the threshold; one on this host whose process is gone does not count."""
        jobs = session.scalars(
            select(Job).where(
                Job.job_type == JOB_TYPE, Job.state == job_queries.RUNNING, Job.id != self.ctx.job_id,
                Job.latest_heartbeat > now - self.threshold,
            )
        ).all()
        return any(not self._is_dead(job, now) for job in jobs)
