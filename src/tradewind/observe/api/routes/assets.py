"""``/api/v1/assets``: assets (with producing tasks and consuming DAGs) and asset events.

``POST /assets/events`` records an event by hand (as ``tradewind assets`` can): the DAGs
scheduled on the asset are queued exactly as for an event a task produced.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate, paginate_rows
from tradewind.observe.api.routes.common import API, audit, can, iso, now, read, where_equal, wake_scheduler, write
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


def _events_query(order_by: str | None, asset_id: int | None, source_dag_id: str | None,
                  source_task_id: str | None, source_run_id: str | None, source_map_index: int | None) -> Select[Any]:
    """(event, asset) rows matching every filter given, in ``order_by``'s order: the query behind
    both ``/assets/events`` and its Airflow 2.x alias ``/datasets/events``."""
    stmt = select(AssetEvent, AssetModel).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
    stmt = where_equal(stmt, ((AssetEvent.asset_id, asset_id), (AssetEvent.source_dag_id, source_dag_id),
                             (AssetEvent.source_task_id, source_task_id), (AssetEvent.source_run_id, source_run_id),
                             (AssetEvent.source_map_index, source_map_index)))
    return apply_order(stmt, order_by, EVENT_ORDER, "timestamp", tiebreak=(AssetEvent.id,))


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
    stmt = _events_query(order_by, asset_id, source_dag_id, source_task_id, source_run_id, source_map_index)
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


# ------------------------------------------------------------------------- Airflow 2's datasets
# Airflow 2 calls assets "datasets" and names them by URI: these routes serve the same rows under
# Airflow 2's paths and body names (Dataset, DatasetEvent, QueuedEvent), for its clients.

class DatasetEventBody(BaseModel):
    """``POST /datasets/events``: a manual event of the dataset (asset) with that URI."""

    model_config = ConfigDict(extra="forbid")
    dataset_uri: str
    extra: dict[str, Any] | None = None


def _dataset_dict(asset: dict[str, Any]) -> dict[str, Any]:
    """An :func:`asset_dicts` entry under Airflow 2's Dataset names."""
    return {"id": asset["id"], "uri": asset["uri"], "extra": asset["extra"], "created_at": asset["created_at"],
            "updated_at": asset["updated_at"],
            "consuming_dags": [{"dag_id": c["dag_id"], "created_at": c["created_at"], "updated_at": c["created_at"]}
                               for c in asset["consuming_dags"]],
            "producing_tasks": [{"dag_id": p["dag_id"], "task_id": p["task_id"], "created_at": p["created_at"],
                                 "updated_at": p["created_at"]} for p in asset["producing_tasks"]]}


