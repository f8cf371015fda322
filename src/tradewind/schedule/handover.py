"""The executor boundary: hand committed queued tries to the executor, and apply the events
it gives back (a try whose process ended without recording an outcome).

An executor that refuses a workload -- with :class:`ExecutorUnavailable` (its broker is down)
or any other exception -- took nothing: the instance goes back to scheduled with its try
number kept and is queued again later. A refusal never fails a try: the try never started.
An executor that refuses rests for :data:`UNAVAILABLE_RETRY` (no work offered, one warning
per outage), so a broken executor is not asked again every step.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tradewind.schedule import transitions
from tradewind.schedule.executor_interface import EXIT_NOT_CLAIMED, ExecutorUnavailable, Workload
from tradewind.schedule.step_context import StepContext
from tradewind.states import RUNNING_TI_STATES

log = logging.getLogger(__name__)

#: How long an executor that refused a workload gets no work before it is offered some again.
UNAVAILABLE_RETRY = timedelta(seconds=5)
_ACTIVE = tuple(s.value for s in RUNNING_TI_STATES)


class ExecutorHandOver:
    """Hands workloads over and takes events back; remembers which executors rest."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        #: executor name (None: the default one) -> when to offer it work again after it
        #: refused a workload; not before, so a dead broker is not asked again every step.
        self._unavailable_until: dict[str | None, datetime] = {}
        #: Executors whose outage was logged; cleared when one takes a workload again.
        self._unavailable_logged: set[str | None] = set()

    def resting(self, now: datetime) -> set[str | None]:
        """Executors that refused a workload less than :data:`UNAVAILABLE_RETRY` ago: their
        tasks are not offered this step (in memory; nothing to read)."""
        if not self._unavailable_until:
            return set()
        for name, until in list(self._unavailable_until.items()):
            if until <= now:
                del self._unavailable_until[name]
            else:
                self.ctx.deadlines.append(until)
        return set(self._unavailable_until)

    def hand_over(self, workloads: list[Workload]) -> None:
        """Give committed queued tries to the executor.

        The first refusal by an executor (any exception) ends this step's offers to it: that
        instance and the rest of this step's instances for the same executor go back to
        scheduled with their try number kept, and the executor rests.
        """
        refused: dict[str | None, Exception] = {}
        returned: list[Workload] = []
        executor = self.ctx.executor
        for workload in workloads:
            if workload.executor in refused:
                returned.append(workload)
                continue
            try:
                executor.queue_workload(workload)
            except Exception as exc:  # noqa: BLE001 - an executor problem must not stop the loop
                refused[workload.executor] = exc
                returned.append(workload)
                continue
            if workload.executor in self._unavailable_logged:
                self._unavailable_logged.discard(workload.executor)
                log.warning("executor %s takes work again", workload.executor or executor.name)
        if refused:
            self._return_unsent(returned, refused)

    def _return_unsent(self, returned: list[Workload], refused: dict[str | None, Exception]) -> None:
        """Put tries no executor took back to scheduled (same try number) and rest those executors."""
        now = self.ctx.clock()
        with self.ctx.session() as session:
            for workload in returned:
                ti = transitions.get_ti(session, workload.key)
                if ti is None or ti.try_number != workload.key.try_number:
                    continue
                exc = refused[workload.executor]
                what = "executor unavailable" if isinstance(exc, ExecutorUnavailable) else "executor refused it"
                transitions.unqueue_ti(session, ti, now, note=f"{what}, queued again later: {_describe(exc)}")
        for name, exc in refused.items():
            if name not in self._unavailable_logged:  # one warning per outage, not one per step
                self._unavailable_logged.add(name)
                unavailable = isinstance(exc, ExecutorUnavailable)
                log.warning("executor %s %s (%s); its tasks go back to scheduled and are offered again in %gs",
                            name or self.ctx.executor.name, "is unavailable" if unavailable else "refused a task",
                            _describe(exc), UNAVAILABLE_RETRY.total_seconds(), exc_info=None if unavailable else exc)
            self._unavailable_until[name] = now + UNAVAILABLE_RETRY
            self.ctx.deadlines.append(now + UNAVAILABLE_RETRY)

    def apply_events(self) -> bool:
        """A try whose process ended without recording an outcome is failed (with retries)."""
        events = self.ctx.executor.collect_events()
        if not events:
            return False
        # A process that claimed nothing never ran the try: whoever did claim it (e.g. an orphan
        # of a killed scheduler) records the outcome; failing the instance here would run it twice.
        unrecorded = [e for e in events if not e.recorded and e.return_code != EXIT_NOT_CLAIMED]
        if unrecorded:
            now = self.ctx.clock()
            with self.ctx.session() as session:
                for event in unrecorded:
                    ti = transitions.get_ti(session, event.key)
                    if ti is None or ti.try_number != event.key.try_number or ti.state not in _ACTIVE:
                        continue  # the runner recorded it after all, or the instance moved on
                    reason = f"process exited with code {event.return_code}"
                    if event.info:
                        reason += f": {event.info}"
                    transitions.fail_zombie(session, ti, task=self.ctx.task_of(session, ti), now=now, reason=reason)
        return True


def _describe(exc: Exception) -> str:
    """``ExecutorUnavailable`` speaks for itself; other errors are named by their type."""
    return str(exc) if isinstance(exc, ExecutorUnavailable) else f"{type(exc).__name__}: {exc}"
