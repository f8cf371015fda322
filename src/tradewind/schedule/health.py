"""The health step: tries that outlived their process or their message, checked every so often
(not every loop step), each check one short transaction.

- zombies: running instances without a heartbeat for ``task_instance_heartbeat_timeout`` fail
  (with retries);
- queued timeout: instances queued longer than ``[scheduler] task_queued_timeout`` go back to
  scheduled (a broker lost the message, a worker died before starting the try);
- trigger timeouts: deferred instances whose trigger timed out are scheduled to fail.

Candidates are selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so schedulers sharing a
database never both act on one instance. Dead schedulers' instances: see
:mod:`tradewind.schedule.scheduler_job`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import transitions
from tradewind.schedule.executor_interface import TaskKey
from tradewind.schedule.step_context import StepContext

log = logging.getLogger(__name__)


class _Every:
    """A check due every ``interval``: the first call is due at once."""

    def __init__(self, interval: timedelta) -> None:
        self.interval = interval
        self.next_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        if self.next_at is not None and now < self.next_at:
            return False
        self.next_at = now + self.interval
        return True


class HealthChecks:
    """Zombie, queued-timeout and trigger-timeout checks, each on its own interval."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        config = ctx.config
        self.heartbeat_timeout: timedelta = config.heartbeat_timeout
        self.task_queued_timeout = timedelta(seconds=config.getfloat("scheduler", "task_queued_timeout"))
        self._zombies = _Every(min(self.heartbeat_timeout / 2, timedelta(seconds=5)))
        self._queued = _Every(min(self.task_queued_timeout / 2, timedelta(seconds=30)))
        self._triggers = _Every(timedelta(seconds=config.getfloat("scheduler", "trigger_timeout_check_interval")))

    def step(self, now: datetime) -> bool:
        did = self.check_zombies(now)
        did = self.check_queued_timeouts(now) or did
        return self.check_trigger_timeouts(now) or did

    def check_trigger_timeouts(self, now: datetime) -> bool:
        """Deferred instances whose trigger timed out are scheduled to fail (TaskDeferralTimeout).

        One UPDATE-by-query every ``[scheduler] trigger_timeout_check_interval`` seconds, not
        every step: a timeout is noticed that much late at most (Airflow checks as seldom).
        """
        if not self._triggers.due(now):
            return False
        with self.ctx.session() as session:
            count = transitions.time_out_deferred(session, now, only_run=self.ctx.only_run)
        if count:
            log.info("%d deferred task instance(s) timed out waiting for their trigger", count)
        return count > 0

    def check_queued_timeouts(self, now: datetime) -> bool:
        """Instances queued longer than ``[scheduler] task_queued_timeout`` go back to scheduled,
        to be queued again with the same try number and a fresh workload (Airflow 3 re-queues
        tasks stuck in queued too): a broker that lost the message, or a worker that died before
        starting the try, does not leave the instance queued forever.

        Safe against duplicates: the unqueue is conditional on the instance still being queued
        for that try, and a late copy of the old message finds the try claimed by the new one (or
        not queued) and runs nothing -- claims are atomic. Tries the executor still holds here
        (``running_keys``) are left alone: they are not lost, only waiting.

        Checked every ``min(task_queued_timeout / 2, 30 s)``, not every step.
        """
        if not self._queued.due(now):
            self.ctx.deadlines.append(self._queued.next_at)  # type: ignore[arg-type]
            return False
        timeout = self.task_queued_timeout.total_seconds()
        note = f"re-queued: queued for more than task_queued_timeout={timeout:g}s without a worker starting it"
        count = 0
        with self.ctx.session() as session:
            mine = None
            for ti in ti_queries.stuck_queued(session, now - self.task_queued_timeout):
                if not self.ctx.in_scope(ti.dag_id, ti.run_id):
                    continue
                if mine is None:
                    mine = self.ctx.executor.running_keys()
                if TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number) in mine:
                    continue
                count += transitions.unqueue_ti(session, ti, now, note=note)
        if count:
            log.warning("%d task instance(s) queued for more than task_queued_timeout=%gs went back to "
                        "scheduled to be queued again", count, timeout)
        return count > 0

    def check_zombies(self, now: datetime) -> bool:
        """Running instances without a heartbeat for ``heartbeat_timeout`` fail (with retries)."""
        if not self._zombies.due(now):
            self.ctx.deadlines.append(self._zombies.next_at)  # type: ignore[arg-type]
            return False
        cutoff = now - self.heartbeat_timeout
        found = []
        with self.ctx.session() as session:
            for ti in ti_queries.stale_running(session, cutoff):
                if not self.ctx.in_scope(ti.dag_id, ti.run_id):
                    continue
                seen = ti.last_heartbeat_at.isoformat() if ti.last_heartbeat_at else "never"
                reason = (
                    f"zombie: no heartbeat since {seen} "
                    f"(task_instance_heartbeat_timeout={self.heartbeat_timeout.total_seconds():g}s)"
                )
                key = TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
                transitions.fail_zombie(session, ti, task=self.ctx.task_of(session, ti), now=now, reason=reason)
                found.append(key)
        for key in found:
            self.ctx.executor.kill(key)
        return bool(found)
