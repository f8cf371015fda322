"""The loop's run step: create due runs (timetables, backfills, assets) and start queued ones.

:meth:`RunCreation.step` first takes one read-only look (the survey) at what is due, so an
idle step costs two small reads and no write transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, literal_column, select, union
from sqlalchemy.orm import Session

from tradewind.persist.models import Backfill, DagModel, DagRun
from tradewind.persist.queries import assets as asset_queries
from tradewind.persist.queries import runs as run_queries
from tradewind.schedule.assets import AssetRunStep
from tradewind.schedule.backfill import step_backfills
from tradewind.schedule.runs import create_scheduled_runs, start_run
from tradewind.schedule.step_context import StepContext
from tradewind.states import DagRunState

log = logging.getLogger(__name__)

RUN = DagRunState
_PENDING_RUNS = (RUN.QUEUED.value, RUN.RUNNING.value)
#: Marker the survey returns beside run states when a backfill is running (its step is then due).
BACKFILL_ACTIVE = "backfill"
#: Marker the survey returns when an unpaused DAG has queued asset events (the asset step is then due).
ASSETS_QUEUED = "assets"


@cache
def _stmt(name: str) -> Any:
    """The survey's every-step reads, built once on the tables (no ORM compile step):
    an idle or busy step runs them each time it wakes."""
    dag, run = DagModel.__table__, DagRun.__table__
    if name == "schedulable_dags":
        return select(dag.c.dag_id, dag.c.latest_version_id, dag.c.next_dagrun_create_after).where(
            dag.c.is_active.is_(True), dag.c.is_paused.is_(False), dag.c.latest_version_id.is_not(None))
    pending = select(run.c.state).where(run.c.state.in_(_PENDING_RUNS)).distinct()
    if name == "pending_runs":
        # Piggybacked on the same read: whether any backfill is running (no extra query per step).
        backfill = Backfill.__table__
        running = exists().where(backfill.c.completed_at.is_(None), backfill.c.is_paused.is_(False))
        queued = exists().where(*asset_queries.QUEUED_FOR_UNPAUSED)
        return union(pending, select(literal_column(f"'{BACKFILL_ACTIVE}'")).where(running),
                     select(literal_column(f"'{ASSETS_QUEUED}'")).where(queued))
    if name == "pending_run":
        return pending.where(run.c.dag_id == bindparam("p_dag_id"), run.c.run_id == bindparam("p_run_id"))
    raise KeyError(name)


class RunCreation:
    """Creates and starts runs. Remembers which DAG version's timetable it evaluated."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        #: dag_id -> DAG version whose timetable was evaluated (re-evaluate on a new version).
        self._evaluated: dict[str, int] = {}
        self.asset_runs = AssetRunStep()

    def step(self, now: datetime) -> tuple[bool, set[str]]:
        """Create due runs and start queued ones. Returns (changed anything, the run states
        in scope that now exist among queued/running, plus the survey's markers)."""
        did = False
        due, states = self.survey(now)
        if due and self.create_due_runs(now):
            did = True
            states.add(RUN.QUEUED.value)
        if BACKFILL_ACTIVE in states and self.step_backfills(now):
            did = True
            states.add(RUN.QUEUED.value)
        if ASSETS_QUEUED in states and self.create_asset_runs(now):
            did = True
            states.add(RUN.QUEUED.value)
        if RUN.QUEUED.value in states and self.start_queued_runs(now):
            did = True
            states.add(RUN.RUNNING.value)
        return did, states

    def survey(self, now: datetime) -> tuple[bool, set[str]]:
        """One read-only look (no write lock) at what this step has to do: whether a DAG may
        have a run to create now, and which of queued/running runs (in scope) exist."""
        only_run = self.ctx.only_run
        with self.ctx.session(read_only=True) as session:
            due = only_run is None and not self._nothing_due(session, now)
            if only_run is None:
                states = session.scalars(_stmt("pending_runs"))
            else:
                dag_id, run_id = only_run
                states = session.scalars(_stmt("pending_run"), {"p_dag_id": dag_id, "p_run_id": run_id})
            states = set(states)
        return due, states

    def _nothing_due(self, session: Session, now: datetime) -> bool:
        """No DAG has a run to create now (notes the next creation time)."""
        rows = session.execute(_stmt("schedulable_dags")).all()
        for dag_id, version_id, after in rows:
            if self._evaluated.get(dag_id) != version_id or (after is not None and after <= now):
                return False
        self.ctx.deadlines.extend(after for _, _, after in rows if after is not None)
        return True

    def create_asset_runs(self, now: datetime) -> bool:
        """Asset-triggered runs for DAGs whose asset condition holds (:mod:`tradewind.schedule.assets`).

        The survey saw queued events; a read-only look at the queue's summary first skips
        the write transaction when nothing changed since the last evaluation (e.g. an
        ``AssetAll`` still waiting for its other assets).
        """
        if self.ctx.only_run is not None:
            return False
        with self.ctx.session(read_only=True) as session:
            if not self.asset_runs.pending(session):
                return False
        with self.ctx.session() as session:
            runs = self.asset_runs.create_runs(session, now, lambda ids: self.ctx.snapshot_map(session, ids))
        return bool(runs)

    def create_due_runs(self, now: datetime) -> bool:
        """Create scheduled runs for unpaused DAGs whose next run is due (or not yet computed)."""
        with self.ctx.session() as session:
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
                    self.ctx.deadlines.append(after)
            if not due:
                return False
            counts = run_queries.run_counts_by_state(session, exclude_backfill=True)
            created = 0
            snaps = self.ctx.snapshot_map(session, [d.latest_version_id for d in due])
            for dag in due:
                snap = snaps.get(dag.latest_version_id)  # type: ignore[arg-type]
                if snap is None:
                    continue
                active = counts.get((dag.dag_id, RUN.QUEUED.value), 0) + counts.get((dag.dag_id, RUN.RUNNING.value), 0)
                runs = create_scheduled_runs(session, dag, snap, dag.latest_version_id, now=now, active_runs=active)
                created += len(runs)
                self._evaluated[dag.dag_id] = dag.latest_version_id  # type: ignore[assignment]
                if dag.next_dagrun_create_after is not None and dag.next_dagrun_create_after > now:
                    self.ctx.deadlines.append(dag.next_dagrun_create_after)
        return created > 0

    def step_backfills(self, now: datetime) -> bool:
        """Create the next runs of running backfills (:func:`~tradewind.schedule.backfill.step_backfills`);
        only called when the survey saw a running backfill."""
        with self.ctx.session() as session:
            return bool(step_backfills(session, now))

    def start_queued_runs(self, now: datetime) -> bool:
        """queued -> running for runs whose run_after has come, within max_active_runs.

        A backfill's runs are limited by the backfill's ``max_active_runs`` when it creates them,
        so here they neither wait for nor count against the DAG's limit, and they start even
        while the DAG is paused (pausing stops the DAG's schedule, not a backfill asked for by hand).
        """
        ctx = self.ctx
        with ctx.session() as session:
            queued = session.scalars(
                ctx.scoped(select(DagRun).where(DagRun.state == RUN.QUEUED.value), DagRun)
                .order_by(DagRun.run_after, DagRun.id)
                .with_for_update(skip_locked=True)
            ).all()
            if not queued:
                return False
            paused = ctx.paused_dag_ids(session)
            running = {dag: n for (dag, _), n in run_queries.run_counts_by_state(
                session, [RUN.RUNNING.value], exclude_backfill=True).items()}
            limits = dict(session.execute(select(DagModel.dag_id, DagModel.max_active_runs)).all())
            started = 0
            for run in queued:
                backfill = run.backfill_id is not None
                if run.dag_id in paused and not backfill:
                    continue  # as in Airflow: a paused DAG's runs stay queued until it is unpaused
                if run.run_after > now:
                    ctx.deadlines.append(run.run_after)
                    continue
                snap = ctx.snapshot(session, ctx.pin_version(session, run))
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
