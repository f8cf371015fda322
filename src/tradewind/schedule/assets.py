"""The scheduler's asset step: create asset-triggered runs when a DAG's asset condition holds.

A producing try's success queues one ``asset_dag_run_queue`` row per (asset, consumer DAG)
(:func:`tradewind.persist.queries.assets.record_asset_events`). This step evaluates each
unpaused consumer's condition (``schedule=[a, b]``, ``a | b``, ...) over its queued assets;
when it holds it creates a queued run:

* ``run_type`` ``asset_triggered``, run id ``asset_triggered__<creation time ISO>``;
* ``logical_date`` = creation time (Airflow 2's choice; Airflow 3 leaves it empty, but then
  ``ds``/``ts`` and every "previous run" lookup would have nothing to go on);
* data interval = oldest to newest triggering event timestamp;
* the events of the DAG's assets since its previous asset-triggered run are linked to the run
  (``context["triggering_asset_events"]``), and the DAG's queue rows are deleted.

A DAG scheduled on an ``AssetAlias`` gets queue rows for the assets emitted through the alias;
the alias is true when any asset it resolves to (ever added through it) is queued (Airflow 3).

A paused DAG keeps accumulating queue rows and runs once when unpaused (as in Airflow).

Cost when idle: :meth:`AssetRunStep.pending` is one aggregate query over the queue in the
scheduler's read-only survey; the full evaluation runs only when that summary changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.definition.assets import AssetTriggeredTimetable, BaseAsset
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagModel, DagRun
from tradewind.persist.queries import assets as asset_queries
from tradewind.persist.queries import runs as run_queries
from tradewind.schedule.runs import timetable_of
from tradewind.states import DagRunState, DagRunType

log = logging.getLogger(__name__)

__all__ = ["AssetRunStep", "create_asset_triggered_run", "previous_asset_triggered_run"]


def previous_asset_triggered_run(session: Session, dag_id: str) -> DagRun | None:
    """The DAG's latest asset-triggered run (its interval end bounds the next run's events)."""
    return session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.run_type == DagRunType.ASSET_TRIGGERED.value)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(1)
    ).first()


def create_asset_triggered_run(
    session: Session, dag: DagModel, dag_version_id: int | None, *, now: datetime
) -> DagRun | None:
    """Create the DAG's asset-triggered run now and consume its queue (see the module docstring).

    Returns None (queue kept) when a run with the same run id already exists, i.e. a run was
    created for this DAG at this very instant.
    """
    run_id = DagRunType.ASSET_TRIGGERED.run_id_for(now.isoformat())
    if run_queries.run_exists(session, dag.dag_id, run_id):
        return None
    previous = previous_asset_triggered_run(session, dag.dag_id)
    since = previous.data_interval_end if previous is not None else None
    events = asset_queries.unconsumed_events(session, dag.dag_id, since=since)
    interval = AssetTriggeredTimetable.data_interval_for_events((ts for _, ts in events), now)
    run = DagRun(
        dag_id=dag.dag_id, run_id=run_id, run_type=DagRunType.ASSET_TRIGGERED.value,
        state=DagRunState.QUEUED.value, logical_date=now,
        data_interval_start=interval.start, data_interval_end=interval.end,
        run_after=now, queued_at=now, conf={}, external_trigger=False,
        triggered_by="asset", dag_version_id=dag_version_id,
    )
    session.add(run)
    session.flush()
    asset_queries.consume_queue(session, dag.dag_id, run, [event_id for event_id, _ in events])
    return run


class AssetRunStep:
    """The scheduler's gate and step for asset-triggered runs (one per :class:`Scheduler`)."""

    def __init__(self) -> None:
        #: Queue summary after the last evaluation; the step runs again only when it changes.
        self._evaluated: Any = None

    def pending(self, session: Session) -> bool:
        """Cheap check (one aggregate query): is there queue work not evaluated yet?"""
        signature = asset_queries.queue_signature(session)
        if signature is None:
            self._evaluated = None
            return False
        return signature != self._evaluated

    def create_runs(
        self,
        session: Session,
        now: datetime,
        snapshots: Callable[[Iterable[int | None]], dict[int, DagSnapshot]],
    ) -> list[DagRun]:
        """Create a run for every unpaused DAG whose condition holds over its queued assets.

        ``snapshots(version_ids)`` returns snapshots by version id (the scheduler's cache).
        """
        queued = asset_queries.queued_assets(session, lock=True)
        created: list[DagRun] = []
        if queued:
            dags = {d.dag_id: d for d in session.scalars(select(DagModel).where(DagModel.dag_id.in_(list(queued))))}
            snaps = snapshots([d.latest_version_id for d in dags.values()])
            conditions = {dag_id: self._condition(snaps.get(d.latest_version_id))  # type: ignore[arg-type]
                          for dag_id, d in dags.items()}
            # What the aliases in these conditions resolve to: one query, only when some have aliases.
            alias_names = {a.name for c in conditions.values() if c is not None for a in c.iter_aliases()}
            resolved = asset_queries.alias_resolutions(session, alias_names) if alias_names else {}
            for dag_id in sorted(queued):
                dag, condition = dags.get(dag_id), conditions.get(dag_id)
                if dag is None or condition is None or not condition.evaluate(set(queued[dag_id]), resolved):
                    continue
                run = create_asset_triggered_run(session, dag, dag.latest_version_id, now=now)
                if run is not None:
                    log.info("Created asset-triggered run %s of DAG %s", run.run_id, dag_id)
                    created.append(run)
        self._evaluated = asset_queries.queue_signature(session)
        return created

    @staticmethod
    def _condition(snapshot: DagSnapshot | None) -> BaseAsset | None:
        """The DAG's asset condition; None without a snapshot, or when it was rescheduled on time
        since the events were queued (storing that version dropped its queue rows)."""
        timetable = timetable_of(snapshot) if snapshot is not None else None
        return timetable.asset_condition if isinstance(timetable, AssetTriggeredTimetable) else None
