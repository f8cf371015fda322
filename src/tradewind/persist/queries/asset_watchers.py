"""Asset watchers' triggers (``Asset(..., watchers=[AssetWatcher(name, trigger)])``) in the ``trigger`` table.

Each watcher of an asset that some active DAG is scheduled on is one ``trigger`` row with the
classpath :data:`WATCHER_CLASSPATH` and kwargs ``{"asset": {...}, "watcher": name, "classpath":
<the trigger's classpath>, "kwargs": <its stored kwargs>}``. Keeping them in the trigger table
gives them the triggerer's assignment, capacity and take-over of a dead triggerer's rows for
free; the marker classpath tells them from deferred tasks' triggers (no task instance waits on
them, so the trigger table's clean-up spares them by that classpath).

* :func:`sync_asset_watchers` — when a DAG version is stored: a row per declared watcher of the
  assets it is scheduled on (a changed trigger is updated and handed back, so it restarts).
* :func:`prune_asset_watchers` — drop the rows of assets no active DAG is scheduled on any more,
  and of watchers no such DAG declares (a renamed or removed watcher).
* :func:`dormant_watchers` — the rows a triggerer holds whose asset has no *unpaused* consumer:
  Airflow runs no watcher for an asset whose DAGs are all paused, so the triggerer leaves those
  idle (and starts them again when a consumer is unpaused).

An (asset, watcher name) pair is one row, whichever DAGs declare it. None of these commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.definition.assets import AssetKey, condition_from_expression
from tradewind.persist.models import AssetModel, DagModel, DagScheduleAssetReference, DagVersion, Trigger
from tradewind.persist.queries.triggers import WATCHER_CLASSPATH

__all__ = ["WATCHER_CLASSPATH", "declared_watchers", "dormant_watchers", "prune_asset_watchers",
           "sync_asset_watchers", "watcher_rows"]

WatcherKey = tuple[AssetKey, str]


def declared_watchers(snapshot: Mapping[str, Any]) -> dict[WatcherKey, dict[str, Any]]:
    """The watchers a snapshot's schedule declares: (asset key, watcher name) -> trigger row kwargs."""
    expression = (snapshot.get("timetable") or {}).get("condition")
    if not expression:
        return {}
    declared: dict[WatcherKey, dict[str, Any]] = {}
    for asset in condition_from_expression(expression).iter_assets():
        plain = {k: v for k, v in asset.to_dict().items() if k != "watchers"}
        for watcher in asset.watchers:
            stored = watcher.to_dict()
            declared[(asset.key, watcher.name)] = {
                "asset": plain, "watcher": watcher.name,
                "classpath": stored["trigger"]["classpath"], "kwargs": stored["trigger"]["kwargs"],
            }
    return declared


def watcher_rows(session: Session) -> dict[WatcherKey, Trigger]:
    """Every watcher trigger row, by (asset key, watcher name)."""
    rows: dict[WatcherKey, Trigger] = {}
    for row in session.scalars(select(Trigger).where(Trigger.classpath == WATCHER_CLASSPATH)):
        asset = (row.kwargs or {}).get("asset") or {}
        rows[(AssetKey(asset.get("name", ""), asset.get("uri", "")), (row.kwargs or {}).get("watcher", ""))] = row
    return rows


def sync_asset_watchers(session: Session, snapshot: Mapping[str, Any], now: datetime) -> None:
    """Make a trigger row for each watcher the DAG's schedule declares; then prune."""
    declared = declared_watchers(snapshot)
    if declared:
        existing = watcher_rows(session)
        for key, kwargs in declared.items():
            row = existing.get(key)
            if row is not None and row.kwargs != kwargs:
                # A changed trigger gets a new row: the triggerer running the old one cancels it
                # (its id is gone) and the new one starts wherever it is assigned.
                session.delete(row)
                row = None
            if row is None:
                session.add(Trigger(classpath=WATCHER_CLASSPATH, kwargs=kwargs, created_date=now))
        session.flush()
    prune_asset_watchers(session)


def _watched_by_active_dags(session: Session, *, unpaused: bool = False) -> dict[AssetKey, set[str]]:
    """Asset key -> the active (and, with ``unpaused``, unpaused) DAGs scheduled on it."""
    query = (
        select(AssetModel.name, AssetModel.uri, DagScheduleAssetReference.dag_id)
        .join(DagScheduleAssetReference, DagScheduleAssetReference.asset_id == AssetModel.id)
        .join(DagModel, DagModel.dag_id == DagScheduleAssetReference.dag_id)
        .where(DagModel.is_active.is_(True))
    )
    if unpaused:
        query = query.where(DagModel.is_paused.is_(False))
    rows = session.execute(query)
    watched: dict[AssetKey, set[str]] = {}
    for name, uri, dag_id in rows:
        watched.setdefault(AssetKey(name, uri), set()).add(dag_id)
    return watched


def _declared_by(session: Session, dag_ids: Iterable[str]) -> set[WatcherKey]:
    """The watchers those DAGs' latest snapshots declare."""
    wanted = sorted(set(dag_ids))
    if not wanted:
        return set()
    snapshots = session.scalars(
        select(DagVersion.snapshot).join(DagModel, DagModel.latest_version_id == DagVersion.id)
        .where(DagModel.dag_id.in_(wanted)))
    declared: set[WatcherKey] = set()
    for snapshot in snapshots:
        declared.update(declared_watchers(snapshot or {}))
    return declared


def prune_asset_watchers(session: Session) -> int:
    """Delete watcher rows no active DAG's schedule declares any more; returns how many.

    Cheap when there are no watcher rows (one read); otherwise it reads the latest snapshots
    of the DAGs scheduled on watched assets (few: only those assets' consumers)."""
    rows = watcher_rows(session)
    if not rows:
        return 0
    watched = _watched_by_active_dags(session)
    consumers = {dag_id for (asset_key, _), _row in rows.items() for dag_id in watched.get(asset_key, ())}
    declared = _declared_by(session, consumers)
    stale = [row.id for key, row in rows.items() if key not in declared]
    if stale:
        session.execute(delete(Trigger).where(Trigger.id.in_(stale)).execution_options(synchronize_session=False))
    return len(stale)


def dormant_watchers(session: Session, triggerer_id: int) -> set[int]:
    """The ids of the watcher rows assigned to ``triggerer_id`` whose asset no unpaused, active
    DAG is scheduled on (one read when it holds none)."""
    held = session.execute(select(Trigger.id, Trigger.kwargs).where(
        Trigger.classpath == WATCHER_CLASSPATH, Trigger.triggerer_id == triggerer_id)).all()
    if not held:
        return set()
    wanted = _watched_by_active_dags(session, unpaused=True)
    dormant = set()
    for trigger_id, kwargs in held:
        asset = (kwargs or {}).get("asset") or {}
        if AssetKey(asset.get("name", ""), asset.get("uri", "")) not in wanted:
            dormant.add(trigger_id)
    return dormant
