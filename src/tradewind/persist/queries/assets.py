"""Assets: the asset rows, who produces/consumes them, their events and the run queue.

* :func:`sync_dag_assets` — when a DAG version is stored: upsert the assets its schedule and
  its tasks' outlets mention, and replace the DAG's reference rows.
* :func:`record_asset_events` — when a producing try succeeds: one ``asset_event`` per outlet,
  and an ``asset_dag_run_queue`` row for every DAG scheduled on that asset (one per pair: a
  second event before the consumer runs keeps the first row).
* :func:`queue_signature` / :func:`queued_assets` / :func:`consume_queue` — what the
  scheduler's asset step reads and clears.
* :func:`list_assets`, :func:`list_events`, :func:`events_for_run` — listings (CLI, context).

Inserts that may race with another process (two producers finishing together, the parser
and a runner meeting a new asset) use ``INSERT ... ON CONFLICT DO NOTHING`` so a race never
fails the caller's transaction. None of these functions commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.orm import Session

from tradewind.definition.assets import Asset, AssetKey, condition_from_expression
from tradewind.definition.assets import AssetEvent as AssetEvent_
from tradewind.persist.models import (
    AssetDagRunQueue,
    AssetEvent,
    AssetModel,
    DagModel,
    DagRun,
    DagRunAssetEvent,
    DagScheduleAssetReference,
    TaskOutletAssetReference,
)

__all__ = [
    "AssetEventInfo",
    "asset_ids",
    "consume_queue",
    "events_for_run",
    "unconsumed_events",
    "list_assets",
    "list_events",
    "queue_signature",
    "queued_assets",
    "record_asset_events",
    "schedule_assets_of",
    "sync_dag_assets",
]


def _insert_ignoring_duplicates(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping those whose primary/unique key already exists (SQLite and PostgreSQL)."""
    if not rows:
        return
    # Imported here: the PostgreSQL dialect package costs every process ~20 ms to import,
    # and one on SQLite never needs it (this module is imported by the scheduler and runner).
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(model).values(rows).on_conflict_do_nothing())


# --------------------------------------------------------------------------- assets
def asset_ids(session: Session, assets: Iterable[Mapping[str, Any]], now: datetime) -> dict[AssetKey, int]:
    """The ids of the given assets (``{"name", "uri", "group", "extra"}`` dicts), creating missing rows.

    An existing asset gets the newest ``group``/``extra`` and becomes active again.
    """
    wanted: dict[AssetKey, Mapping[str, Any]] = {}
    for data in assets:
        wanted.setdefault(AssetKey(data["name"], data["uri"]), data)
    if not wanted:
        return {}
    _insert_ignoring_duplicates(session, AssetModel, [
        {"name": k.name, "uri": k.uri, "group": d.get("group") or "asset", "extra": dict(d.get("extra") or {}),
         "created_at": now, "updated_at": now, "is_active": True}
        for k, d in wanted.items()
    ])
    found: dict[AssetKey, int] = {}
    rows = session.scalars(select(AssetModel).where(tuple_(AssetModel.name, AssetModel.uri).in_(list(wanted))))
    for row in rows:
        key = AssetKey(row.name, row.uri)
        data = wanted[key]
        group, extra = data.get("group") or "asset", dict(data.get("extra") or {})
        if row.group != group or (row.extra or {}) != extra or not row.is_active:
            row.group, row.extra, row.is_active, row.updated_at = group, extra, True, now
        found[key] = row.id
    return found


