"""The triggerer: runs the triggers of deferred task instances, all in one asyncio event loop.

A deferred task holds no process and no worker slot; what it waits for is a row in the
``trigger`` table. :class:`TriggererRunner` is the component that waits on its behalf:

* a **job** row of type ``triggerer`` that heartbeats every ``[triggerer] job_heartbeat_sec``;
* every ~second (or at once when a trigger fires) one step, :meth:`TriggererRunner.run_once`:
  apply the events and failures of triggers that finished (deferred -> scheduled through
  :mod:`~tradewind.schedule.transitions`, the trigger row deleted, the scheduler woken);
  delete triggers nobody waits on any more (their instance was cleared, marked or timed
  out); take unassigned triggers and those of triggerers whose heartbeat is older than
  ``[triggerer] triggerer_health_check_threshold``, up to ``[triggerer] capacity``; start the
  new ones, cancel those no longer assigned here;
* the triggers themselves run as tasks of one event loop in one thread
  (``tradewind-triggerer-loop``): a thousand sleeping triggers cost no process and no thread.

Only the first event of a trigger counts (the task resumes once). A trigger that raises, or
ends without an event, or cannot be rebuilt from its row, fails its task instance the way
Airflow does: the instance is scheduled to run ``__fail__`` and its resumed try raises
``TaskDeferralError`` (retries and callbacks apply). Trigger *timeouts* are the
scheduler's job (:func:`~tradewind.schedule.transitions.time_out_deferred`).

:func:`run_deferred_inline` runs the triggers of one run's deferred instances in the calling
thread, for ``dags test`` (Airflow's ``dags test`` does the same, with no triggerer running).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from tradewind.definition.triggers.base import (
    TRIGGER_FAILURE,
    BaseTrigger,
    TriggerEvent,
    encode_value,
    load_trigger,
)
from tradewind.execute.asset_watching import WatcherEvent, record_watcher_events, watch
from tradewind.execute.dagrun_state_db import use_database
from tradewind.persist.db import Database, utcnow
from tradewind.persist.models import TaskInstance, Trigger
from tradewind.persist.queries import jobs as job_queries
from tradewind.persist.queries import triggers as trigger_queries
from tradewind.persist.queries.asset_watchers import dormant_watchers
from tradewind.schedule import transitions
from tradewind.schedule.wakeup import notify_scheduler
from tradewind.states import TaskInstanceState

log = logging.getLogger(__name__)

JOB_TYPE = trigger_queries.TRIGGERER_JOB_TYPE


class TriggererLoopDied(RuntimeError):
    """The event loop thread running the triggers ended while the triggerer was not stopping."""


@dataclass(frozen=True)
class TriggerOutcome:
    """How one trigger ended: an event (payload in storage form) or a failure."""

    trigger_id: int
    payload: Any = None
    error: str | None = None
    traceback: list[str] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class WaitingInstance:
    """The deferred instance a trigger runs for (``trigger.task_instance``), for logs."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int

    def __str__(self) -> str:
        index = "" if self.map_index < 0 else f"[{self.map_index}]"
        return f"{self.dag_id}.{self.task_id}{index} of run {self.run_id}"


def _failure(trigger_id: int, what: str, exc: BaseException) -> TriggerOutcome:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return TriggerOutcome(trigger_id, error=f"{TRIGGER_FAILURE}: {what}: {type(exc).__name__}: {exc}",
                          traceback=lines)


