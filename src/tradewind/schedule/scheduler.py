"""The scheduler loop: short steps, each in its own transaction.

One :meth:`Scheduler.run_once` does, in order:

1. apply executor events (a try whose process died without recording -> failed/retry);
2. create due scheduled runs from each DAG's timetable;
3. start queued runs (``max_active_runs``), creating their task instances;
4. for running runs: time out (``dagrun_timeout``), decide each instance
   (trigger rules, skip/upstream_failed propagation, retry delay,
   depends_on_past), finish the run when everything is done, and queue ready
   instances (priority, executor slots, pools, ``max_active_tasks``,
   ``parallelism``), handing :class:`Workload`s to the executor after commit;
5. fail zombies (running instances without a heartbeat) and, every so often, put instances
   queued longer than ``[scheduler] task_queued_timeout`` back to scheduled (a broker lost them).

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
import os
import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, exists, literal_column, select, union
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from tradewind.config import Config
from tradewind.schedule.executor_interface import (
    EXIT_NOT_CLAIMED, BaseExecutor, ExecutorUnavailable, TaskKey, Workload)
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.db import READ_ONLY, Database, utcnow
from tradewind.persist.models import Backfill, DagModel, DagRun, DagVersion, Job, Pool, TaskInstance
from tradewind.persist.queries import assets as asset_queries
from tradewind.persist.queries import jobs as job_queries
from tradewind.persist.queries import runs as run_queries
from tradewind.persist.queries import task_instances as ti_queries
from tradewind.schedule import auto_pause, deps, mapping, setup_teardown, transitions
from tradewind.schedule.assets import AssetRunStep
from tradewind.schedule.backfill import fair_share_order, step_backfills
from tradewind.schedule.callbacks import DagCallbackRequest
from tradewind.schedule.runs import create_scheduled_runs, start_run
from tradewind.schedule.wakeup import WakeListener
from tradewind.states import FINISHED_TI_STATES, DagRunState, TaskInstanceState

log = logging.getLogger(__name__)

TI = TaskInstanceState
RUN = DagRunState
JOB_TYPE = "scheduler"
#: States the decision step looks at (scheduled ones are already decided, waiting for a slot).
_UNDECIDED = (TI.NONE.value, TI.UP_FOR_RETRY.value, TI.UP_FOR_RESCHEDULE.value)
_ACTIVE = (TI.QUEUED.value, TI.RUNNING.value)
_PENDING_RUNS = (RUN.QUEUED.value, RUN.RUNNING.value)
#: Marker the survey returns beside run states when a backfill is running (its step is then due).
_BACKFILL_ACTIVE = "backfill"
#: Marker the survey returns when an unpaused DAG has queued asset events (the asset step is then due).
_ASSETS_QUEUED = "assets"
#: How long an executor that raised ExecutorUnavailable gets no work before it is offered some again.
UNAVAILABLE_RETRY = timedelta(seconds=5)
#: How soon a scheduler that found the pool rows locked by another one tries to queue again.
CRITICAL_SECTION_RETRY = timedelta(milliseconds=50)


@cache
def _stmt(name: str) -> Any:
    """The scheduler's every-step reads, built once on the tables (no ORM compile step):
    an idle or busy step runs them each time it wakes."""
    dag, run = DagModel.__table__, DagRun.__table__
    if name == "paused":
        return select(dag.c.dag_id).where(dag.c.is_paused.is_(True))
    if name == "schedulable_dags":
        return select(dag.c.dag_id, dag.c.latest_version_id, dag.c.next_dagrun_create_after).where(
            dag.c.is_active.is_(True), dag.c.is_paused.is_(False), dag.c.latest_version_id.is_not(None))
    pending = select(run.c.state).where(run.c.state.in_(_PENDING_RUNS)).distinct()
    if name == "pending_runs":
        # Piggybacked on the same read: whether any backfill is running (no extra query per step).
        backfill = Backfill.__table__
        running = exists().where(backfill.c.completed_at.is_(None), backfill.c.is_paused.is_(False))
        queued = exists().where(*asset_queries.QUEUED_FOR_UNPAUSED)
        return union(pending, select(literal_column(f"'{_BACKFILL_ACTIVE}'")).where(running),
                     select(literal_column(f"'{_ASSETS_QUEUED}'")).where(queued))
    if name == "pending_run":
        return pending.where(run.c.dag_id == bindparam("p_dag_id"), run.c.run_id == bindparam("p_run_id"))
    raise KeyError(name)


@dataclass(slots=True)
class _TiRow:
    """A task instance as one scheduler step reads it (the columns of
    :data:`~tradewind.persist.queries.task_instances.TI_ROW_COLUMNS`, in that order).
    ``state`` is kept current as the step moves the instance."""

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        self.parallelism = config.parallelism
        self.max_tis_per_loop = config.getint("scheduler", "max_tis_per_query")
        self.max_map_length = config.getint("core", "max_map_length")
        self.max_idle_wait = config.getfloat("scheduler", "max_idle_wait")
        self.heartbeat_timeout: timedelta = config.heartbeat_timeout
        self.hostname = config.get("core", "hostname") or socket.gethostname()
        self.job_id: int | None = None
        self._environ = config.as_environ()
        self._snapshots: dict[int, DagSnapshot] = {}
        #: DAG version id -> its snapshot hash (workloads carry it; a remote worker checks it).
        self._hashes: dict[int, str] = {}
        #: dag_id -> DAG version whose timetable was evaluated (re-evaluate on a new version).
        self._evaluated: dict[str, int] = {}
        self._recovered = False
        self._next_zombie_check: datetime | None = None
        self.task_queued_timeout = timedelta(seconds=config.getfloat("scheduler", "task_queued_timeout"))
        self._next_queued_timeout_check: datetime | None = None
        #: executor name (None: the default one) -> when to offer it work again after it
        #: raised ExecutorUnavailable (its broker was down); not before, so a dead broker is
        #: not asked again every step.
        self._unavailable_until: dict[str | None, datetime] = {}
        #: Executors whose outage was logged; cleared when one takes a workload again.
        self._unavailable_logged: set[str | None] = set()
        self._next_trigger_timeout_check: datetime | None = None
        self.trigger_timeout_check_interval = timedelta(
            seconds=config.getfloat("scheduler", "trigger_timeout_check_interval"))
        self._next_job_heartbeat: datetime | None = None
        self._deadlines: list[datetime] = []
        self._conn: Connection | None = None
        self.only_run = only_run
        self.health_probes = list(health_probes or ())
        self._asset_runs = AssetRunStep()
        #: run row id -> (its clear_number, mapped task ids whose input was counted since that clear).
        self._counted_since_clear: dict[int, tuple[int, set[str]]] = {}

    # ------------------------------------------------------------- transactions
    @contextmanager
    def _session(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction, committed on exit (like ``db.session_scope``).

        On SQLite the scheduler keeps one connection open for its lifetime:
        opening and closing a connection per step costs milliseconds (the last
        close of a WAL database checkpoints it), which is most of the latency
        between one task ending and the next starting.

        ``read_only``: a check that writes nothing (``db.read_scope``): on SQLite it does
        not queue for the write lock behind the try processes' transactions.
        """
        if not self.db.is_sqlite:
            with (self.db.read_scope() if read_only else self.db.session_scope()) as session:
                yield session
            return
        if self._conn is None:
            self._conn = self.db.engine.connect()
        self._conn.execution_options(**{READ_ONLY: read_only})  # in place: read by the BEGIN hook
        session = Session(bind=self._conn, expire_on_commit=False)
        try:
            yield session
            if read_only:
                session.rollback()
            else:
                session.commit()
        except BaseException as exc:
            session.rollback()
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                self._close_connection()
            raise
        finally:
            session.close()

    def _close_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        """Release the database connection; for callers that drive :meth:`run_once` themselves
        (the pytest plugin's simulator). ``run_forever`` releases it on its own."""
        self._close_connection()

    # ------------------------------------------------------------------ the loop
    def run_once(self) -> bool:
        """One loop step. True if it changed anything (so the caller loops again at once)."""
        now = self.clock()
        self._deadlines = []
        if not self._recovered:
            self._recover(now)
        did = self._apply_executor_events()
        due, states = self._survey(now)
        if due and self._create_due_runs(now):
            did = True
            states.add(RUN.QUEUED.value)
        if _BACKFILL_ACTIVE in states and self._step_backfills(now):
            did = True
            states.add(RUN.QUEUED.value)
        if _ASSETS_QUEUED in states and self._create_asset_runs(now):
            did = True
            states.add(RUN.QUEUED.value)
        if RUN.QUEUED.value in states and self._start_queued_runs(now):
            did = True
            states.add(RUN.RUNNING.value)
        if RUN.RUNNING.value in states:
            did = self._process_running_runs(now) or did
        did = self._check_zombies(now) or did
        did = self._check_queued_timeouts(now) or did
        did = self._check_trigger_timeouts(now) or did
        self._heartbeat_job(now)
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
            self._end_job()
            self._close_connection()
            self.executor.end(wait=True)

    def _idle_timeout(self) -> float:
        now = self.clock()
        waits = [(d - now).total_seconds() for d in self._deadlines]
        return max(0.0, min([self.max_idle_wait, *waits]))

    # ------------------------------------------------------------------ snapshots
    def _snapshot_map(self, session: Session, version_ids: Iterable[int | None]) -> dict[int, DagSnapshot]:
        """Snapshots by DAG version id, loading the uncached ones in one query (versions are immutable)."""
        wanted = {v for v in version_ids if v is not None}
        missing = wanted - self._snapshots.keys()
        if missing:
            rows = session.execute(select(DagVersion.id, DagVersion.snapshot, DagVersion.snapshot_hash)
                                   .where(DagVersion.id.in_(missing)))
            for vid, data, digest in rows:
                self._snapshots[vid] = DagSnapshot.from_dict(data)
                self._hashes[vid] = digest
        return {v: self._snapshots[v] for v in wanted if v in self._snapshots}

    def _snapshot(self, session: Session, version_id: int | None) -> DagSnapshot | None:
        return self._snapshot_map(session, [version_id]).get(version_id) if version_id is not None else None

    def _pin_version(self, session: Session, run: DagRun) -> int | None:
        """A run without a version is pinned to its DAG's latest one."""
        if run.dag_version_id is None:
            dag = session.get(DagModel, run.dag_id)
            run.dag_version_id = dag.latest_version_id if dag is not None else None
        return run.dag_version_id

    # ------------------------------------------------------------------ start-up
    def _recover(self, now: datetime) -> None:
        """Register the job; hand back tries a previous scheduler queued but nobody claimed.

        Such a try goes back to scheduled with its try number restored, so it is
        re-queued with the *same* number; running tries are left to the heartbeat check.
        With another live scheduler (PostgreSQL), only tries queued longer than the
        heartbeat timeout are taken back, as the other one may still be starting them.
        """
        with self._session() as session:
            job = job_queries.start_job(session, JOB_TYPE, self.hostname, os.getpid(), now)
            self.job_id = job.id
            # SQLite means one machine and, in practice, one scheduler: everything queued is ours.
            others = False if self.db.is_sqlite else self._other_live_scheduler(session, job.id, now)
            q = self._scoped(select(TaskInstance).where(TaskInstance.state == TI.QUEUED.value), TaskInstance)
            if others:
                q = q.where(TaskInstance.queued_dttm < now - self.heartbeat_timeout)
            mine = self.executor.running_keys()
            for ti in session.scalars(q).all():
                key = TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
                if key not in mine:
                    transitions.unqueue_ti(session, ti, now, note="re-queued after scheduler restart")
        self._recovered = True

    def _paused_dag_ids(self, session: Session) -> set[str]:
        """Paused DAGs, whose runs do not progress; ``only_run`` (``dags test``) ignores pausing."""
        if self.only_run is not None:
            return set()
        return set(session.scalars(_stmt("paused")))

    def _scoped(self, stmt: Any, model: Any) -> Any:
        """Restrict a run or task-instance query to ``only_run`` when set."""
        if self.only_run is None:
            return stmt
        dag_id, run_id = self.only_run
        return stmt.where(model.dag_id == dag_id, model.run_id == run_id)

    def _other_live_scheduler(self, session: Session, my_job_id: int, now: datetime) -> bool:
        """Another scheduler heartbeat recently; one on this host whose process is gone does not count."""
        jobs = session.scalars(
            select(Job).where(
                Job.job_type == JOB_TYPE, Job.state == job_queries.RUNNING, Job.id != my_job_id,
                Job.latest_heartbeat >= now - self.heartbeat_timeout,
            )
        ).all()
        return any(not (job.hostname == self.hostname and job.pid and not _pid_alive(job.pid)) for job in jobs)

    def _heartbeat_job(self, now: datetime) -> None:
        if self.job_id is None or (self._next_job_heartbeat is not None and now < self._next_job_heartbeat):
            return
        with self._session() as session:
            job_queries.job_heartbeat(session, self.job_id, now, problems=self.helper_problems())
        self._next_job_heartbeat = now + timedelta(seconds=max(self.config.heartbeat_interval, 1.0))

    def helper_problems(self) -> list[str]:
        """What is wrong with the helpers this scheduler depends on (its executor's fork server,
        the probes' helpers); empty while all are healthy."""
        problems = list(self.executor.helper_problems())
        for probe in self.health_probes:
            problem = probe()
            if problem:
                problems.append(problem)
        return problems

    def _end_job(self) -> None:
        if self.job_id is None:
            return
        try:
            with self._session() as session:
                job_queries.end_job(session, self.job_id, self.clock())
        except Exception:  # noqa: BLE001 - shutting down; the stale heartbeat tells the story
            log.exception("could not mark scheduler job %s ended", self.job_id)

    # ------------------------------------------------------------ executor events
    def _apply_executor_events(self) -> bool:
        """A try whose process ended without recording an outcome is failed (with retries)."""
        events = self.executor.collect_events()
        if not events:
            return False
        # A process that claimed nothing never ran the try: whoever did claim it (e.g. an orphan
        # of a killed scheduler) records the outcome; failing the instance here would run it twice.
        unrecorded = [e for e in events if not e.recorded and e.return_code != EXIT_NOT_CLAIMED]
        if unrecorded:
            now = self.clock()
            with self._session() as session:
                for event in unrecorded:
                    ti = transitions.get_ti(session, event.key)
                    if ti is None or ti.try_number != event.key.try_number or ti.state not in _ACTIVE:
                        continue  # the runner recorded it after all, or the instance moved on
                    snap = self._snapshot(session, ti.dag_version_id)
                    task = snap.tasks.get(ti.task_id) if snap else None
                    reason = f"process exited with code {event.return_code}"
                    if event.info:
                        reason += f": {event.info}"
                    transitions.fail_zombie(session, ti, task=task, now=now, reason=reason)
        return True

    # ------------------------------------------------------------------ runs
    def _survey(self, now: datetime) -> tuple[bool, set[str]]:
        """One read-only look (no write lock) at what this step has to do: whether a DAG may
        have a run to create now, and which of queued/running runs (in scope) exist."""
        with self._session(read_only=True) as session:
            due = self.only_run is None and not self._nothing_due(session, now)
            if self.only_run is None:
                states = session.scalars(_stmt("pending_runs"))
            else:
                dag_id, run_id = self.only_run
                states = session.scalars(_stmt("pending_run"), {"p_dag_id": dag_id, "p_run_id": run_id})
            states = set(states)
        return due, states

    def _nothing_due(self, session: Session, now: datetime) -> bool:
        """No DAG has a run to create now (notes the next creation time)."""
        rows = session.execute(_stmt("schedulable_dags")).all()
        for dag_id, version_id, after in rows:
            if self._evaluated.get(dag_id) != version_id or (after is not None and after <= now):
                return False
        self._deadlines.extend(after for _, _, after in rows if after is not None)
        return True

    def _create_asset_runs(self, now: datetime) -> bool:
        """Asset-triggered runs for DAGs whose asset condition holds (:mod:`tradewind.schedule.assets`).

        The survey saw queued events; a read-only look at the queue's summary first skips
        the write transaction when nothing changed since the last evaluation (e.g. an
        ``AssetAll`` still waiting for its other assets).
        """
        if self.only_run is not None:
            return False
        with self._session(read_only=True) as session:
            if not self._asset_runs.pending(session):
                return False
        with self._session() as session:
            runs = self._asset_runs.create_runs(session, now, lambda ids: self._snapshot_map(session, ids))
        return bool(runs)

    def _create_due_runs(self, now: datetime) -> bool:
        """Create scheduled runs for unpaused DAGs whose next run is due (or not yet computed)."""
        with self._session() as session:
            dags = session.scalars(
                select(DagModel).where(
                    DagModel.is_active.is_(True), DagModel.is_paused.is_(False), DagModel.latest_version_id.is_not(None)
                )
            ).all()
            due = []
            for dag in dags:
                after = dag.next_dagrun_create_after
                if self._evaluated.get(dag.dag_id) != dag.latest_version_id or (after is not None and after <= now):
                    due.append(dag)
                elif after is not None:
                    self._deadlines.append(after)
            if not due:
                return False
            counts = run_queries.run_counts_by_state(session, exclude_backfill=True)
            created = 0
            snaps = self._snapshot_map(session, [d.latest_version_id for d in due])
            for dag in due:
                snap = snaps.get(dag.latest_version_id)  # type: ignore[arg-type]
                if snap is None:
                    continue
                active = counts.get((dag.dag_id, RUN.QUEUED.value), 0) + counts.get((dag.dag_id, RUN.RUNNING.value), 0)
                runs = create_scheduled_runs(session, dag, snap, dag.latest_version_id, now=now, active_runs=active)
                created += len(runs)
                self._evaluated[dag.dag_id] = dag.latest_version_id  # type: ignore[assignment]
                if dag.next_dagrun_create_after is not None and dag.next_dagrun_create_after > now:
                    self._deadlines.append(dag.next_dagrun_create_after)
        return created > 0

    def _step_backfills(self, now: datetime) -> bool:
        """Create the next runs of running backfills (:func:`~tradewind.schedule.backfill.step_backfills`);
        only called when the survey saw a running backfill."""
        with self._session() as session:
            return bool(step_backfills(session, now))

    def _start_queued_runs(self, now: datetime) -> bool:
        """queued -> running for runs whose run_after has come, within max_active_runs.

        A backfill's runs are limited by the backfill's ``max_active_runs`` when it creates them,
        so here they neither wait for nor count against the DAG's limit, and they start even
        while the DAG is paused (pausing stops the DAG's schedule, not a backfill asked for by hand).
        """
        with self._session() as session:
            queued = session.scalars(
                self._scoped(select(DagRun).where(DagRun.state == RUN.QUEUED.value), DagRun)
                .order_by(DagRun.run_after, DagRun.id)
                .with_for_update(skip_locked=True)
            ).all()
            if not queued:
                return False
            paused = self._paused_dag_ids(session)
            running = {dag: n for (dag, _), n in run_queries.run_counts_by_state(
                session, [RUN.RUNNING.value], exclude_backfill=True).items()}
            limits = dict(session.execute(select(DagModel.dag_id, DagModel.max_active_runs)).all())
            started = 0
            for run in queued:
                backfill = run.backfill_id is not None
                if run.dag_id in paused and not backfill:
                    continue  # as in Airflow: a paused DAG's runs stay queued until it is unpaused
                if run.run_after > now:
                    self._deadlines.append(run.run_after)
                    continue
                snap = self._snapshot(session, self._pin_version(session, run))
                if snap is None:
                    log.warning("run %s/%s has no DAG version to run; leaving it queued", run.dag_id, run.run_id)
                    continue
                limit = limits.get(run.dag_id) or snap.max_active_runs
                if not backfill and running.get(run.dag_id, 0) >= limit:
                    continue
                start_run(session, run, snap, now)
                if not backfill:
                    running[run.dag_id] = running.get(run.dag_id, 0) + 1
                started += 1
        return started > 0

    # ------------------------------------------------------------ running runs
    def _process_running_runs(self, now: datetime) -> bool:
        """Decide, finish and queue for every running run, in one transaction; then hand over.

        Task instances are read as light rows (:class:`_TiRow`); only the ones a decision
        changes are loaded as ORM objects and written — in a wide run most instances stay as
        they are in a step, and building objects for all of them dominated the step.
        """
        callbacks: list[DagCallbackRequest] = []
        kills: list[TaskKey] = []
        with self._session() as session:
            runs = session.scalars(
                self._scoped(select(DagRun).where(DagRun.state == RUN.RUNNING.value), DagRun).with_for_update(
                    skip_locked=True
                )
            ).all()
            if not runs:
                return False
            snaps = self._snapshot_map(session, [self._pin_version(session, r) for r in runs])
            tis_by_run: dict[tuple[str, str], list[_TiRow]] = defaultdict(list)
            for row in ti_queries.ti_rows_for_runs(session, [(r.dag_id, r.run_id) for r in runs]):
                tis_by_run[(row.dag_id, row.run_id)].append(_TiRow(*row))
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
                changed = self._decide(session, run, snap, tis, now) or changed
                if self._finish_if_done(session, run, snap, tis, now, callbacks):
                    changed = True
                else:
                    live.append((run, snap))
            workloads = self._queue_ready(session, live, tis_by_run, now)
        for key in kills:
            self.executor.kill(key)
        self._hand_over(workloads)
        self._emit(callbacks)
        return changed or bool(workloads)

    def _timed_out(self, session, run, snap, tis, now, kills, callbacks) -> bool:
        timeout = snap.dagrun_timeout_td
        if timeout is None or run.start_date is None:
            return False
        deadline = run.start_date + timeout
        if now < deadline:
            self._deadlines.append(deadline)
            return False
        objects = ti_queries.tis_by_ids(session, [t.id for t in tis]).values()
        for ti in transitions.time_out_run(session, run, objects, now):
            kills.append(TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number))
        self._callback(snap, run, success=False, reason="timed_out", out=callbacks)
        auto_pause.pause_if_failing(session, run.dag_id, auto_pause.consecutive_failure_limit(snap, self.config), now=now)
        return True

    def _decide(self, session: Session, run: DagRun, snap: DagSnapshot, tis: list[_TiRow], now: datetime) -> bool:
        """Move undecided instances to scheduled / skipped / upstream_failed, in topological order
        so a skip or failure propagates down the whole graph in one pass.

        Decided on the rows first; then the changed instances are loaded (one query) and moved
        through :mod:`transitions`. One whose state changed meanwhile is left alone.
        """
        # Mapped tasks (snap.mapped_task_ids) are decided per instance through a RunView; other DAGs
        # keep the one-instance-per-task fast path.
        view = mapping.RunView(tis, snap) if snap.mapped_task_ids else None
        states = {ti.task_id: ti.state for ti in tis if ti.map_index < 0}
        by_task = {ti.task_id: ti for ti in tis if ti.map_index < 0}
        previous: dict[str, Any] = {}  # the previous run's states, once a depends_on_past task needs them
        moves: list[tuple[_TiRow, TaskInstanceState, str | None]] = []
        expanded = False
        for task_id in snap.topological_order:
            task = snap.tasks[task_id]
            if view is None:
                ti = by_task.get(task_id)
                rows = [] if ti is None else [ti]
            else:
                if task_id in snap.mapped_task_ids and (unexpanded := view.unexpanded(task_id)) is not None:
                    move, changed = self._expand_if_ready(session, run, snap, task, unexpanded, view, tis, now)
                    expanded = expanded or changed
                    if move is not None:
                        moves.append(move)
                        view.plan(unexpanded, move[1].value)
                    if not changed:
                        continue
                    if run.clear_number:
                        self._counted_since(run).add(task_id)
                elif task_id in snap.mapped_task_ids and run.clear_number:
                    expanded = self._revise_if_cleared(session, run, snap, task, view, tis, now) or expanded
                rows = view.instances(task_id)
            for ti in rows:
                if ti.state not in _UNDECIDED:
                    continue
                upstream = states if view is None else view.upstream_states(task, ti.map_index)
                move = self._decide_instance(session, run, snap, task, ti, upstream, now, previous)
                if move is None:
                    continue
                moves.append(move)
                if view is None:
                    states[task_id] = move[1].value
                else:
                    view.plan(ti, move[1].value)
        for ti in tis:  # instances of tasks no longer in this version
            if ti.task_id not in snap.tasks and ti.state in (TI.NONE.value, TI.SCHEDULED.value):
                moves.append((ti, TI.REMOVED, None))
        return self._apply_moves(session, moves, now) or expanded

    def _decide_instance(self, session: Session, run: DagRun, snap: DagSnapshot, task: Any, ti: _TiRow,
                         upstream: dict[str, Any], now: datetime,
                         previous: dict[str, Any]) -> tuple[_TiRow, TaskInstanceState, str | None] | None:
        """The move for one undecided instance, or None while it waits. ``upstream``: task_id -> state
        (or the states of a mapped upstream's instances); ``previous`` caches the previous run's states."""
        reason = deps.task_dates_allow(task, run.logical_date)
        if reason:
            return (ti, TI.SKIPPED, reason)
        decision = deps.evaluate_trigger_rule(task.trigger_rule, deps.upstream_counts(task, snap, upstream))
        if decision.action == "wait":
            return None
        if decision.action == "skip":
            return (ti, TI.SKIPPED, decision.reason)
        if decision.action == "upstream_failed":
            return (ti, TI.UPSTREAM_FAILED, decision.reason)
        if deps.retry_delay_passed(ti, now):
            self._deadlines.append(ti.next_retry_at)  # type: ignore[arg-type]
            return None
        if task.depends_on_past or task.wait_for_downstream:
            if "states" not in previous:
                previous["states"] = self._previous_states(session, run)
            if deps.past_run_allows(task, previous["states"]):
                return None
        return (ti, TI.SCHEDULED, None)

    def _expand_if_ready(self, session: Session, run: DagRun, snap: DagSnapshot, task: Any, row: _TiRow,
                         view: Any, tis: list[_TiRow], now: datetime) -> tuple[Any, bool]:
        """A mapped task's -1 instance: decided like any instance until its trigger rule lets it run;
        then, once the upstreams its input reads from are done, expanded (schedule/mapping.py).
        Returns (a move of the -1 instance or None, whether the expansion changed the run)."""
        reason = deps.task_dates_allow(task, run.logical_date)
        if reason:
            return (row, TI.SKIPPED, reason), False
        decision = deps.evaluate_trigger_rule(task.trigger_rule, deps.upstream_counts(task, snap, view.upstream_states(task, -1)))
        if decision.action == "skip":
            return (row, TI.SKIPPED, decision.reason), False
        if decision.action == "upstream_failed":
            return (row, TI.UPSTREAM_FAILED, decision.reason), False
        if decision.action == "wait" or not view.inputs_done(task):
            return None, False
        result = mapping.expand(session, run, snap, task, row, now, max_length=self.max_map_length)
        if result.state is not None:  # skipped / failed / upstream_failed, written by mapping.expand
            row.state = result.state
            return None, True
        if not result.created:
            return None, False
        row.map_index = 0
        new_rows = [_TiRow(*(getattr(ti, c) for c in ti_queries.TI_ROW_COLUMNS)) for ti in result.created[1:]]
        tis.extend(new_rows)
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
                           tis: list[_TiRow], now: datetime) -> bool:
        """In a cleared run, an expanded mapped task whose instances were cleared counts its input
        again once the upstreams it reads are done (they may yield a different number of items
        now), before its instances are decided (mapping.revise). Done once per task and clear:
        only runs with a clear_number get here, and the check before the XCom read is in memory."""
        counted = self._counted_since(run)
        if task.task_id in counted:
            return False
        rows = view.instances(task.task_id)
        if not any(view.state(r) == TI.NONE.value for r in rows) or not view.inputs_done(task):
            return False
        counted.add(task.task_id)
        result = mapping.revise(session, run, snap, task, rows, now, max_length=self.max_map_length)
        for row in rows:
            if row.id in result.moved:
                row.state = result.moved[row.id]
        if result.created:
            new_rows = [_TiRow(*(getattr(ti, c) for c in ti_queries.TI_ROW_COLUMNS)) for ti in result.created]
            tis.extend(new_rows)
            view.add(task.task_id, new_rows)
        return bool(result.moved or result.created)

    def _apply_moves(self, session: Session, moves: list[tuple[_TiRow, TaskInstanceState, str | None]],
                     now: datetime) -> bool:
        """Apply the decided moves to the instances' ORM objects; update the rows to match."""
        if not moves:
            return False
        objects = ti_queries.tis_by_ids(session, [row.id for row, _, _ in moves])
        for row, target, note in moves:
            ti = objects.get(row.id)
            if ti is None or ti.state != row.state:
                continue  # deleted or moved by someone else since the rows were read
            if target == TI.SKIPPED:
                transitions.mark_ti_skipped(session, ti, now, note=note)
            elif target == TI.UPSTREAM_FAILED:
                transitions.mark_ti_upstream_failed(session, ti, now, note=note)
            elif target == TI.SCHEDULED:
                transitions.schedule_ti(session, ti, now)
            else:
                transitions.mark_ti_removed(session, ti, now)
            row.state = ti.state
        return True

    def _previous_states(self, session: Session, run: DagRun) -> dict[str, str] | None:
        prev = run_queries.previous_run(session, run)
        if prev is None:
            return None
        return ti_queries.states_for_runs(session, [(prev.dag_id, prev.run_id)])[(prev.dag_id, prev.run_id)]

    def _finish_if_done(self, session, run, snap, tis, now, callbacks) -> bool:
        """All instances finished: the run fails if any outcome leaf failed/upstream_failed (Airflow;
        teardowns count only with on_failure_fail_dagrun), else succeeds. A failed run may pause
        the DAG (max_consecutive_failed_dag_runs)."""
        if any(ti.state not in FINISHED_TI_STATES for ti in tis):
            return False
        success = not setup_teardown.failed_outcome_leaves(snap, ((ti.task_id, ti.state) for ti in tis))
        transitions.finish_run(session, run, RUN.SUCCESS if success else RUN.FAILED, now)
        self._counted_since_clear.pop(run.id, None)
        self._callback(snap, run, success=success, reason="success" if success else "task_failure", out=callbacks)
        if not success:
            auto_pause.pause_if_failing(session, run.dag_id, auto_pause.consecutive_failure_limit(snap, self.config),
                                        now=now)
        return True

    def _callback(self, snap: DagSnapshot, run: DagRun, *, success: bool, reason: str, out: list) -> None:
        name = "on_success_callback" if success else "on_failure_callback"
        if self.callback_sink is not None and name in snap.callbacks:
            out.append(DagCallbackRequest(run.dag_id, run.run_id, snap.fileloc, success, reason))

    def _queue_ready(self, session, live, tis_by_run, now) -> list[Workload]:
        """Queue scheduled instances by priority within every limit; returns their workloads.

        Fair share: while other runs' instances wait, backfill instances are offered only part
        of the free slots first (:func:`~tradewind.schedule.backfill.fair_share_order`).
        """
        candidates = []
        paused = self._paused_dag_ids(session)
        resting = self._resting_executors(now)
        for run, snap in live:
            backfill = run.backfill_id is not None
            if run.dag_id in paused and not backfill:
                continue  # pausing freezes a running run: nothing new starts, running tries finish
            order = run.logical_date or run.run_after
            for ti in tis_by_run[(run.dag_id, run.run_id)]:
                if ti.state == TI.SCHEDULED.value and ti.task_id in snap.tasks:
                    if resting and getattr(snap.tasks[ti.task_id], "executor", None) in resting:
                        continue
                    candidates.append((-ti.priority_weight, order, ti.id, ti, snap, backfill))
        if not candidates:
            return []
        if not self.db.is_sqlite and not self._enter_critical_section(session, now):
            return []
        candidates.sort(key=lambda c: c[:3])
        budget = min(self.executor.slots_available(), self.max_tis_per_loop)
        active, pools = deps.active_usage(session)
        total = sum(active.values())
        per_task, per_run = deps.task_active_counts(
            session, {(ti.dag_id, ti.task_id) for *_, ti, snap, _ in candidates if deps.has_task_limits(snap.tasks[ti.task_id])}
        )
        chosen = []
        free = min(budget, max(self.parallelism - total, 0))
        for _, _, _, ti, snap, _ in fair_share_order(candidates, free, lambda c: c[5]):
            if budget <= 0 or deps.parallelism_allows(total, self.parallelism):
                break
            if deps.dag_concurrency_allows(ti.dag_id, active.get(ti.dag_id, 0), snap.max_active_tasks):
                continue
            if deps.pool_has_slots(ti.pool, ti.pool_slots, pools):
                continue
            task_key, run_task_key = (ti.dag_id, ti.task_id), (ti.dag_id, ti.run_id, ti.task_id)
            if deps.task_concurrency_allows(
                snap.tasks[ti.task_id], per_task.get(task_key, 0), per_run.get(run_task_key, 0)
            ):
                continue
            chosen.append((ti, snap))
            budget -= 1
            total += 1
            active[ti.dag_id] = active.get(ti.dag_id, 0) + 1
            pools[ti.pool] -= ti.pool_slots
            per_task[task_key] = per_task.get(task_key, 0) + 1
            per_run[run_task_key] = per_run.get(run_task_key, 0) + 1
        objects = ti_queries.tis_by_ids(session, [ti.id for ti, _ in chosen])
        workloads = []
        for row, snap in chosen:
            ti = objects.get(row.id)
            if ti is None or ti.state != TI.SCHEDULED.value:
                continue  # moved by someone else since the rows were read
            try_number = transitions.queue_ti(session, ti, now)
            task = snap.tasks[ti.task_id]
            workloads.append(Workload(
                key=TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, try_number),
                fileloc=snap.fileloc, environ=dict(self._environ), priority_weight=ti.priority_weight,
                pool=ti.pool, queue=ti.queue, execution_timeout=task.execution_timeout,
                executor=getattr(task, "executor", None), snapshot_hash=self._hashes.get(ti.dag_version_id),
            ))
        return workloads

    def _resting_executors(self, now: datetime) -> set[str | None]:
        """Executors that raised :class:`ExecutorUnavailable` less than :data:`UNAVAILABLE_RETRY`
        ago: their tasks are not offered this step (in memory; nothing to read)."""
        if not self._unavailable_until:
            return set()
        for name, until in list(self._unavailable_until.items()):
            if until <= now:
                del self._unavailable_until[name]
            else:
                self._deadlines.append(until)
        return set(self._unavailable_until)

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
            self._deadlines.append(now + CRITICAL_SECTION_RETRY)
            return False
        return True

    def _hand_over(self, workloads: list[Workload]) -> None:
        """Give committed queued tries to the executor; a refused one fails (with retries).

        An executor that raises :class:`ExecutorUnavailable` (its broker is down) took nothing:
        that instance and the rest of this step's instances for the same executor go back to
        scheduled with their try number restored, and that executor is offered no work for
        :data:`UNAVAILABLE_RETRY` -- one warning per outage, not one per instance per step.
        """
        unavailable: dict[str | None, ExecutorUnavailable] = {}
        returned: list[Workload] = []
        for workload in workloads:
            if workload.executor in unavailable:
                returned.append(workload)
                continue
            try:
                self.executor.queue_workload(workload)
                if workload.executor in self._unavailable_logged:
                    self._unavailable_logged.discard(workload.executor)
                    log.warning("executor %s takes work again", workload.executor or self.executor.name)
            except ExecutorUnavailable as exc:
                unavailable[workload.executor] = exc
                returned.append(workload)
            except Exception as exc:  # noqa: BLE001 - an executor problem must not stop the loop
                log.exception("executor refused %s", workload.key.short())
                with self._session() as session:
                    ti = transitions.get_ti(session, workload.key)
                    if ti is not None and ti.state == TI.QUEUED.value and ti.try_number == workload.key.try_number:
                        snap = self._snapshot(session, ti.dag_version_id)
                        task = snap.tasks.get(ti.task_id) if snap else None
                        reason = f"executor could not start the try: {exc}"
                        transitions.fail_zombie(session, ti, task=task, now=self.clock(), reason=reason)
        if unavailable:
            self._return_unsent(returned, unavailable)

    def _return_unsent(self, returned: list[Workload], unavailable: dict[str | None, ExecutorUnavailable]) -> None:
        """Put tries no executor took back to scheduled (same try number) and rest those executors."""
        now = self.clock()
        with self._session() as session:
            for workload in returned:
                ti = transitions.get_ti(session, workload.key)
                if ti is None or ti.try_number != workload.key.try_number:
                    continue
                exc = unavailable[workload.executor]
                transitions.unqueue_ti(session, ti, now, note=f"executor unavailable, queued again later: {exc}")
        for name, exc in unavailable.items():
            if name not in self._unavailable_logged:
                self._unavailable_logged.add(name)
                log.warning("executor %s is unavailable (%s); its tasks go back to scheduled and are offered "
                            "again in %gs", name or self.executor.name, exc, UNAVAILABLE_RETRY.total_seconds())
            self._unavailable_until[name] = now + UNAVAILABLE_RETRY
            self._deadlines.append(now + UNAVAILABLE_RETRY)

    def _emit(self, callbacks: list[DagCallbackRequest]) -> None:
        for request in callbacks:
            try:
                self.callback_sink(request)  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - a callback problem must not stop scheduling
                log.exception("callback sink failed for %s/%s", request.dag_id, request.run_id)

    # ------------------------------------------------------------------ zombies
    def _check_trigger_timeouts(self, now: datetime) -> bool:
        """Deferred instances whose trigger timed out are scheduled to fail (TaskDeferralTimeout).

        One UPDATE-by-query every ``[scheduler] trigger_timeout_check_interval`` seconds, not
        every step: a timeout is noticed that much late at most (Airflow checks as seldom).
        """
        if self._next_trigger_timeout_check is not None and now < self._next_trigger_timeout_check:
            return False
        self._next_trigger_timeout_check = now + self.trigger_timeout_check_interval
        with self._session() as session:
            count = transitions.time_out_deferred(session, now, only_run=self.only_run)
        if count:
            log.info("%d deferred task instance(s) timed out waiting for their trigger", count)
        return count > 0

    def _check_queued_timeouts(self, now: datetime) -> bool:
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
        if self._next_queued_timeout_check is not None and now < self._next_queued_timeout_check:
            self._deadlines.append(self._next_queued_timeout_check)
            return False
        self._next_queued_timeout_check = now + min(self.task_queued_timeout / 2, timedelta(seconds=30))
        note = (f"re-queued: queued for more than task_queued_timeout="
                f"{self.task_queued_timeout.total_seconds():g}s without a worker starting it")
        count = 0
        with self._session() as session:
            mine = None
            for ti in ti_queries.stuck_queued(session, now - self.task_queued_timeout):
                if self.only_run is not None and (ti.dag_id, ti.run_id) != self.only_run:
                    continue
                if mine is None:
                    mine = self.executor.running_keys()
                if TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number) in mine:
                    continue
                count += transitions.unqueue_ti(session, ti, now, note=note)
        if count:
            log.warning("%d task instance(s) queued for more than task_queued_timeout=%gs went back to "
                        "scheduled to be queued again", count, self.task_queued_timeout.total_seconds())
        return count > 0

    def _check_zombies(self, now: datetime) -> bool:
        """Running instances without a heartbeat for ``heartbeat_timeout`` fail (with retries)."""
        if self._next_zombie_check is not None and now < self._next_zombie_check:
            self._deadlines.append(self._next_zombie_check)
            return False
        self._next_zombie_check = now + min(self.heartbeat_timeout / 2, timedelta(seconds=5))
        cutoff = now - self.heartbeat_timeout
        found = []
        with self._session() as session:
            for ti in ti_queries.stale_running(session, cutoff):
                if self.only_run is not None and (ti.dag_id, ti.run_id) != self.only_run:
                    continue
                snap = self._snapshot(session, ti.dag_version_id)
                task = snap.tasks.get(ti.task_id) if snap else None
                seen = ti.last_heartbeat_at.isoformat() if ti.last_heartbeat_at else "never"
                reason = (
                    f"zombie: no heartbeat since {seen} "
                    f"(task_instance_heartbeat_timeout={self.heartbeat_timeout.total_seconds():g}s)"
                )
                key = TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
                transitions.fail_zombie(session, ti, task=task, now=now, reason=reason)
                found.append(key)
        for key in found:
            self.executor.kill(key)
        return bool(found)