def schedule_assets_of(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The assets a snapshot dict's schedule condition mentions (none for time schedules)."""
    condition = (snapshot.get("timetable") or {}).get("condition")
    if not condition:
        return []
    return [asset.to_dict() for asset in condition_from_expression(condition).iter_assets()]


def sync_dag_assets(session: Session, snapshot: Mapping[str, Any], now: datetime) -> None:
    """Make the DAG's reference rows match its new snapshot (schedule assets, task outlets)."""
    dag_id = snapshot["dag_id"]
    scheduled = schedule_assets_of(snapshot)
    outlets = [(task["task_id"], asset) for task in snapshot.get("tasks", ()) for asset in task.get("outlets") or ()]
    ids = asset_ids(session, [*scheduled, *(asset for _, asset in outlets)], now)
    schedule_ids = {ids[AssetKey(a["name"], a["uri"])] for a in scheduled}
    session.execute(delete(DagScheduleAssetReference).where(DagScheduleAssetReference.dag_id == dag_id))
    session.execute(delete(TaskOutletAssetReference).where(TaskOutletAssetReference.dag_id == dag_id))
    # Queued events for assets the DAG no longer waits on can never be consumed.
    stale = delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
    if schedule_ids:
        stale = stale.where(AssetDagRunQueue.asset_id.not_in(schedule_ids))
    session.execute(stale)
    for asset_id in sorted(schedule_ids):
        session.add(DagScheduleAssetReference(asset_id=asset_id, dag_id=dag_id, created_at=now))
    pairs = {(task_id, ids[AssetKey(a["name"], a["uri"])]) for task_id, a in outlets}
    for task_id, asset_id in sorted(pairs):
        session.add(TaskOutletAssetReference(asset_id=asset_id, dag_id=dag_id, task_id=task_id, created_at=now))
    session.flush()


# --------------------------------------------------------------------------- events
def record_asset_events(
    session: Session,
    outlets: Iterable[Mapping[str, Any]],
    *,
    extras: Mapping[AssetKey, Mapping[str, Any]] | None = None,
    source: tuple[str, str, str, int] | None = None,
    now: datetime,
) -> list[AssetEvent]:
    """One event per outlet asset, queued for every DAG scheduled on it; returns the events.

    ``source`` is ``(dag_id, task_id, run_id, map_index)`` of the producing try (None for an
    event created by hand). ``extras`` (by asset key) is what the task set through
    ``outlet_events``; it is stored as the event's ``extra``.
    """
    outlets = list(outlets)
    ids = asset_ids(session, outlets, now)
    dag_id, task_id, run_id, map_index = source if source is not None else (None, None, None, None)
    events: list[AssetEvent] = []
    for key, asset_id in ids.items():
        event = AssetEvent(
            asset_id=asset_id, extra=dict((extras or {}).get(key) or {}), source_dag_id=dag_id,
            source_task_id=task_id, source_run_id=run_id, source_map_index=map_index, timestamp=now,
        )
        session.add(event)
        events.append(event)
    if ids:
        consumers = session.execute(
            select(DagScheduleAssetReference.asset_id, DagScheduleAssetReference.dag_id)
            .where(DagScheduleAssetReference.asset_id.in_(list(ids.values())))
        ).all()
        _insert_ignoring_duplicates(session, AssetDagRunQueue, [
            {"asset_id": asset_id, "target_dag_id": target, "created_at": now} for asset_id, target in consumers
        ])
    session.flush()
    return events


_QUEUE, _DAG = AssetDagRunQueue.__table__, DagModel.__table__
#: Conditions for "a queue row whose DAG is unpaused and active" (the scheduler's survey uses
#: them in an EXISTS, piggybacked on its every-step read).
QUEUED_FOR_UNPAUSED = (
    _DAG.c.dag_id == _QUEUE.c.target_dag_id, _DAG.c.is_paused.is_(False), _DAG.c.is_active.is_(True),
)


@cache
def _signature_stmt() -> Any:
    return (
        select(func.count(), func.max(_QUEUE.c.created_at), func.max(_DAG.c.latest_version_id))
        .select_from(_QUEUE.join(_DAG, _DAG.c.dag_id == _QUEUE.c.target_dag_id))
        .where(_DAG.c.is_paused.is_(False), _DAG.c.is_active.is_(True))
    )


def queue_signature(session: Session) -> tuple[int, Any, Any] | None:
    """A cheap summary of the queue rows of unpaused, active DAGs; None when there are none.

    The scheduler re-evaluates conditions only when this changes (a new event, an unpause, a
    new DAG version), so an idle step costs one aggregate query.
    """
    count, newest, version = session.execute(_signature_stmt()).one()
    return None if not count else (int(count), newest, version)


def queued_assets(session: Session, *, lock: bool = False) -> dict[str, dict[AssetKey, datetime]]:
    """For each unpaused, active DAG with queued events: asset key -> when it was queued.

    ``lock``: take the queue rows ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two schedulers
    never consume the same rows; SQLite has one writer at a time anyway.
    """
    query = (
        select(AssetDagRunQueue.target_dag_id, AssetModel.name, AssetModel.uri, AssetDagRunQueue.created_at)
        .join(AssetModel, AssetModel.id == AssetDagRunQueue.asset_id)
        .join(DagModel, DagModel.dag_id == AssetDagRunQueue.target_dag_id)
        .where(DagModel.is_paused.is_(False), DagModel.is_active.is_(True))
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=AssetDagRunQueue)
    rows = session.execute(query).all()
    queued: dict[str, dict[AssetKey, datetime]] = defaultdict(dict)
    for dag_id, name, uri, created_at in rows:
        queued[dag_id][AssetKey(name, uri)] = created_at
    return dict(queued)


def unconsumed_events(session: Session, dag_id: str, *, since: datetime | None) -> list[tuple[int, datetime]]:
    """``(id, timestamp)`` of the events of the DAG's scheduled-on assets after ``since``, oldest first.

    ``since`` is the end of the DAG's previous asset-triggered run's data interval (its newest
    event); None takes every event.
    """
    scheduled_on = select(DagScheduleAssetReference.asset_id).where(DagScheduleAssetReference.dag_id == dag_id)
    query = select(AssetEvent.id, AssetEvent.timestamp).where(AssetEvent.asset_id.in_(scheduled_on))
    if since is not None:
        query = query.where(AssetEvent.timestamp > since)
    return [(event_id, ts) for event_id, ts in session.execute(query.order_by(AssetEvent.timestamp, AssetEvent.id))]


def consume_queue(session: Session, dag_id: str, run: DagRun, event_ids: Iterable[int]) -> None:
    """Link the events to the asset-triggered ``run`` (``triggering_asset_events``) and delete the
    DAG's queue rows: the next run waits for new events."""
    for event_id in event_ids:
        session.add(DagRunAssetEvent(dag_run_id=run.id, event_id=event_id))
    session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id))
    session.flush()


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class AssetEventInfo:
    """One asset event as tasks (``triggering_asset_events``) and listings see it."""

    id: int
    name: str
    uri: str
    group: str
    extra: dict[str, Any]
    timestamp: datetime
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None

    @property
    def asset_key(self) -> AssetKey:
        return AssetKey(self.name, self.uri)

    def to_event(self) -> AssetEvent_:
        """The definition-layer event tasks receive in their context."""
        return AssetEvent_(
            id=self.id, asset=Asset(name=self.name, uri=self.uri, group=self.group), extra=dict(self.extra),
            timestamp=self.timestamp, source_dag_id=self.source_dag_id, source_task_id=self.source_task_id,
            source_run_id=self.source_run_id, source_map_index=self.source_map_index,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "uri": self.uri, "group": self.group, "extra": self.extra,
            "timestamp": self.timestamp.isoformat(), "source_dag_id": self.source_dag_id,
            "source_task_id": self.source_task_id, "source_run_id": self.source_run_id,
            "source_map_index": self.source_map_index,
        }