async def first_outcome(trigger_id: int, trigger: BaseTrigger) -> TriggerOutcome:
    """Run ``trigger`` until its first event (or failure); always runs its ``cleanup``.

    Cancellation (the trigger is no longer ours, or the triggerer stops) propagates.
    """
    gen = trigger.run()
    try:
        try:
            event = await gen.__anext__()
        except StopAsyncIteration:
            return TriggerOutcome(trigger_id, error=f"{TRIGGER_FAILURE}: the trigger ended without an event")
        if not isinstance(event, TriggerEvent):
            return TriggerOutcome(trigger_id, error=f"{TRIGGER_FAILURE}: the trigger yielded "
                                  f"{type(event).__name__}, not a TriggerEvent")
        try:
            return TriggerOutcome(trigger_id, payload=encode_value(event.payload, "the event's payload"))
        except TypeError as exc:
            return _failure(trigger_id, "its event cannot be stored", exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - trigger code may raise anything; the task fails with it
        return _failure(trigger_id, "the trigger raised", exc)
    finally:
        try:
            await gen.aclose()
        except Exception:  # noqa: BLE001
            log.warning("closing trigger %s failed", trigger_id, exc_info=True)
        try:
            await trigger.cleanup()
        except Exception:  # noqa: BLE001 - a cleanup error must not hide the outcome
            log.warning("cleanup of trigger %s failed", trigger_id, exc_info=True)


def build_trigger(row: Any) -> BaseTrigger | TriggerOutcome:
    """The trigger of a ``trigger_rows`` row, or the failure outcome when it cannot be rebuilt."""
    try:
        trigger = load_trigger(row.classpath, row.kwargs)
    except Exception as exc:  # noqa: BLE001 - a bad classpath/kwargs fails that task only
        return _failure(row.id, f"cannot load {row.classpath}", exc)
    trigger.trigger_id = row.id
    if row.dag_id is not None:
        trigger.task_instance = WaitingInstance(row.dag_id, row.run_id, row.task_id, row.map_index)
    return trigger


def apply_outcomes(db: Database, outcomes: Iterable[TriggerOutcome], now: datetime) -> int:
    """Resume (event) or fail (failure) the instances waiting on finished triggers, in one
    transaction; delete those triggers; wake the scheduler. Returns how many instances moved."""
    events = {o.trigger_id: o.payload for o in outcomes if not o.failed}
    failures = {o.trigger_id: (o.error, o.traceback) for o in outcomes if o.failed}
    if not events and not failures:
        return 0
    with db.session_scope() as session:
        moved = transitions.resume_from_trigger_events(session, events, now) if events else []
        failed = transitions.fail_deferred(session, failures, now) if failures else []  # type: ignore[arg-type]
    for ti in moved:
        log.info("Trigger fired: %s.%s of run %s resumes", ti.dag_id, ti.task_id, ti.run_id)
    for ti in failed:
        log.error("Trigger failed: %s.%s of run %s: %s", ti.dag_id, ti.task_id, ti.run_id,
                  (ti.next_kwargs or {}).get("error"))
    if moved or failed:
        notify_scheduler(db)
    return len(moved) + len(failed)


class TriggererRunner:
    """Runs the triggers assigned to this triggerer (see the module docstring).

    ``start()`` registers the job and starts the event loop thread; ``run_once()`` is one
    step (tests drive it directly); ``run_forever(stop)`` loops until ``stop`` is set and
    then ``close()``s: triggers cancelled and handed back, the job ended.
    """

    def __init__(self, config: Any, db: Database, *, capacity: int | None = None,
                 clock: Callable[[], datetime] | None = None, poll_interval: float = 1.0,
                 health_probes: list[Callable[[], str | None]] | None = None) -> None:
        """``health_probes``: callables naming a problem of this triggerer (its supervisor's
        restart policy: crash-looping), or None; stored with every job heartbeat."""
        self.config = config
        self.db = db
        use_database(db)  # the triggers that read runs' states (TriggerDagRunOperator deferrable)
        self.capacity = capacity if capacity is not None else config.getint("triggerer", "capacity")
        if self.capacity < 1:
            raise ValueError(f"[triggerer] capacity must be at least 1, got {self.capacity}")
        self.clock = clock or utcnow
        self.poll_interval = poll_interval
        self.heartbeat_every = timedelta(seconds=config.getfloat("triggerer", "job_heartbeat_sec"))
        self.health_threshold = timedelta(seconds=config.getfloat("triggerer", "triggerer_health_check_threshold"))
        self.hostname = config.get("core", "hostname") or socket.gethostname()
        self.job_id: int | None = None
        #: Trigger ids handed to the loop whose outcome has not been applied yet (main thread only).
        self.running: set[int] = set()
        self._outcomes: collections.deque[TriggerOutcome] = collections.deque()
        self._wake = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}  # event-loop thread only
        self._next_heartbeat: datetime | None = None
        self.health_probes = list(health_probes or ())
        #: Why the event loop thread ended on its own (a trigger raised SystemExit, say).
        self._loop_error: str | None = None
        #: Asset watchers (execute/asset_watching.py): their events, and when stale rows are next pruned.
        self._watcher_events: collections.deque[WatcherEvent] = collections.deque()
        self._next_watcher_prune: datetime | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Register the job, start the event loop thread; helper modules in the DAG folders
        (where custom triggers often live) become importable, as for the task runner."""
        for folder in self.config.dag_folders():
            if str(folder) not in sys.path:
                sys.path.append(str(folder))
        from tradewind.compat import install as install_airflow_shims

        install_airflow_shims()  # a provider's trigger (airflow.providers...) imports Airflow's core: Tradewind's
        now = self.clock()
        with self.db.session_scope() as session:
            self.job_id = job_queries.start_job(session, JOB_TYPE, self.hostname, os.getpid(), now).id
        self._next_heartbeat = now + self.heartbeat_every
        self._outcomes.clear()
        self._loop_error = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop_main, name="tradewind-triggerer-loop", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Make a waiting :meth:`run_forever` step now (e.g. to notice a stop request)."""
        self._wake.set()

    def run_forever(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set, then :meth:`close`. A failed step (a database hiccup) is
        retried; if the event loop thread died, this raises :class:`TriggererLoopDied` after
        handing the triggers back, and the supervisor starts it again (a new job)."""
        if self.job_id is None:
            self.start()
        failed = False
        try:
            while not stop.is_set():
                self.check_loop()
                try:
                    self.run_once()
                except Exception:  # noqa: BLE001 - database hiccup: try again next step
                    log.exception("triggerer step failed; retrying")
                self._wake.wait(self.poll_interval)
                self._wake.clear()
        except BaseException:
            failed = True
            raise
        finally:
            self.close(failed=failed)

    def check_loop(self) -> None:
        """Raise :class:`TriggererLoopDied` if the event loop thread is no longer running."""
        thread = self._thread
        if thread is not None and not thread.is_alive():
            raise TriggererLoopDied(f"the triggerer's event loop thread ended: {self._loop_error or 'it stopped'}")

    def close(self, *, failed: bool = False) -> None:
        """Cancel every trigger, stop the loop, apply outcomes already in, hand the rest back;
        the job ends ``failed`` if ``failed`` (the runner is being restarted after an error)."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            if thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._loop = self._thread = None
        if self.job_id is None:
            return
        try:
            self._apply(self.clock())
            with self.db.session_scope() as session:
                trigger_queries.release(session, self.job_id)
                job_queries.end_job(session, self.job_id, self.clock(),
                                    job_queries.FAILED if failed else job_queries.SUCCESS)
        except Exception:  # noqa: BLE001 - shutting down; another triggerer takes over after the threshold
            log.exception("could not hand back the triggers of triggerer job %s", self.job_id)
        self.running.clear()
        self.job_id = None

    # ---------------------------------------------------------------- one step
    def run_once(self) -> bool:
        """Apply finished triggers, heartbeat, pick up/cancel triggers. True if an instance moved."""
        if self.job_id is None:
            raise RuntimeError("TriggererRunner.start() must be called before run_once()")
        now = self.clock()
        moved = self._apply(now)
        self._heartbeat(now)
        self._sync(now)
        return moved > 0

    def _apply(self, now: datetime) -> int:
        outcomes = []
        while self._outcomes:
            outcomes.append(self._outcomes.popleft())
        for outcome in outcomes:
            self.running.discard(outcome.trigger_id)
        watched = []
        while self._watcher_events:
            watched.append(self._watcher_events.popleft())
        if watched:
            try:
                record_watcher_events(self.db, watched, now)
            except Exception:
                # A database hiccup must not lose the events: they are recorded at the next step.
                self._watcher_events.extendleft(reversed(watched))
                raise
        return apply_outcomes(self.db, outcomes, now) if outcomes else 0

    def _heartbeat(self, now: datetime) -> None:
        if self._next_heartbeat is not None and now < self._next_heartbeat:
            return
        with self.db.session_scope() as session:
            job_queries.job_heartbeat(session, self.job_id, now,  # type: ignore[arg-type]
                                      problems=[p for p in (probe() for probe in self.health_probes) if p])
        self._next_heartbeat = now + self.heartbeat_every

    def _sync(self, now: datetime) -> None:
        """Take what is ours now; start new triggers, cancel the ones taken from us.

        Idle (nothing running, no trigger row at all) it is one read, not a write transaction each
        second: on SQLite a write would queue for the lock with the tries' transactions."""
        if not self.running:
            with self.db.read_scope() as session:
                if not trigger_queries.any_trigger(session):
                    return
        with self.db.session_scope() as session:
            self._prune_watchers(session, now)
            trigger_queries.delete_unused(session)
            alive = trigger_queries.alive_triggerer_ids(session, now, self.health_threshold)
            free = self.capacity - trigger_queries.count_for_triggerer(session, self.job_id)  # type: ignore[arg-type]
            trigger_queries.assign_unassigned(session, self.job_id, free, alive)  # type: ignore[arg-type]
            mine = trigger_queries.ids_for_triggerer(session, self.job_id)  # type: ignore[arg-type]
            mine -= dormant_watchers(session, self.job_id)  # type: ignore[arg-type]  # all consumers paused
            rows = trigger_queries.trigger_rows(session, mine - self.running)
        gone = self.running - mine
        if gone:
            self.running -= gone
            self._call_in_loop(self._cancel, sorted(gone))
        started = []
        watchers = []
        for row in rows:
            if row.dag_id is None and row.classpath == trigger_queries.WATCHER_CLASSPATH:
                self.running.add(row.id)
                watchers.append((row.id, row.kwargs))
                continue
            if row.dag_id is None:
                continue  # nobody waits on it (any more); delete_unused removes it
            trigger = build_trigger(row)
            self.running.add(row.id)
            if isinstance(trigger, TriggerOutcome):
                self._report(trigger)
            else:
                started.append((row.id, trigger))
        if started:
            log.info("Starting %d trigger(s) (%d running)", len(started), len(self.running))
            self._call_in_loop(self._start_triggers, started)
        if watchers:
            self._call_in_loop(self._start_watchers, watchers)

    def _prune_watchers(self, session: Any, now: datetime) -> None:
        """Every 30 s, drop the watchers no active DAG declares any more (a deleted DAG file)."""
        if self._next_watcher_prune is not None and now < self._next_watcher_prune:
            return
        from tradewind.persist.queries.asset_watchers import prune_asset_watchers

        prune_asset_watchers(session)
        self._next_watcher_prune = now + timedelta(seconds=30)

    # ------------------------------------------------------------- event loop side
    def _call_in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            raise RuntimeError("the triggerer's event loop is not running")
        self._loop.call_soon_threadsafe(fn, *args)

    def _report(self, outcome: TriggerOutcome) -> None:
        """Hand an outcome to the main thread (deque appends are thread-safe) and wake it."""
        self._outcomes.append(outcome)
        self._wake.set()

    def _start_triggers(self, items: list[tuple[int, BaseTrigger]]) -> None:
        for trigger_id, trigger in items:
            if trigger_id not in self._tasks:
                self._tasks[trigger_id] = asyncio.ensure_future(self._run_trigger(trigger_id, trigger))

    def _start_watchers(self, items: list[tuple[int, Any]]) -> None:
        for trigger_id, kwargs in items:
            if trigger_id not in self._tasks:
                self._tasks[trigger_id] = asyncio.ensure_future(self._run_watcher(trigger_id, kwargs))

    async def _run_watcher(self, trigger_id: int, kwargs: Any) -> None:
        try:
            await watch(trigger_id, kwargs, self._report_watcher_event)
        finally:
            self._tasks.pop(trigger_id, None)

    def _report_watcher_event(self, event: WatcherEvent) -> None:
        self._watcher_events.append(event)
        self._wake.set()

    def _cancel(self, ids: list[int]) -> None:
        for trigger_id in ids:
            task = self._tasks.pop(trigger_id, None)
            if task is not None:
                task.cancel()

    async def _run_trigger(self, trigger_id: int, trigger: BaseTrigger) -> None:
        try:
            self._report(await first_outcome(trigger_id, trigger))
        finally:
            self._tasks.pop(trigger_id, None)

    def _loop_main(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        except BaseException as exc:  # SystemExit from a trigger, say: reported by check_loop
            self._loop_error = f"{type(exc).__name__}: {exc}"
            self._wake.set()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._tasks.clear()


# ------------------------------------------------------------------ dags test
def run_deferred_inline(db: Database, dag_id: str, run_id: str, *,
                        clock: Callable[[], datetime] = utcnow) -> bool:
    """Run the triggers of the run's deferred instances in this thread until one of them
    fires, fails, or the earliest ``trigger_timeout`` passes; record that (as the triggerer
    and the scheduler would). False when no instance of the run is deferred.

    For ``dags test``: Airflow's runs deferred tasks' triggers inline too, so a deferrable
    DAG completes without a triggerer.
    """
    use_database(db)  # the triggers that read runs' states (TriggerDagRunOperator deferrable)
    ti = TaskInstance
    with db.read_scope() as session:
        rows = session.execute(
            select(Trigger.id, Trigger.classpath, Trigger.kwargs, ti.dag_id, ti.run_id, ti.task_id, ti.map_index,
                   ti.trigger_timeout)
            .join(ti, ti.trigger_id == Trigger.id)
            .where(ti.dag_id == dag_id, ti.run_id == run_id, ti.state == TaskInstanceState.DEFERRED.value)
        ).all()
    if not rows:
        return False
    now = clock()
    deadlines = [r.trigger_timeout for r in rows if r.trigger_timeout is not None]
    earliest = min(deadlines) if deadlines else None
    outcomes: list[TriggerOutcome] = []
    if earliest is None or earliest > now:
        triggers = []
        for row in rows:
            built = build_trigger(row)
            (outcomes.append if isinstance(built, TriggerOutcome) else triggers.append)(built)  # type: ignore[arg-type]
        if triggers and not outcomes:
            wait = (earliest - now).total_seconds() if earliest is not None else None
            outcomes = asyncio.run(_first_outcomes(triggers, wait))
    if outcomes:
        apply_outcomes(db, outcomes, clock())
    else:
        with db.session_scope() as session:
            transitions.time_out_deferred(session, clock(), only_run=(dag_id, run_id))
    return True


async def _first_outcomes(triggers: list[BaseTrigger], wait: float | None) -> list[TriggerOutcome]:
    """The outcomes of the triggers that finish first (within ``wait`` seconds); the others
    are cancelled (they start again on the next call, from their stored kwargs)."""
    tasks = [asyncio.ensure_future(first_outcome(t.trigger_id, t)) for t in triggers]  # type: ignore[arg-type]
    done, pending = await asyncio.wait(tasks, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return [task.result() for task in done]