def _created_runs(session: Session, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The runs each event triggered (Airflow 2's ``created_dagruns``), one query per page."""
    from tradewind.persist.models import DagRun, DagRunAssetEvent

    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if event_ids:
        for event_id, run in session.execute(
            select(DagRunAssetEvent.event_id, DagRun).join(DagRun, DagRun.id == DagRunAssetEvent.dag_run_id)
            .where(DagRunAssetEvent.event_id.in_(event_ids)).order_by(DagRun.id)):
            found[event_id].append({
                "dag_id": run.dag_id, "run_id": run.run_id, "state": run.state,
                "logical_date": iso(run.logical_date or run.run_after), "start_date": iso(run.start_date),
                "end_date": iso(run.end_date), "data_interval_start": iso(run.data_interval_start),
                "data_interval_end": iso(run.data_interval_end)})
    return found


def _dataset_event_dicts(session: Session, rows: list[tuple[AssetEvent, AssetModel]]) -> list[dict[str, Any]]:
    runs = _created_runs(session, [e.id for e, _ in rows])
    return [{"dataset_id": e.asset_id, "dataset_uri": a.uri, "extra": e.extra or {},
             "source_dag_id": e.source_dag_id, "source_task_id": e.source_task_id,
             "source_run_id": e.source_run_id, "source_map_index": e.source_map_index,
             "timestamp": iso(e.timestamp), "created_dagruns": runs.get(e.id, [])} for e, a in rows]


def _asset_by_uri(session: Session, uri: str) -> AssetModel:
    """The asset with that URI (the oldest one, should several names share it), else 404."""
    asset = session.scalars(select(AssetModel).where(AssetModel.uri == uri).order_by(AssetModel.id)).first()
    if asset is None:
        raise not_found(f"The Dataset with uri: `{uri}` was not found", title="Dataset not found")
    return asset


def _before(before: str | None) -> Any:
    from datetime import datetime, timezone

    from tradewind.observe.api.errors import ApiError

    if before is None:
        return None
    try:
        moment = datetime.fromisoformat(before.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"before: {before!r} is not an ISO 8601 date or date and time",
                       title="Bad Request", field="before") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _queued_events(session: Session, *, dag_id: str | None, asset_id: int | None, before: str | None,
                   missing: str) -> list[dict[str, Any]]:
    """Queued events (Airflow 2's QueuedEvent: dag_id, uri, created_at); 404 with ``missing`` if none."""
    from tradewind.persist.models import AssetDagRunQueue

    stmt = (select(AssetDagRunQueue, AssetModel.uri).join(AssetModel, AssetModel.id == AssetDagRunQueue.asset_id)
            .order_by(AssetDagRunQueue.target_dag_id, AssetDagRunQueue.asset_id))
    if dag_id is not None:
        stmt = stmt.where(AssetDagRunQueue.target_dag_id == dag_id)
    if asset_id is not None:
        stmt = stmt.where(AssetDagRunQueue.asset_id == asset_id)
    limit = _before(before)
    if limit is not None:
        stmt = stmt.where(AssetDagRunQueue.created_at < limit)
    found = [{"dag_id": row.target_dag_id, "uri": uri, "created_at": iso(row.created_at)}
             for row, uri in session.execute(stmt)]
    if not found:
        raise not_found(missing, title="Queue event not found")
    return found


def _drop_queued(request: Request, principal: Any, *, dag_id: str | None, uri: str | None,
                 before: str | None, missing: str) -> None:
    from tradewind.persist.queries.assets import delete_queued

    with write(request) as session:
        asset_id = None if uri is None else _asset_by_uri(session, uri).id
        if not delete_queued(session, dag_id=dag_id, asset_id=asset_id, before=_before(before)):
            raise not_found(missing, title="Queue event not found")
        audit(session, principal, "asset.queued_events.delete", dag_id=dag_id, extra={"uri": uri})


@router.get("/datasets", summary="List datasets (Airflow 2's name of assets)", response_model=m.DatasetCollection)
def list_datasets(
    request: Request,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="id (default), uri, created_at, updated_at"),
    uri_pattern: str | None = Query(None, description="Only datasets whose uri contains this text."),
    dag_ids: str | None = Query(None, description="Comma-separated DAG ids: datasets they produce or consume."),
    _user: Any = can("asset", "read"),
) -> dict[str, Any]:
    stmt = select(AssetModel).where(AssetModel.is_active.is_(True))
    if uri_pattern:
        stmt = stmt.where(AssetModel.uri.contains(uri_pattern, autoescape=True))
    if dag_ids:
        wanted = [d.strip() for d in dag_ids.split(",") if d.strip()]
        stmt = stmt.where(AssetModel.id.in_(
            select(TaskOutletAssetReference.asset_id).where(TaskOutletAssetReference.dag_id.in_(wanted))
            .union(select(DagScheduleAssetReference.asset_id).where(DagScheduleAssetReference.dag_id.in_(wanted)))))
    stmt = apply_order(stmt, order_by, ASSET_ORDER, "id", tiebreak=(AssetModel.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"datasets": [_dataset_dict(a) for a in asset_dicts(session, rows)], "total_entries": total}


@router.get("/datasets/events", summary="List dataset events", response_model=m.DatasetEventCollection)
def list_dataset_events(
    request: Request,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="timestamp (default), id, asset_id, source_dag_id"),
    dataset_id: int | None = None,
    source_dag_id: str | None = None,
    source_task_id: str | None = None,
    source_run_id: str | None = None,
    source_map_index: int | None = None,
    _user: Any = can("asset", "read"),
) -> dict[str, Any]:
    stmt = _events_query(order_by, dataset_id, source_dag_id, source_task_id, source_run_id, source_map_index)
    with read(request) as session:
        rows, total = paginate_rows(session, stmt, page)
        return {"dataset_events": _dataset_event_dicts(session, list(rows)), "total_entries": total}


@router.post("/datasets/events", summary="Record a dataset event by hand", response_model=m.DatasetEventOut)
def create_dataset_event(request: Request, body: DatasetEventBody,
                         principal: Any = can("asset", "create")) -> dict[str, Any]:
    from tradewind.definition.assets import AssetKey

    with write(request) as session:
        asset = _asset_by_uri(session, body.dataset_uri)
        outlet = {"name": asset.name, "uri": asset.uri, "group": asset.group, "extra": asset.extra or {}}
        events = record_asset_events(session, [outlet], extras={AssetKey(asset.name, asset.uri): body.extra or {}},
                                     now=now())
        audit(session, principal, "asset.event", extra={"asset_id": asset.id, "uri": asset.uri})
        out = _dataset_event_dicts(session, [(events[0], asset)])[0]
    wake_scheduler(request)  # DAGs scheduled on the dataset may be due now
    return out


@router.get("/datasets/queuedEvent/{uri:path}", summary="List the DAGs a dataset's events are queued for",
            response_model=m.QueuedEventCollection)
def get_dataset_queued_events(request: Request, uri: str, before: str | None = None,
                              _user: Any = can("asset", "read")) -> dict[str, Any]:
    with read(request) as session:
        asset = _asset_by_uri(session, uri)
        found = _queued_events(session, dag_id=None, asset_id=asset.id, before=before,
                               missing=f"Queue event with dataset uri: `{uri}` was not found")
    return {"datasets": found, "total_entries": len(found)}


@router.delete("/datasets/queuedEvent/{uri:path}", status_code=204, response_model=None,
               summary="Drop a dataset's queued events")
def delete_dataset_queued_events(request: Request, uri: str, before: str | None = None,
                                 principal: Any = can("asset", "delete")) -> None:
    _drop_queued(request, principal, dag_id=None, uri=uri, before=before,
                 missing=f"Queue event with dataset uri: `{uri}` was not found")


@router.get("/datasets/{uri:path}", summary="Get a dataset by URI", response_model=m.DatasetOut)
def get_dataset(request: Request, uri: str, _user: Any = can("asset", "read")) -> dict[str, Any]:
    with read(request) as session:
        return _dataset_dict(asset_dicts(session, [_asset_by_uri(session, uri)])[0])


@router.get("/dags/{dag_id}/datasets/queuedEvent", summary="List the dataset events queued for a DAG",
            response_model=m.QueuedEventCollection)
def get_dag_dataset_queued_events(request: Request, dag_id: str, before: str | None = None,
                                  _user: Any = can("asset", "read")) -> dict[str, Any]:
    with read(request) as session:
        found = _queued_events(session, dag_id=dag_id, asset_id=None, before=before,
                               missing=f"Queue event with dag_id: `{dag_id}` was not found")
    return {"datasets": found, "total_entries": len(found)}


@router.delete("/dags/{dag_id}/datasets/queuedEvent", status_code=204, response_model=None,
               summary="Drop the dataset events queued for a DAG")
def delete_dag_dataset_queued_events(request: Request, dag_id: str, before: str | None = None,
                                     principal: Any = can("asset", "delete")) -> None:
    _drop_queued(request, principal, dag_id=dag_id, uri=None, before=before,
                 missing=f"Queue event with dag_id: `{dag_id}` was not found")


@router.get("/dags/{dag_id}/datasets/queuedEvent/{uri:path}", summary="Get a DAG's queued event of a dataset",
            response_model=m.QueuedEventOut)
def get_dag_dataset_queued_event(request: Request, dag_id: str, uri: str, before: str | None = None,
                                 _user: Any = can("asset", "read")) -> dict[str, Any]:
    with read(request) as session:
        asset = _asset_by_uri(session, uri)
        return _queued_events(session, dag_id=dag_id, asset_id=asset.id, before=before,
                              missing=f"Queue event with dag_id: `{dag_id}` and dataset uri: `{uri}` was not found")[0]


@router.delete("/dags/{dag_id}/datasets/queuedEvent/{uri:path}", status_code=204, response_model=None,
               summary="Drop a DAG's queued event of a dataset")
def delete_dag_dataset_queued_event(request: Request, dag_id: str, uri: str, before: str | None = None,
                                    principal: Any = can("asset", "delete")) -> None:
    _drop_queued(request, principal, dag_id=dag_id, uri=uri, before=before,
                 missing=f"Queue event with dag_id: `{dag_id}` and dataset uri: `{uri}` was not found")


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/upstreamDatasetEvents", summary="The dataset events that "
            "triggered a run", response_model=m.DatasetEventCollection)
def get_upstream_dataset_events(request: Request, dag_id: str, dag_run_id: str,
                                _user: Any = can("asset", "read")) -> dict[str, Any]:
    from tradewind.observe.api.routes.common import run_or_404
    from tradewind.persist.models import DagRunAssetEvent

    with read(request) as session:
        run = run_or_404(session, dag_id, dag_run_id)
        rows = list(session.execute(
            select(AssetEvent, AssetModel).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .join(DagRunAssetEvent, DagRunAssetEvent.event_id == AssetEvent.id)
            .where(DagRunAssetEvent.dag_run_id == run.id).order_by(AssetEvent.timestamp, AssetEvent.id)))
        return {"dataset_events": _dataset_event_dicts(session, rows), "total_entries": len(rows)}
