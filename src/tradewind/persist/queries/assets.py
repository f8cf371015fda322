"""Assets: the asset rows, who produces/consumes them, their events and the run queue.

* :func:`sync_dag_assets` — when a DAG version is stored: upsert the assets and aliases its
  schedule and its tasks' outlets mention, and replace the DAG's reference rows.
* :func:`record_asset_events` — when a producing try succeeds: one ``asset_event`` per outlet,
  and an ``asset_dag_run_queue`` row for every DAG scheduled on that asset (one per pair: a
  second event before the consumer runs keeps the first row). Events emitted through an
  alias also link the alias to the asset (what it resolves to) and to the event (its source),
  and queue the event for the DAGs scheduled on the alias (Airflow 3's rules).
* :func:`alias_resolutions` — what each alias resolves to, for evaluating conditions.
* :func:`queue_signature` / :func:`queued_assets` / :func:`consume_queue` — what the
  scheduler's asset step reads and clears.
* :func:`list_assets`, :func:`list_events`, :func:`events_for_run` — listings (CLI, context).

Inserts that may race with another process (two producers finishing together, the parser
and a runner meeting a new asset) use ``INSERT ... ON CONFLICT DO NOTHING`` so a race never
fails the caller's transaction. None of these functions commits.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.orm import Session

from tradewind.definition.assets import Asset, AssetAlias, AssetKey, condition_from_expression
from tradewind.definition.assets import AssetEvent as AssetEvent_
from tradewind.persist.models import (
    AssetAliasAsset,
    AssetAliasAssetEvent,
    AssetAliasModel,
    AssetDagRunQueue,
    AssetEvent,
    AssetModel,
    DagModel,
    DagRun,
    DagRunAssetEvent,
    DagScheduleAssetAliasReference,
    DagScheduleAssetReference,
    TaskOutletAssetReference,
)

log = logging.getLogger(__name__)

__all__ = [
    "AliasInfo",
    "AssetEventInfo",
    "alias_ids",
    "alias_infos",
    "alias_resolutions",
    "asset_ids",
    "consume_queue",
    "delete_queued",
    "events_for_run",
    "unconsumed_events",
    "list_aliases",
    "list_assets",
    "list_events",
    "queue_signature",
    "queued_assets",
    "record_asset_events",
    "schedule_aliases_of",
    "schedule_assets_of",
    "schedule_refs_of",
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
def asset_ids(session: Session, assets: Iterable[Mapping[str, Any]], now: datetime,
              *, update_existing: bool = True) -> dict[AssetKey, int]:
    """The ids of the given assets (``{"name", "uri", "group", "extra"}`` dicts), creating missing rows.

    An existing asset gets the newest ``group``/``extra`` and becomes active again, unless
    ``update_existing`` is False (an asset added through an alias at run time: Airflow only
    creates a missing one).
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
        found[key] = row.id
        if not update_existing:
            continue
        data = wanted[key]
        group, extra = data.get("group") or "asset", dict(data.get("extra") or {})
        if row.group != group or (row.extra or {}) != extra or not row.is_active:
            row.group, row.extra, row.is_active, row.updated_at = group, extra, True, now
    return found


