"""``/api/v1/assets``: assets (with producing tasks and consuming DAGs) and asset events.

``POST /assets/events`` records an event by hand (as ``tradewind assets`` can): the DAGs
scheduled on the asset are queued exactly as for an event a task produced.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate, paginate_rows
from tradewind.observe.api.routes.common import API, audit, can, iso, now, read, wake_scheduler, write
from tradewind.persist.models import (
    AssetAliasAssetEvent,
    AssetAliasModel,
    AssetEvent,
    AssetModel,
    DagScheduleAssetReference,
    TaskOutletAssetReference,
)
from tradewind.persist.queries.assets import alias_infos, record_asset_events

router = APIRouter(prefix=API, tags=["Asset"])

ASSET_ORDER = {"id": AssetModel.id, "name": AssetModel.name, "uri": AssetModel.uri,
               "created_at": AssetModel.created_at, "updated_at": AssetModel.updated_at}
EVENT_ORDER = {"id": AssetEvent.id, "timestamp": AssetEvent.timestamp, "asset_id": AssetEvent.asset_id,
               "source_dag_id": AssetEvent.source_dag_id}


class AssetEventBody(BaseModel):
    """``POST /assets/events``: a manual event of one asset."""

    model_config = ConfigDict(extra="forbid")
    asset_id: int
    extra: dict[str, Any] = {}


def asset_dicts(session: Session, assets: list[AssetModel]) -> list[dict[str, Any]]:
    """API dicts with producing tasks and consuming DAGs, read for the whole page at once."""
    ids = [a.id for a in assets]
    producers: dict[int, list[dict[str, str]]] = defaultdict(list)
    consumers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for asset_id, dag_id, task_id, created in session.execute(
            select(TaskOutletAssetReference.asset_id, TaskOutletAssetReference.dag_id,
                   TaskOutletAssetReference.task_id, TaskOutletAssetReference.created_at)
            .where(TaskOutletAssetReference.asset_id.in_(ids))
            .order_by(TaskOutletAssetReference.dag_id, TaskOutletAssetReference.task_id)):
            producers[asset_id].append({"dag_id": dag_id, "task_id": task_id, "created_at": iso(created)})
        for asset_id, dag_id, created in session.execute(
            select(DagScheduleAssetReference.asset_id, DagScheduleAssetReference.dag_id,
                   DagScheduleAssetReference.created_at)
            .where(DagScheduleAssetReference.asset_id.in_(ids)).order_by(DagScheduleAssetReference.dag_id)):
            consumers[asset_id].append({"dag_id": dag_id, "created_at": iso(created)})
    return [{"id": a.id, "name": a.name, "uri": a.uri, "group": a.group, "extra": a.extra or {},
             "is_active": a.is_active, "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
             "producing_tasks": producers[a.id], "consuming_dags": consumers[a.id]} for a in assets]


def _event_dict(event: AssetEvent, asset: AssetModel, aliases: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": event.id, "asset_id": event.asset_id, "name": asset.name, "uri": asset.uri, "group": asset.group,
            "extra": event.extra or {}, "source_dag_id": event.source_dag_id,
            "source_task_id": event.source_task_id, "source_run_id": event.source_run_id,
            "source_map_index": event.source_map_index, "timestamp": iso(event.timestamp),
            "source_aliases": aliases or []}


def _source_aliases(session: Session, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The aliases each event was emitted through (Airflow's ``source_aliases``), one query per page."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if event_ids:
        for event_id, alias_id, name, group in session.execute(
            select(AssetAliasAssetEvent.event_id, AssetAliasModel.id, AssetAliasModel.name, AssetAliasModel.group)
            .join(AssetAliasModel, AssetAliasModel.id == AssetAliasAssetEvent.alias_id)
            .where(AssetAliasAssetEvent.event_id.in_(event_ids)).order_by(AssetAliasModel.name)):
            found[event_id].append({"id": alias_id, "name": name, "group": group})
    return found


@router.get("/assets", summary="List assets", response_model=m.AssetCollection)
def list_assets(
    request: Request,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="id (default), name, uri, created_at, updated_at"),
    name_pattern: str | None = Query(None, description="Only assets whose name contains this text."),
    uri_pattern: str | None = Query(None, description="Only assets whose uri contains this text."),
    only_active: bool = Query(True, description="Only assets some active DAG still references."),
    _user: Any = can("asset", "read"),
) -> dict[str, Any]:
    stmt = select(AssetModel)
    if name_pattern:
        stmt = stmt.where(AssetModel.name.contains(name_pattern, autoescape=True))
    if uri_pattern:
        stmt = stmt.where(AssetModel.uri.contains(uri_pattern, autoescape=True))
    if only_active:
        stmt = stmt.where(AssetModel.is_active.is_(True))
    stmt = apply_order(stmt, order_by, ASSET_ORDER, "id", tiebreak=(AssetModel.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"assets": asset_dicts(session, rows), "total_entries": total}


@router.get("/assets/events", summary="List asset events", response_model=m.AssetEventCollection)
def list_asset_events(
    request: Request,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="timestamp (default), id, asset_id, source_dag_id"),
    asset_id: int | None = None,
    source_dag_id: str | None = None,
    source_task_id: str | None = None,
    source_run_id: str | None = None,
    source_map_index: int | None = None,
    _user: Any = can("asset", "read"),
) -> dict[str, Any]:
    stmt = select(AssetEvent, AssetModel).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
    for column, wanted in ((AssetEvent.asset_id, asset_id), (AssetEvent.source_dag_id, source_dag_id),
                           (AssetEvent.source_task_id, source_task_id), (AssetEvent.source_run_id, source_run_id),
                           (AssetEvent.source_map_index, source_map_index)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    stmt = apply_order(stmt, order_by, EVENT_ORDER, "timestamp", tiebreak=(AssetEvent.id,))
    with read(request) as session:
        rows, total = paginate_rows(session, stmt, page)
        aliases = _source_aliases(session, [e.id for e, _ in rows])
        return {"asset_events": [_event_dict(e, a, aliases.get(e.id)) for e, a in rows], "total_entries": total}


@router.post("/assets/events", summary="Record an asset event by hand", response_model=m.AssetEventOut)
def create_asset_event(request: Request, body: AssetEventBody,
                       principal: Any = can("asset", "create")) -> dict[str, Any]:
    from tradewind.definition.assets import AssetKey

    with write(request) as session:
        asset = session.get(AssetModel, body.asset_id)
        if asset is None:
            raise not_found(f"Asset with id {body.asset_id} not found", title="Asset not found")
        outlet = {"name": asset.name, "uri": asset.uri, "group": asset.group, "extra": asset.extra or {}}
        events = record_asset_events(session, [outlet], extras={AssetKey(asset.name, asset.uri): body.extra},
                                     now=now())
        audit(session, principal, "asset.event", extra={"asset_id": asset.id, "uri": asset.uri})
        out = _event_dict(events[0], asset)
    wake_scheduler(request)  # DAGs scheduled on the asset may be due now
    return out


@router.get("/assets/aliases", summary="List asset aliases", response_model=m.AssetAliasCollection)
def list_asset_aliases(
    request: Request,
    page: Page = Depends(page_params),
    name_pattern: str | None = Query(None, description="Only aliases whose name contains this text."),
    _user: Any = can("asset", "read"),
) -> dict[str, Any]:
    """Aliases by name, each with the assets it resolves to and the DAGs scheduled on it."""
    stmt = select(AssetAliasModel).order_by(AssetAliasModel.name)
    if name_pattern:
        stmt = stmt.where(AssetAliasModel.name.contains(name_pattern, autoescape=True))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"asset_aliases": [i.as_dict() for i in alias_infos(session, rows)], "total_entries": total}


@router.get("/assets/{asset_id}", summary="Get an asset", response_model=m.AssetOut)
def get_asset(request: Request, asset_id: int, _user: Any = can("asset", "read")) -> dict[str, Any]:
    with read(request) as session:
        asset = session.get(AssetModel, asset_id)
        if asset is None:
            raise not_found(f"Asset with id {asset_id} not found", title="Asset not found")
        return asset_dicts(session, [asset])[0]
