"""Run DAGs in a test under a simulated clock: the real scheduler and task runner, in-process.

:class:`DagSimulator` owns a temporary ``TRADEWIND_HOME`` with a SQLite database, the
in-process executor and a :class:`~tradewind.schedule.scheduler.Scheduler` whose clock is a
:class:`SimClock`. The same clock is installed as :func:`tradewind.definition.timezone.utcnow`,
so task-side time (time sensors, branch-on-date operators) and what tries record follow it.
Nothing sleeps: when the scheduler has nothing to do now, the clock jumps to the next moment
something is due (a retry delay, a reschedule, the next scheduled run).

The pytest plugin (:mod:`tradewind.testing.plugin`) hands one out as the ``tradewind_sim``
fixture; see ``docs/testing.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tradewind.config import Config
from tradewind.definition.timezone import set_clock, to_utc, utc
from tradewind.execute.executors.inprocess import InProcessExecutor
from tradewind.execute.logs import log_path
from tradewind.execute.prepare import forget_dags, load_dag_file, preload_dags
from tradewind.parse.dagbag import FileParseResult
from tradewind.parse.snapshot import serialize_dag
from tradewind.persist.db import Database
from tradewind.persist.migrate import upgrade
from tradewind.persist.models import DagModel, DagRun, TaskInstance
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.queries.xcom import RETURN_KEY, xcom_get
from tradewind.workloads import TaskKey
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler
from tradewind.states import DagRunState, TaskInstanceState

#: Scheduler steps one drive may take before the simulation gives up (a run that never ends).
MAX_STEPS = 100_000

_WAITING_TI_STATES = (TaskInstanceState.UP_FOR_RETRY.value, TaskInstanceState.UP_FOR_RESCHEDULE.value)
_FINISHED_RUN_STATES = (DagRunState.SUCCESS.value, DagRunState.FAILED.value)


class SimulationError(AssertionError):
    """The simulation cannot go on as asked (bad input, or a run that can never finish)."""


class SimClock:
    """The simulated "now": aware UTC, moved only forward, by the simulator."""

    def __init__(self, start: datetime) -> None:
        self.now = to_utc(start)

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, when: datetime) -> None:
        when = to_utc(when)
        if when < self.now:
            raise SimulationError(
                f"the simulated clock only moves forward: it is {self.now.isoformat()}, asked for {when.isoformat()}"
            )
        self.now = when


class RunResult:
    """One DAG run in the simulation; every accessor reads the database as it is now."""

    def __init__(self, sim: "DagSimulator", dag_id: str, run_id: str) -> None:
        self.sim, self.dag_id, self.run_id = sim, dag_id, run_id

    def _run(self) -> DagRun:
        with self.sim.db.read_scope() as session:
            run = session.scalar(select(DagRun).where(DagRun.dag_id == self.dag_id, DagRun.run_id == self.run_id))
        if run is None:
            raise SimulationError(f"run {self.run_id!r} of DAG {self.dag_id!r} no longer exists")
        return run

    @property
    def run_state(self) -> str:
        """The run's state: ``queued``, ``running``, ``success`` or ``failed``."""
        return self._run().state

    @property
    def succeeded(self) -> bool:
        return self.run_state == DagRunState.SUCCESS.value

    @property
    def logical_date(self) -> datetime | None:
        return self._run().logical_date

    @property
    def data_interval(self) -> tuple[datetime | None, datetime | None]:
        run = self._run()
        return run.data_interval_start, run.data_interval_end

    @property
    def run_after(self) -> datetime | None:
        return self._run().run_after

    @property
    def created_at(self) -> datetime | None:
        """When the scheduler (or ``run``) created the run, on the simulated clock."""
        return self._run().queued_at

    def _ti(self, task_id: str, map_index: int) -> TaskInstance:
        with self.sim.db.read_scope() as session:
            ti = session.scalar(select(TaskInstance).where(
                TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == self.run_id,
                TaskInstance.task_id == task_id, TaskInstance.map_index == map_index))
            if ti is None:
                known = sorted(set(session.scalars(select(TaskInstance.task_id).where(
                    TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == self.run_id))))
        if ti is None:
            where = "" if map_index < 0 else f" with map_index {map_index}"
            raise SimulationError(f"run {self.run_id!r} has no task {task_id!r}{where} (tasks: {known})")
        return ti

    def state(self, task_id: str, map_index: int = -1) -> str:
        """The task instance's state (``"success"``, ``"skipped"``, ...); ``map_index`` for one mapped copy."""
        return self._ti(task_id, map_index).state

    def states(self) -> dict[str, str]:
        """Every task instance's state, keyed ``task_id`` (``task_id[i]`` for mapped copies)."""
        with self.sim.db.read_scope() as session:
            rows = session.execute(select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
                TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == self.run_id).order_by(TaskInstance.id))
            return {(t if m < 0 else f"{t}[{m}]"): s for t, m, s in rows}

    def map_states(self, task_id: str) -> dict[int, str]:
        """States of a mapped task's copies by map index (``{-1: state}`` for an unmapped task)."""
        with self.sim.db.read_scope() as session:
            rows = session.execute(select(TaskInstance.map_index, TaskInstance.state).where(
                TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == self.run_id,
                TaskInstance.task_id == task_id).order_by(TaskInstance.map_index))
            return dict(rows.all())

    def try_number(self, task_id: str, map_index: int = -1) -> int:
        return self._ti(task_id, map_index).try_number

    def xcom(self, task_id: str, key: str = RETURN_KEY, map_index: int = -1, default: Any = None) -> Any:
        """The XCom the task pushed under ``key`` (its return value by default), as the task's
        downstream tasks see it (a returned tuple is a tuple, a DataFrame a DataFrame)."""
        from tradewind.definition.xcom_serde import decode_xcom

        with self.sim.db.read_scope() as session:
            return decode_xcom(xcom_get(session, self.dag_id, self.run_id, task_id, map_index, key, default=default))

    def log(self, task_id: str, map_index: int = -1, try_number: int | None = None) -> str:
        """The text of the task's log (its latest try unless ``try_number`` is given)."""
        number = try_number or self.try_number(task_id, map_index)
        path = log_path(self.sim.config.logs_folder, TaskKey(self.dag_id, self.run_id, task_id, map_index, number))
        if not path.is_file():
            raise SimulationError(f"no log for try {number} of {task_id!r} in run {self.run_id!r} ({path})")
        return path.read_text(encoding="utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"RunResult({self.dag_id!r}, {self.run_id!r}, state={self.run_state!r})"


class DagSimulator:
    """A Tradewind installation for one test, driven by a simulated clock. Call :meth:`close` after."""

    def __init__(self, home: str | os.PathLike[str], *, start: datetime | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None) -> None:
        settings: dict[str, dict[str, Any]] = {"core": {"load_examples": "False"}}
        for section, values in (overrides or {}).items():
            settings.setdefault(section, {}).update(values)
        self.config = Config.load(home=home, environ={}, overrides=settings)
        self.config.ensure_home()
        self.db = Database.from_config(self.config)
        upgrade(self.db, default_pool_slots=self.config.getint("core", "default_pool_slots"))
        self.clock = SimClock(start or datetime.now(utc).replace(minute=0, second=0, microsecond=0))
        self._previous_clock = set_clock(self.clock)
        self.executor = InProcessExecutor(16, config=self.config, db=self.db)
        self.scheduler = Scheduler(self.config, self.db, self.executor, clock=self.clock)
        #: DAGs given to the simulator, by file: every DAG of a file is stored (and served to tries) together.
        self._dags: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> datetime:
        return self.clock.now

    def advance(self, **delta: float) -> list[RunResult]:
        """Let time pass (``hours=2``, ``days=1``, ...) with the scheduler running; returns the runs it created."""
        return self.advance_to(self.clock.now + timedelta(**delta))

    def advance_to(self, when: datetime) -> list[RunResult]:
        """Let time pass until ``when`` with the scheduler running; returns the runs it created meanwhile."""
        when = to_utc(when)
        if when < self.clock.now:
            raise SimulationError(
                f"the simulated clock only moves forward: it is {self.clock.now.isoformat()}, "
                f"asked for {when.isoformat()}"
            )
        before = self._run_ids()
        self._drive(self.scheduler, done=None, until=when)
        return self._new_runs(before)

    # ------------------------------------------------------------------ DAGs
    def add(self, dag: Any, dag_id: str | None = None) -> str:
        """Store a DAG (a ``DAG`` object, or a DAG file's path and ``dag_id``) as the parser would.

        Returns its dag_id. Adding a DAG again stores its new version.
        """
        if isinstance(dag, (str, os.PathLike)):
            dag = self._dag_from_file(Path(dag), dag_id)
        elif dag_id is not None and dag_id != getattr(dag, "dag_id", None):
            raise SimulationError(f"dag_id {dag_id!r} does not match the DAG object's {getattr(dag, 'dag_id', None)!r}")
        if not hasattr(dag, "task_dict") or not hasattr(dag, "timetable"):
            raise SimulationError(f"expected a tradewind DAG or a DAG file path, got {type(dag).__name__}: {dag!r}")
        dag.validate()
        fileloc = str(dag.fileloc)
        same_file = self._dags.setdefault(fileloc, {})
        same_file[dag.dag_id] = dag
        preload_dags(fileloc, same_file)
        result = FileParseResult(fileloc=fileloc, dags=[serialize_dag(d) for d in same_file.values()])
        with self.db.session_scope() as session:
            summary = dag_queries.store_file_results(session, [result], self.clock.now)
        if dag.dag_id not in summary.dags:
            raise SimulationError(f"DAG {dag.dag_id!r} could not be stored: {summary}")
        return dag.dag_id

    def _dag_from_file(self, path: Path, dag_id: str | None) -> Any:
        if not path.is_file():
            raise SimulationError(f"DAG file {path} does not exist")
        dags = load_dag_file(str(path), [str(path.resolve().parent)])
        if dag_id is None and len(dags) == 1:
            return next(iter(dags.values()))
        if dag_id not in dags:
            raise SimulationError(f"{path} defines DAGs {sorted(dags)}; pass dag_id= to pick one")
        return dags[dag_id]

    def set_paused(self, dag_id: str, paused: bool) -> None:
        with self.db.session_scope() as session:
            dag_queries.set_paused(session, dag_id, paused)

    # ------------------------------------------------------------------ running
    def run(self, dag: Any, *, logical_date: Any = None, conf: dict[str, Any] | None = None,
            dag_id: str | None = None) -> RunResult:
        """One manual run of the DAG, driven to its end (like ``tradewind dags test``).

        ``logical_date`` defaults to the simulated now; time jumps over retry delays and
        reschedules. The DAG need not be unpaused, and no scheduled runs are created meanwhile.
        """
        dag_id = self.add(dag, dag_id)
        when = self.clock.now if logical_date is None else to_utc(logical_date)
        with self.db.session_scope() as session:
            version, snapshot = dag_queries.latest_snapshot(session, dag_id)  # type: ignore[misc]
            run = create_manual_run(session, snapshot, version.id, logical_date=when, conf=conf, now=self.clock.now)
            run_id = run.run_id
        scheduler = Scheduler(self.config, self.db, self.executor, clock=self.clock, only_run=(dag_id, run_id))
        result = RunResult(self, dag_id, run_id)
        try:
            self._drive(scheduler, done=lambda: result.run_state in _FINISHED_RUN_STATES, until=None,
                        only=(dag_id, run_id))
        finally:
            scheduler.close()
        return result

    def run_schedule(self, dag: Any, *, until: Any, dag_id: str | None = None) -> list[RunResult]:
        """Unpause the DAG and let the scheduler run it on its schedule until ``until``.

        Returns the runs created meanwhile, oldest logical date first (each one's tasks have
        run by the time it returns, unless a run was still waiting at ``until``).
        """
        dag_id = self.add(dag, dag_id)
        self.set_paused(dag_id, False)
        return [r for r in self.advance_to(to_utc(until)) if r.dag_id == dag_id]

    def runs(self, dag_id: str) -> list[RunResult]:
        """Every run of the DAG in the simulation, oldest logical date first."""
        with self.db.read_scope() as session:
            ids = session.scalars(select(DagRun.run_id).where(DagRun.dag_id == dag_id)
                                  .order_by(DagRun.logical_date, DagRun.id)).all()
        return [RunResult(self, dag_id, run_id) for run_id in ids]

    # ------------------------------------------------------------------ the loop
    def _drive(self, scheduler: Scheduler, *, done: Callable[[], bool] | None, until: datetime | None,
               only: tuple[str, str] | None = None) -> None:
        """Step ``scheduler`` until ``done()`` or the clock reaches ``until``, jumping over idle time."""
        for _ in range(MAX_STEPS):
            did = scheduler.run_once()
            if done is not None and done():
                return
            if did:
                continue
            due = self._next_due(only, include_new_runs=only is None)
            if due is not None and due <= self.clock.now:
                raise SimulationError(
                    f"the scheduler has work due at {due.isoformat()} but does nothing at {self.clock.now.isoformat()} "
                    "(a pool without free slots, or max_active_tasks?)"
                )
            if until is not None and (due is None or due > until):
                self.clock.move_to(until)
                scheduler.run_once()
                return
            if due is None:
                raise SimulationError(self._stuck_message(only))
            self.clock.move_to(due)
        raise SimulationError(f"gave up after {MAX_STEPS} scheduler steps at {self.clock.now.isoformat()}")

    def _next_due(self, only: tuple[str, str] | None, *, include_new_runs: bool) -> datetime | None:
        """The earliest moment the scheduler will have work: a retry/reschedule, a queued run's
        run_after, or (for the free-running scheduler) an unpaused DAG's next run."""
        with self.db.read_scope() as session:
            retry = select(func.min(TaskInstance.next_retry_at)).where(
                TaskInstance.state.in_(_WAITING_TI_STATES), TaskInstance.next_retry_at.is_not(None))
            queued = select(func.min(DagRun.run_after)).where(DagRun.state == DagRunState.QUEUED.value,
                                                              DagRun.run_after > self.clock.now)
            if only is not None:
                retry = retry.where(TaskInstance.dag_id == only[0], TaskInstance.run_id == only[1])
                queued = queued.where(DagRun.dag_id == only[0], DagRun.run_id == only[1])
            moments = [session.scalar(retry), session.scalar(queued)]
            if include_new_runs:
                moments.append(session.scalar(select(func.min(DagModel.next_dagrun_create_after)).where(
                    DagModel.is_paused.is_(False), DagModel.is_active.is_(True))))
        return min((to_utc(m) for m in moments if m is not None), default=None)

    def _stuck_message(self, only: tuple[str, str] | None) -> str:
        assert only is not None
        states = RunResult(self, *only).states()
        return (f"run {only[1]!r} of DAG {only[0]!r} cannot finish: nothing is due any more "
                f"(task states: {states}; a deferred task needs a triggerer, which the simulation does not run)")

    def _run_ids(self) -> set[tuple[str, str]]:
        with self.db.read_scope() as session:
            return {(dag_id, run_id) for dag_id, run_id in session.execute(select(DagRun.dag_id, DagRun.run_id))}

    def _new_runs(self, before: set[tuple[str, str]]) -> list[RunResult]:
        with self.db.read_scope() as session:
            rows = session.execute(select(DagRun.dag_id, DagRun.run_id).order_by(DagRun.logical_date, DagRun.id)).all()
        return [RunResult(self, d, r) for d, r in rows if (d, r) not in before]

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Restore the real clock, drop the DAGs served to tries, close the database."""
        set_clock(self._previous_clock)
        for fileloc in self._dags:
            forget_dags(fileloc)
        self._dags.clear()
        self.executor.end(wait=True)
        self.scheduler.close()
        self.db.engine.dispose()

    def __enter__(self) -> "DagSimulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