def alias_ids(session: Session, aliases: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The ids of the given aliases (``AssetAlias.to_dict()``: ``{"alias": name, "group"}``), by
    name, creating missing rows (an existing alias keeps its group: the name is its identity)."""
    wanted: dict[str, str] = {}
    for data in aliases:
        wanted.setdefault(data["alias"], data.get("group") or "asset")
    if not wanted:
        return {}
    _insert_ignoring_duplicates(session, AssetAliasModel, [{"name": n, "group": g} for n, g in wanted.items()])
    rows = session.execute(select(AssetAliasModel.name, AssetAliasModel.id).where(AssetAliasModel.name.in_(list(wanted))))
    return {name: alias_id for name, alias_id in rows}


def _schedule_condition(snapshot: Mapping[str, Any]) -> Any:
    condition = (snapshot.get("timetable") or {}).get("condition")
    return condition_from_expression(condition) if condition else None


def schedule_assets_of(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The assets a snapshot dict's schedule condition mentions (none for time schedules)."""
    condition = _schedule_condition(snapshot)
    return [asset.to_dict() for asset in condition.iter_assets()] if condition is not None else []


def schedule_aliases_of(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The aliases a snapshot dict's schedule condition mentions (``AssetAlias.to_dict()`` each)."""
    condition = _schedule_condition(snapshot)
    return [alias.to_dict() for alias in condition.iter_aliases()] if condition is not None else []


def schedule_refs_of(snapshot: Mapping[str, Any]) -> list[Any]:
    """The ``Asset.ref(...)`` s a snapshot dict's schedule condition mentions."""
    condition = _schedule_condition(snapshot)
    return list(condition.iter_refs()) if condition is not None else []


def _resolve_refs(session: Session, refs: Iterable[Any]) -> set[int]:
    """The ids of the assets the references name now (by name or by uri; unknown: none)."""
    names = [r.value for r in refs if r.field == "name"]
    uris = [r.value for r in refs if r.field == "uri"]
    if not names and not uris:
        return set()
    return set(session.scalars(select(AssetModel.id).where(or_(AssetModel.name.in_(names), AssetModel.uri.in_(uris)))))


def _link_refs_to_new_assets(session: Session, new_keys: set[AssetKey], now: datetime) -> None:
    """Schedule references of other DAGs that name an asset just created now point at it (an
    ``Asset.ref`` may be parsed before the asset's producer). Only run when assets are new;
    the DAGs with references are found by their snapshot's text, without loading the rest."""
    from sqlalchemy import Text, cast

    from tradewind.persist.models import DagVersion

    rows = session.execute(
        select(DagModel.dag_id, DagVersion.snapshot).join(DagVersion, DagVersion.id == DagModel.latest_version_id)
        # Asset-scheduled DAGs only ("Asset", "Asset or <cron>"): the summary column is small, so the
        # snapshot text is searched only for them, not for every DAG on a first parse of many files.
        .where(DagModel.is_active.is_(True), DagModel.timetable_summary.like("Asset%"),
               cast(DagVersion.snapshot, Text).like('%"asset_ref"%')))
    links: list[dict[str, Any]] = []
    for dag_id, snapshot in rows:
        refs = schedule_refs_of(snapshot or {})
        matched = [k for k in new_keys if any(ref.matches(k) for ref in refs)]
        if matched:
            for asset_id in asset_ids(session, [{"name": k.name, "uri": k.uri} for k in matched], now,
                                      update_existing=False).values():
                links.append({"asset_id": asset_id, "dag_id": dag_id, "created_at": now})
    _insert_ignoring_duplicates(session, DagScheduleAssetReference, links)


def sync_dag_assets(session: Session, snapshot: Mapping[str, Any], now: datetime) -> None:
    """Make the DAG's reference rows match its new snapshot (schedule assets, references and
    aliases, task outlets); the aliases it mentions anywhere get rows (so listings show them
    before use); its watched assets get their watchers' trigger rows."""
    from tradewind.persist.queries.asset_watchers import sync_asset_watchers

    dag_id = snapshot["dag_id"]
    scheduled = schedule_assets_of(snapshot)
    scheduled_aliases = schedule_aliases_of(snapshot)
    tasks = snapshot.get("tasks", ())
    outlets = [(task["task_id"], asset) for task in tasks for asset in task.get("outlets") or ()]
    mentioned = [*scheduled, *(asset for _, asset in outlets)]
    existed = _existing_asset_keys(session, {AssetKey(a["name"], a["uri"]): a for a in mentioned}) if mentioned else set()
    ids = asset_ids(session, mentioned, now)
    aliases = alias_ids(session, [*scheduled_aliases, *(a for task in tasks for a in task.get("outlet_aliases") or ())])
    # Asset.ref(...) in the schedule: the assets of that name/uri known now; one created later
    # is linked when it is (see _link_refs_to_new_assets).
    schedule_ids = {ids[AssetKey(a["name"], a["uri"])] for a in scheduled} | _resolve_refs(
        session, schedule_refs_of(snapshot))
    schedule_alias_ids = {aliases[a["alias"]] for a in scheduled_aliases}
    for model in (DagScheduleAssetReference, TaskOutletAssetReference, DagScheduleAssetAliasReference):
        session.execute(delete(model).where(model.dag_id == dag_id))
    # Queued events for assets the DAG no longer waits on (directly or through one of its
    # aliases) can never be consumed.
    stale = delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
    if schedule_ids:
        stale = stale.where(AssetDagRunQueue.asset_id.not_in(schedule_ids))
    if schedule_alias_ids:
        stale = stale.where(AssetDagRunQueue.asset_id.not_in(
            select(AssetAliasAsset.asset_id).where(AssetAliasAsset.alias_id.in_(schedule_alias_ids))))
    session.execute(stale)
    for asset_id in sorted(schedule_ids):
        session.add(DagScheduleAssetReference(asset_id=asset_id, dag_id=dag_id, created_at=now))
    for alias_id in sorted(schedule_alias_ids):
        session.add(DagScheduleAssetAliasReference(alias_id=alias_id, dag_id=dag_id, created_at=now))
    pairs = {(task_id, ids[AssetKey(a["name"], a["uri"])]) for task_id, a in outlets}
    for task_id, asset_id in sorted(pairs):
        session.add(TaskOutletAssetReference(asset_id=asset_id, dag_id=dag_id, task_id=task_id, created_at=now))
    session.flush()
    new_keys = set(ids) - existed
    if new_keys:
        _link_refs_to_new_assets(session, new_keys, now)
    sync_asset_watchers(session, snapshot, now)


# --------------------------------------------------------------------------- events
def record_asset_events(
    session: Session,
    outlets: Iterable[Mapping[str, Any]],
    *,
    extras: Mapping[AssetKey, Mapping[str, Any]] | None = None,
    alias_events: Iterable[Mapping[str, Any]] = (),
    source: tuple[str, str, str, int] | None = None,
    now: datetime,
) -> list[AssetEvent]:
    """One event per outlet asset, queued for every DAG scheduled on it; returns the events.

    ``source`` is ``(dag_id, task_id, run_id, map_index)`` of the producing try (None for an
    event created by hand). ``extras`` (by asset key) is what the task set through
    ``outlet_events``; it is stored as the event's ``extra``. ``alias_events`` are the assets
    the task added through its outlet aliases (``{"alias", "asset", "extra"}`` dicts, see
    :meth:`~tradewind.definition.assets.OutletEventAccessors.alias_events`): one event per
    distinct (asset, extra), whatever the number of aliases or ``add`` calls (Airflow's rule).
    """
    outlets = list(outlets)
    ids = asset_ids(session, outlets, now)
    dag_id, task_id, run_id, map_index = source if source is not None else (None, None, None, None)
    events: list[AssetEvent] = []
    queued: set[tuple[int, str]] = set()

    def add_event(asset_id: int, extra: Mapping[str, Any]) -> AssetEvent:
        event = AssetEvent(
            asset_id=asset_id, extra=dict(extra), source_dag_id=dag_id, source_task_id=task_id,
            source_run_id=run_id, source_map_index=map_index, timestamp=now,
        )
        session.add(event)
        events.append(event)
        return event

    for key, asset_id in ids.items():
        add_event(asset_id, (extras or {}).get(key) or {})
    if ids:
        queued.update((asset_id, target) for asset_id, target in session.execute(
            select(DagScheduleAssetReference.asset_id, DagScheduleAssetReference.dag_id)
            .where(DagScheduleAssetReference.asset_id.in_(list(ids.values())))
        ))
    queued |= _record_alias_events(session, list(alias_events), add_event, now)
    _insert_ignoring_duplicates(session, AssetDagRunQueue, [
        {"asset_id": asset_id, "target_dag_id": target, "created_at": now} for asset_id, target in sorted(queued)
    ])
    session.flush()
    return events


def _record_alias_events(session: Session, alias_events: list[Mapping[str, Any]],
                         add_event: Any, now: datetime) -> set[tuple[int, str]]:
    """The events emitted through aliases; returns the (asset id, DAG id) pairs to queue."""
    if not alias_events:
        return set()
    # One event per (asset, extra); the aliases it came through are all its sources.
    grouped: dict[tuple[AssetKey, str], tuple[Mapping[str, Any], dict[str, Any], set[str]]] = {}
    for item in alias_events:
        asset, extra = item["asset"], dict(item.get("extra") or {})
        group_key = (AssetKey(asset["name"], asset["uri"]), json.dumps(extra, sort_keys=True, default=str))
        grouped.setdefault(group_key, (asset, extra, set()))[2].add(item["alias"]["alias"])
    assets = {key: asset for (key, _), (asset, _, _) in grouped.items()}
    known = _existing_asset_keys(session, assets)
    for key in assets.keys() - known:
        log.warning("Asset %r added through an alias did not exist; it has been created", key.uri)
    ids = asset_ids(session, assets.values(), now, update_existing=False)
    if assets.keys() - known:  # DAGs scheduled on Asset.ref(...) of a new asset wait for it from now on
        _link_refs_to_new_assets(session, set(assets.keys() - known), now)
    aliases = alias_ids(session, [item["alias"] for item in alias_events])
    links = sorted({(aliases[name], ids[key]) for (key, _), (_, _, names) in grouped.items() for name in names})
    _insert_ignoring_duplicates(session, AssetAliasAsset, [{"alias_id": a, "asset_id": b} for a, b in links])
    for (key, _), (_, extra, names) in grouped.items():
        event = add_event(ids[key], extra)
        session.flush()  # the event's id, for its alias links
        for name in sorted(names):
            session.add(AssetAliasAssetEvent(alias_id=aliases[name], event_id=event.id))
    by_alias = session.execute(
        select(DagScheduleAssetAliasReference.alias_id, DagScheduleAssetAliasReference.dag_id)
        .where(DagScheduleAssetAliasReference.alias_id.in_(list(aliases.values())))
    ).all()
    by_asset = session.execute(
        select(DagScheduleAssetReference.asset_id, DagScheduleAssetReference.dag_id)
        .where(DagScheduleAssetReference.asset_id.in_(list(ids.values())))
    ).all()
    pairs = {(asset_id, dag) for asset_id, dag in by_asset}
    for (key, _), (_, _, names) in grouped.items():
        alias_id_set = {aliases[n] for n in names}
        pairs |= {(ids[key], dag) for alias_id, dag in by_alias if alias_id in alias_id_set}
    return pairs


def _existing_asset_keys(session: Session, assets: Mapping[AssetKey, Any]) -> set[AssetKey]:
    rows = session.execute(
        select(AssetModel.name, AssetModel.uri).where(tuple_(AssetModel.name, AssetModel.uri).in_(list(assets))))
    return {AssetKey(name, uri) for name, uri in rows}


def alias_resolutions(session: Session, names: Iterable[str]) -> dict[str, set[AssetKey]]:
    """What each named alias resolves to: the assets ever added through it (none yet: absent)."""
    names = list(set(names))
    if not names:
        return {}
    rows = session.execute(
        select(AssetAliasModel.name, AssetModel.name, AssetModel.uri)
        .join(AssetAliasAsset, AssetAliasAsset.alias_id == AssetAliasModel.id)
        .join(AssetModel, AssetModel.id == AssetAliasAsset.asset_id)
        .where(AssetAliasModel.name.in_(names))
    )
    resolved: dict[str, set[AssetKey]] = defaultdict(set)
    for alias, name, uri in rows:
        resolved[alias].add(AssetKey(name, uri))
    return dict(resolved)


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
    """``(id, timestamp)`` of the events of the DAG's scheduled-on assets, and of those emitted
    through its scheduled-on aliases, after ``since``, oldest first.

    ``since`` is the end of the DAG's previous asset-triggered run's data interval (its newest
    event); None takes every event.
    """
    scheduled_on = select(DagScheduleAssetReference.asset_id).where(DagScheduleAssetReference.dag_id == dag_id)
    # Airflow 3: an alias-scheduled DAG's run takes the events emitted *through* its aliases.
    through_aliases = (
        select(AssetAliasAssetEvent.event_id)
        .join(DagScheduleAssetAliasReference, DagScheduleAssetAliasReference.alias_id == AssetAliasAssetEvent.alias_id)
        .where(DagScheduleAssetAliasReference.dag_id == dag_id)
    )
    query = select(AssetEvent.id, AssetEvent.timestamp).where(
        or_(AssetEvent.asset_id.in_(scheduled_on), AssetEvent.id.in_(through_aliases)))
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


def delete_queued(session: Session, *, dag_id: str | None = None, asset_id: int | None = None,
                  before: datetime | None = None) -> int:
    """Drop queued asset events (the API's "clear queued events"): those for ``dag_id``, of
    ``asset_id``, queued before ``before``; any left ``None`` does not narrow. The number deleted."""
    stmt = delete(AssetDagRunQueue)
    if dag_id is not None:
        stmt = stmt.where(AssetDagRunQueue.target_dag_id == dag_id)
    if asset_id is not None:
        stmt = stmt.where(AssetDagRunQueue.asset_id == asset_id)
    if before is not None:
        stmt = stmt.where(AssetDagRunQueue.created_at < before)
    return session.execute(stmt).rowcount or 0


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
    #: ``(name, group)`` of the aliases the event was emitted through, by name.
    source_aliases: tuple[tuple[str, str], ...] = ()

    @property
    def asset_key(self) -> AssetKey:
        return AssetKey(self.name, self.uri)

    def to_event(self) -> AssetEvent_:
        """The definition-layer event tasks receive in their context."""
        return AssetEvent_(
            id=self.id, asset=Asset(name=self.name, uri=self.uri, group=self.group), extra=dict(self.extra),
            timestamp=self.timestamp, source_dag_id=self.source_dag_id, source_task_id=self.source_task_id,
            source_run_id=self.source_run_id, source_map_index=self.source_map_index,
            source_aliases=tuple(AssetAlias(name, group) for name, group in self.source_aliases),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "uri": self.uri, "group": self.group, "extra": self.extra,
            "timestamp": self.timestamp.isoformat(), "source_dag_id": self.source_dag_id,
            "source_task_id": self.source_task_id, "source_run_id": self.source_run_id,
            "source_map_index": self.source_map_index,
            "source_aliases": [{"alias": name, "group": group} for name, group in self.source_aliases],
        }


_EVENT_COLUMNS = (
    AssetEvent.id, AssetModel.name, AssetModel.uri, AssetModel.group, AssetEvent.extra, AssetEvent.timestamp,
    AssetEvent.source_dag_id, AssetEvent.source_task_id, AssetEvent.source_run_id, AssetEvent.source_map_index,
)


def _event_infos(session: Session, rows: Iterable[Any]) -> list[AssetEventInfo]:
    rows = list(rows)
    sources: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if rows:  # one query for the aliases of all the events (most have none)
        for event_id, name, group in session.execute(
            select(AssetAliasAssetEvent.event_id, AssetAliasModel.name, AssetAliasModel.group)
            .join(AssetAliasModel, AssetAliasModel.id == AssetAliasAssetEvent.alias_id)
            .where(AssetAliasAssetEvent.event_id.in_([row[0] for row in rows]))
            .order_by(AssetAliasModel.name)
        ):
            sources[event_id].append((name, group))
    return [AssetEventInfo(*(row[:4]), dict(row[4] or {}), *(row[5:]), source_aliases=tuple(sources[row[0]]))
            for row in rows]


def list_events(session: Session, *, asset: str | None = None, key: AssetKey | None = None,
                dag_id: str | None = None, alias: str | None = None, limit: int | None = None) -> list[AssetEventInfo]:
    """Asset events, newest first; ``asset`` matches the name or the uri, ``key`` both exactly,
    ``dag_id`` the source DAG, ``alias`` the name of an alias the event was emitted through."""
    query = select(*_EVENT_COLUMNS).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
    if alias is not None:
        query = query.where(AssetEvent.id.in_(
            select(AssetAliasAssetEvent.event_id)
            .join(AssetAliasModel, AssetAliasModel.id == AssetAliasAssetEvent.alias_id)
            .where(AssetAliasModel.name == alias)))
    if asset is not None:
        query = query.where(or_(AssetModel.name == asset, AssetModel.uri == asset))
    if key is not None:
        query = query.where(AssetModel.name == key.name, AssetModel.uri == key.uri)
    if dag_id is not None:
        query = query.where(AssetEvent.source_dag_id == dag_id)
    query = query.order_by(AssetEvent.timestamp.desc(), AssetEvent.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return _event_infos(session, session.execute(query))


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
    return _event_infos(session, session.execute(query))


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


@dataclass(frozen=True)
class AliasInfo:
    """An asset alias with what it resolves to and the DAGs scheduled on it (listings)."""

    id: int
    name: str
    group: str
    resolves_to: tuple[AssetKey, ...]
    consumers: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "group": self.group,
            "resolves_to": [{"name": k.name, "uri": k.uri} for k in self.resolves_to],
            "consuming_dags": list(self.consumers),
        }


def list_aliases(session: Session, *, alias: str | None = None) -> list[AliasInfo]:
    """Asset aliases by name (``alias`` matches the name), with their assets and consumers."""
    query = select(AssetAliasModel).order_by(AssetAliasModel.name)
    if alias is not None:
        query = query.where(AssetAliasModel.name == alias)
    return alias_infos(session, list(session.scalars(query)))


def alias_infos(session: Session, models: list[AssetAliasModel]) -> list[AliasInfo]:
    """:class:`AliasInfo` of the given alias rows (two queries for all of them)."""
    if not models:
        return []
    ids = [m.id for m in models]
    resolved: dict[int, list[AssetKey]] = defaultdict(list)
    for alias_id, name, uri in session.execute(
        select(AssetAliasAsset.alias_id, AssetModel.name, AssetModel.uri)
        .join(AssetModel, AssetModel.id == AssetAliasAsset.asset_id)
        .where(AssetAliasAsset.alias_id.in_(ids)).order_by(AssetModel.name, AssetModel.uri)
    ):
        resolved[alias_id].append(AssetKey(name, uri))
    consumers: dict[int, list[str]] = defaultdict(list)
    for alias_id, dag_id in session.execute(
        select(DagScheduleAssetAliasReference.alias_id, DagScheduleAssetAliasReference.dag_id)
        .where(DagScheduleAssetAliasReference.alias_id.in_(ids)).order_by(DagScheduleAssetAliasReference.dag_id)
    ):
        consumers[alias_id].append(dag_id)
    return [AliasInfo(id=m.id, name=m.name, group=m.group, resolves_to=tuple(resolved[m.id]),
                      consumers=tuple(consumers[m.id])) for m in models]