_EVENT_COLUMNS = (
    AssetEvent.id, AssetModel.name, AssetModel.uri, AssetModel.group, AssetEvent.extra, AssetEvent.timestamp,
    AssetEvent.source_dag_id, AssetEvent.source_task_id, AssetEvent.source_run_id, AssetEvent.source_map_index,
)


def _event_infos(rows: Iterable[Any]) -> list[AssetEventInfo]:
    return [AssetEventInfo(*(row[:4]), dict(row[4] or {}), *(row[5:])) for row in rows]


def list_events(session: Session, *, asset: str | None = None, key: AssetKey | None = None,
                dag_id: str | None = None, limit: int | None = None) -> list[AssetEventInfo]:
    """Asset events, newest first; ``asset`` matches the name or the uri, ``key`` both exactly,
    ``dag_id`` the source DAG."""
    query = select(*_EVENT_COLUMNS).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
    if asset is not None:
        query = query.where(or_(AssetModel.name == asset, AssetModel.uri == asset))
    if key is not None:
        query = query.where(AssetModel.name == key.name, AssetModel.uri == key.uri)
    if dag_id is not None:
        query = query.where(AssetEvent.source_dag_id == dag_id)
    query = query.order_by(AssetEvent.timestamp.desc(), AssetEvent.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return _event_infos(session.execute(query))


def events_for_run(session: Session, dag_id: str, run_id: str) -> list[AssetEventInfo]:
    """The events that triggered the run (oldest first); empty for other runs."""
    query = (
        select(*_EVENT_COLUMNS)
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .join(DagRunAssetEvent, DagRunAssetEvent.event_id == AssetEvent.id)
        .join(DagRun, DagRun.id == DagRunAssetEvent.dag_run_id)
        .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        .order_by(AssetEvent.timestamp, AssetEvent.id)
    )
    return _event_infos(session.execute(query))


@dataclass(frozen=True)
class AssetInfo:
    """An asset with who produces and who consumes it, and its latest event (listings)."""

    id: int
    name: str
    uri: str
    group: str
    extra: dict[str, Any]
    is_active: bool
    created_at: datetime
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    last_event: datetime | None
    queued_for: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "uri": self.uri, "group": self.group, "extra": self.extra,
            "is_active": self.is_active, "created_at": self.created_at.isoformat(),
            "producing_tasks": list(self.producers), "consuming_dags": list(self.consumers),
            "last_event": self.last_event.isoformat() if self.last_event else None,
            "queued_for": list(self.queued_for),
        }


def list_assets(session: Session, *, asset: str | None = None) -> list[AssetInfo]:
    """Assets by name (``asset`` matches name or uri), with producers, consumers and last event."""
    query = select(AssetModel).order_by(AssetModel.name, AssetModel.uri)
    if asset is not None:
        query = query.where(or_(AssetModel.name == asset, AssetModel.uri == asset))
    models = list(session.scalars(query))
    ids = [m.id for m in models]
    if not ids:
        return []
    producers: dict[int, list[str]] = defaultdict(list)
    for asset_id, dag_id, task_id in session.execute(
        select(TaskOutletAssetReference.asset_id, TaskOutletAssetReference.dag_id, TaskOutletAssetReference.task_id)
        .where(TaskOutletAssetReference.asset_id.in_(ids))
        .order_by(TaskOutletAssetReference.dag_id, TaskOutletAssetReference.task_id)
    ):
        producers[asset_id].append(f"{dag_id}.{task_id}")
    consumers: dict[int, list[str]] = defaultdict(list)
    for asset_id, dag_id in session.execute(
        select(DagScheduleAssetReference.asset_id, DagScheduleAssetReference.dag_id)
        .where(DagScheduleAssetReference.asset_id.in_(ids)).order_by(DagScheduleAssetReference.dag_id)
    ):
        consumers[asset_id].append(dag_id)
    queued: dict[int, list[str]] = defaultdict(list)
    for asset_id, dag_id in session.execute(
        select(AssetDagRunQueue.asset_id, AssetDagRunQueue.target_dag_id)
        .where(AssetDagRunQueue.asset_id.in_(ids)).order_by(AssetDagRunQueue.target_dag_id)
    ):
        queued[asset_id].append(dag_id)
    last = dict(session.execute(
        select(AssetEvent.asset_id, func.max(AssetEvent.timestamp))
        .where(AssetEvent.asset_id.in_(ids)).group_by(AssetEvent.asset_id)
    ).all())
    return [
        AssetInfo(
            id=m.id, name=m.name, uri=m.uri, group=m.group, extra=dict(m.extra or {}), is_active=m.is_active,
            created_at=m.created_at, producers=tuple(producers[m.id]), consumers=tuple(consumers[m.id]),
            last_event=last.get(m.id), queued_for=tuple(queued[m.id]),
        )
        for m in models
    ]
