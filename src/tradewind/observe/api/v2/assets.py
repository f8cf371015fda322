"""``/api/v2/assets``: assets, aliases, asset events, the asset-triggered queue and materializing.

* ``POST /assets/events`` records an event by hand with the same query the task runner and
  ``/api/v1`` use (:func:`tradewind.persist.queries.assets.record_asset_events`): DAGs scheduled
  on the asset get it queued and the scheduler is woken.
* ``/assets/{id}/queuedEvents`` and ``/dags/{dag_id}/assets/queuedEvents`` show and drop rows of
  the queue asset-scheduled DAGs wait on (``before``: only rows queued before that time).
* ``POST /assets/{id}/materialize`` triggers the one DAG whose task produces the asset, through
  :func:`tradewind.schedule.actions.trigger_run` (as the UI's and the CLI's trigger).

``consuming_tasks`` is empty: Tradewind records the DAGs scheduled on an asset, not task inlets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import ConfigDict
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from tradewind.definition.masking import redact
from tradewind.observe.api.errors import bad_request, conflict, not_found
from tradewind.observe.api.pagination import Page, paginate, paginate_rows
from tradewind.observe.api.routes.common import audit, can, now, read, wake_scheduler, write
from tradewind.observe.api.v2.common import (
    API_V2,
    Model,
    acting,
    apply_orders,
    filter_name,
    filter_range,
    order_by_query,
    page_v2,
)
from tradewind.observe.api.v2.dag_runs import (
    AssetEventCollectionResponse,
    AssetEventResponse,
    DAGRunResponse,
    runs_created_by,
    run_response,
)
from tradewind.observe.api.v2.dag_versions import dag_v2_or_404
from tradewind.persist.models import (
    AssetAliasAsset,
    AssetAliasModel,
    AssetDagRunQueue,
    AssetEvent,
    AssetModel,
    DagModel,
    DagVersion,
)
from tradewind.persist.models import DagScheduleAssetReference as ScheduleRow
from tradewind.persist.models import TaskOutletAssetReference as OutletRow

from tradewind.persist.queries.asset_watchers import watcher_rows
from tradewind.persist.queries import assets as asset_queries
from tradewind.persist.queries.assets import record_asset_events
from tradewind.schedule import actions

router = APIRouter(prefix=API_V2, tags=["Asset"])


# ------------------------------------------------------------------------ bodies
class _Reference(Model):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class DagScheduleAssetReference(_Reference):
    dag_id: str
    created_at: datetime
    updated_at: datetime


class TaskOutletAssetReference(_Reference):
    dag_id: str
    task_id: str
    created_at: datetime
    updated_at: datetime


class TaskInletAssetReference(_Reference):
    dag_id: str
    task_id: str
    created_at: datetime
    updated_at: datetime


class AssetAliasResponse(Model):
    id: int
    name: str
    group: str


class AssetWatcherResponse(Model):
    name: str
    trigger_id: int
    created_date: datetime


class LastAssetEventResponse(Model):
    id: int | None = None
    timestamp: datetime | None = None


class AssetResponse(Model):
    id: int
    name: str
    uri: str
    group: str
    extra: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    scheduled_dags: list[DagScheduleAssetReference]
    producing_tasks: list[TaskOutletAssetReference]
    consuming_tasks: list[TaskInletAssetReference]
    aliases: list[AssetAliasResponse]
    watchers: list[AssetWatcherResponse]
    last_asset_event: LastAssetEventResponse | None = None


class AssetCollectionResponse(Model):
    assets: list[AssetResponse]
    total_entries: int


class AssetAliasCollectionResponse(Model):
    asset_aliases: list[AssetAliasResponse]
    total_entries: int


class CreateAssetEventsBody(Model):
    model_config = ConfigDict(extra="forbid")
    asset_id: int
    extra: dict[str, Any] = {}
    partition_key: str | None = None
    access_control: dict[str, Any] | None = None


class MaterializeAssetBody(Model):
    model_config = ConfigDict(extra="forbid")
    dag_run_id: str | None = None
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_after: datetime | None = None
    conf: dict[str, Any] | None = None
    note: str | None = None
    partition_key: str | None = None


class QueuedEventResponse(Model):
    dag_id: str
    asset_id: int
    created_at: datetime
    dag_display_name: str


class QueuedEventCollectionResponse(Model):
    queued_events: list[QueuedEventResponse]
    total_entries: int


# ------------------------------------------------------------------------ rows -> bodies
def _schedule_refs(session: Session, ids: list[int]) -> dict[int, list[DagScheduleAssetReference]]:
    out: dict[int, list[DagScheduleAssetReference]] = defaultdict(list)
    for row in session.scalars(select(ScheduleRow).where(ScheduleRow.asset_id.in_(ids))
                               .order_by(ScheduleRow.dag_id)):
        out[row.asset_id].append(DagScheduleAssetReference(dag_id=row.dag_id, created_at=row.created_at,
                                                            updated_at=row.created_at))
    return out


def _outlet_refs(session: Session, ids: list[int]) -> dict[int, list[TaskOutletAssetReference]]:
    out: dict[int, list[TaskOutletAssetReference]] = defaultdict(list)
    for row in session.scalars(select(OutletRow).where(OutletRow.asset_id.in_(ids))
                               .order_by(OutletRow.dag_id, OutletRow.task_id)):
        out[row.asset_id].append(TaskOutletAssetReference(dag_id=row.dag_id, task_id=row.task_id,
                                                           created_at=row.created_at, updated_at=row.created_at))
    return out


def _aliases(session: Session, ids: list[int]) -> dict[int, list[AssetAliasResponse]]:
    out: dict[int, list[AssetAliasResponse]] = defaultdict(list)
    for asset_id, alias in session.execute(
            select(AssetAliasAsset.asset_id, AssetAliasModel).join(AssetAliasModel, AssetAliasModel.id == AssetAliasAsset.alias_id)
            .where(AssetAliasAsset.asset_id.in_(ids)).order_by(AssetAliasModel.name)).all():
        out[asset_id].append(AssetAliasResponse(id=alias.id, name=alias.name, group=alias.group))
    return out


def _last_events(session: Session, ids: list[int]) -> dict[int, LastAssetEventResponse]:
    latest = (select(AssetEvent.asset_id, func.max(AssetEvent.id).label("id")).where(AssetEvent.asset_id.in_(ids))
              .group_by(AssetEvent.asset_id).subquery())
    rows = session.execute(select(AssetEvent).join(latest, latest.c.id == AssetEvent.id)).scalars()
    return {e.asset_id: LastAssetEventResponse(id=e.id, timestamp=e.timestamp) for e in rows}


def _watchers(session: Session, assets: list[AssetModel]) -> dict[int, list[AssetWatcherResponse]]:
    wanted = {(a.name, a.uri): a.id for a in assets}
    out: dict[int, list[AssetWatcherResponse]] = defaultdict(list)
    for (key, name), trigger in sorted(watcher_rows(session).items(), key=lambda kv: kv[0][1]):
        asset_id = wanted.get((key.name, key.uri))
        if asset_id is not None:
            out[asset_id].append(AssetWatcherResponse(name=name, trigger_id=trigger.id, created_date=trigger.created_date))
    return out


def asset_responses(session: Session, assets: list[AssetModel]) -> list[AssetResponse]:
    """A page of assets with their references, aliases, watchers and last event (one query each)."""
    ids = [a.id for a in assets]
    if not ids:
        return []
    scheduled, producing = _schedule_refs(session, ids), _outlet_refs(session, ids)
    aliases, last, watchers = _aliases(session, ids), _last_events(session, ids), _watchers(session, assets)
    return [AssetResponse(
        id=a.id, name=a.name, uri=a.uri, group=a.group, extra=redact(a.extra or {}), created_at=a.created_at,
        updated_at=a.updated_at, scheduled_dags=scheduled[a.id], producing_tasks=producing[a.id], consuming_tasks=[],
        aliases=aliases[a.id], watchers=watchers[a.id], last_asset_event=last.get(a.id)) for a in assets]


def event_responses(session: Session, rows: list[tuple[AssetEvent, AssetModel]]) -> list[AssetEventResponse]:
    created = runs_created_by(session, [e.id for e, _ in rows])
    return [AssetEventResponse(
        id=e.id, asset_id=a.id, uri=a.uri, name=a.name, group=a.group, extra=redact(e.extra or {}),
        source_task_id=e.source_task_id, source_dag_id=e.source_dag_id, source_run_id=e.source_run_id,
        source_map_index=-1 if e.source_map_index is None else e.source_map_index,
        created_dagruns=created.get(e.id, []), timestamp=e.timestamp) for e, a in rows]


def asset_or_404(session: Session, asset_id: int) -> AssetModel:
    asset = session.get(AssetModel, asset_id)
    if asset is None:
        raise not_found(f"The Asset with ID: `{asset_id}` was not found", title="Asset not found")
    return asset


# ------------------------------------------------------------------------ assets and aliases
ASSET_ORDER = {"id": AssetModel.id, "name": AssetModel.name, "uri": AssetModel.uri,
               "created_at": AssetModel.created_at, "updated_at": AssetModel.updated_at}
ALIAS_ORDER = {"id": AssetAliasModel.id, "name": AssetAliasModel.name}


def _used_by_dags(stmt: Select[Any], dag_ids: list[str] | None) -> Select[Any]:
    """Assets the listed DAGs are scheduled on or produce."""
    if not dag_ids:
        return stmt
    return stmt.where(or_(
        exists(select(ScheduleRow.asset_id).where(
            ScheduleRow.asset_id == AssetModel.id, ScheduleRow.dag_id.in_(dag_ids))),
        exists(select(OutletRow.asset_id).where(
            OutletRow.asset_id == AssetModel.id, OutletRow.dag_id.in_(dag_ids)))))


@router.get("/assets", response_model=AssetCollectionResponse, summary="List assets")
def get_assets(
    request: Request,
    page: Page = Depends(page_v2),
    name_pattern: str | None = None, name_prefix_pattern: str | None = None,
    uri_pattern: str | None = None, uri_prefix_pattern: str | None = None,
    dag_ids: list[str] | None = Query(None, description="Only assets these DAGs are scheduled on or produce."),
    only_active: bool = Query(True, description="Only assets some active DAG still references."),
    order_by: list[str] = order_by_query("id", list(ASSET_ORDER)),
    _user: Any = can("asset", "read"),
) -> AssetCollectionResponse:
    stmt = select(AssetModel)
    stmt = filter_name(stmt, AssetModel.name, name_pattern, name_prefix_pattern)
    stmt = filter_name(stmt, AssetModel.uri, uri_pattern, uri_prefix_pattern)
    stmt = _used_by_dags(stmt, dag_ids)
    if only_active:
        stmt = stmt.where(AssetModel.is_active.is_(True))
    stmt = apply_orders(stmt, order_by, ASSET_ORDER, "id", tiebreak=(AssetModel.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return AssetCollectionResponse(assets=asset_responses(session, rows), total_entries=total)


@router.get("/assets/aliases", response_model=AssetAliasCollectionResponse, summary="List asset aliases")
def get_asset_aliases(
    request: Request,
    page: Page = Depends(page_v2),
    name_pattern: str | None = None, name_prefix_pattern: str | None = None,
    order_by: list[str] = order_by_query("id", list(ALIAS_ORDER)),
    _user: Any = can("asset", "read"),
) -> AssetAliasCollectionResponse:
    stmt = filter_name(select(AssetAliasModel), AssetAliasModel.name, name_pattern, name_prefix_pattern)
    stmt = apply_orders(stmt, order_by, ALIAS_ORDER, "id", tiebreak=(AssetAliasModel.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return AssetAliasCollectionResponse(
            asset_aliases=[AssetAliasResponse(id=a.id, name=a.name, group=a.group) for a in rows], total_entries=total)


@router.get("/assets/aliases/{asset_alias_id}", response_model=AssetAliasResponse, summary="Get an asset alias")
def get_asset_alias(request: Request, asset_alias_id: int, _user: Any = can("asset", "read")) -> AssetAliasResponse:
    with read(request) as session:
        alias = session.get(AssetAliasModel, asset_alias_id)
        if alias is None:
            raise not_found(f"The Asset Alias with ID: `{asset_alias_id}` was not found", title="Asset alias not found")
        return AssetAliasResponse(id=alias.id, name=alias.name, group=alias.group)


# ------------------------------------------------------------------------ events
EVENT_ORDER = {"id": AssetEvent.id, "asset_id": AssetEvent.asset_id, "source_task_id": AssetEvent.source_task_id,
               "source_dag_id": AssetEvent.source_dag_id, "source_run_id": AssetEvent.source_run_id,
               "source_map_index": AssetEvent.source_map_index, "timestamp": AssetEvent.timestamp}


@router.get("/assets/events", response_model=AssetEventCollectionResponse, summary="List asset events")
def get_asset_events(
    request: Request,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("timestamp", list(EVENT_ORDER)),
    asset_id: int | None = None, source_dag_id: str | None = None, source_task_id: str | None = None,
    source_run_id: str | None = None, source_map_index: int | None = None,
    name_pattern: str | None = Query(None, description="Only events of assets whose name contains this."),
    name_prefix_pattern: str | None = None,
    timestamp_gte: datetime | None = None, timestamp_gt: datetime | None = None,
    timestamp_lte: datetime | None = None, timestamp_lt: datetime | None = None,
    _user: Any = can("asset", "read"),
) -> AssetEventCollectionResponse:
    stmt = select(AssetEvent, AssetModel).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
    for column, wanted in ((AssetEvent.asset_id, asset_id), (AssetEvent.source_dag_id, source_dag_id),
                           (AssetEvent.source_task_id, source_task_id), (AssetEvent.source_run_id, source_run_id),
                           (AssetEvent.source_map_index, source_map_index)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    stmt = filter_name(stmt, AssetModel.name, name_pattern, name_prefix_pattern)
    stmt = filter_range(stmt, AssetEvent.timestamp, gte=timestamp_gte, gt=timestamp_gt, lte=timestamp_lte,
                        lt=timestamp_lt)
    stmt = apply_orders(stmt, order_by, EVENT_ORDER, "timestamp", tiebreak=(AssetEvent.id,))
    with read(request) as session:
        rows, total = paginate_rows(session, stmt, page)
        return AssetEventCollectionResponse(asset_events=event_responses(session, [tuple(r) for r in rows]),
                                            total_entries=total)


@router.post("/assets/events", response_model=AssetEventResponse, summary="Record an asset event by hand")
def create_asset_event(request: Request, body: CreateAssetEventsBody,
                       principal: Any = can("asset", "create")) -> AssetEventResponse:
    from tradewind.definition.assets import AssetKey

    if body.partition_key is not None:
        raise bad_request("partition_key: Tradewind has no partitioned assets; leave it out", field="partition_key")
    with write(request) as session:
        asset = asset_or_404(session, body.asset_id)
        outlet = {"name": asset.name, "uri": asset.uri, "group": asset.group, "extra": asset.extra or {}}
        events = record_asset_events(session, [outlet], extras={AssetKey(asset.name, asset.uri): body.extra},
                                     now=now())
        audit(session, principal, "asset.event", extra={"asset_id": asset.id, "uri": asset.uri})
        out = event_responses(session, [(events[0], asset)])[0]
    wake_scheduler(request)  # DAGs scheduled on the asset may be due now
    return out


@router.get("/assets/{asset_id}", response_model=AssetResponse, summary="Get an asset")
def get_asset(request: Request, asset_id: int, _user: Any = can("asset", "read")) -> AssetResponse:
    with read(request) as session:
        return asset_responses(session, [asset_or_404(session, asset_id)])[0]


# ------------------------------------------------------------------------ materialize
def _producer(session: Session, asset_id: int) -> str:
    """The one active DAG with a task producing the asset (404 when none, 409 when several)."""
    dag_ids = sorted(set(session.scalars(
        select(OutletRow.dag_id).join(DagModel, DagModel.dag_id == OutletRow.dag_id)
        .where(OutletRow.asset_id == asset_id, DagModel.is_active.is_(True)))))
    if not dag_ids:
        raise not_found(f"No Dag materializes asset with ID: {asset_id}", title="No producing DAG")
    if len(dag_ids) > 1:
        raise conflict(f"More than one Dag materializes asset with ID: {asset_id} ({', '.join(dag_ids)})",
                       title="Several producing DAGs")
    return dag_ids[0]


@router.post("/assets/{asset_id}/materialize", response_model=DAGRunResponse,
             summary="Trigger the DAG that produces the asset")
def materialize_asset(request: Request, asset_id: int, body: MaterializeAssetBody | None = Body(None),
                      principal: Any = can("dag_run", "create")) -> DAGRunResponse:
    body = body or MaterializeAssetBody()
    for field in ("data_interval_start", "data_interval_end", "run_after", "partition_key"):
        if getattr(body, field) is not None:
            raise bad_request(f"{field}: a materializing run takes the DAG's own data interval and run time; "
                              "leave it out", field=field)
    with acting(request, principal) as (session, actor):
        asset_or_404(session, asset_id)
        run = actions.trigger_run(session, actor, _producer(session, asset_id), run_id=body.dag_run_id,
                                  logical_date=body.logical_date, conf=body.conf, note=body.note,
                                  config=request.app.state.config, now=now(), run_type="asset_materialization")
        out = run_response(session, run)
    return out


# ------------------------------------------------------------------------ queued events
def _before(value: str | None) -> datetime | None:
    """The ``before`` bound of queued events: an ISO 8601 date or date and time (UTC without a zone)."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"before: {value!r} is not an ISO 8601 date and time", field="before") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)  # naive: UTC, as Airflow


def _queue(dag_id: str | None, asset_id: int | None, before: str | None) -> Select[Any]:
    display = func.coalesce(DagVersion.snapshot["dag_display_name"].as_string(), DagModel.dag_id)
    stmt = (select(AssetDagRunQueue, display).join(DagModel, DagModel.dag_id == AssetDagRunQueue.target_dag_id)
            .outerjoin(DagVersion, DagVersion.id == DagModel.latest_version_id)
            .order_by(AssetDagRunQueue.target_dag_id, AssetDagRunQueue.asset_id))
    if dag_id is not None:
        stmt = stmt.where(AssetDagRunQueue.target_dag_id == dag_id)
    if asset_id is not None:
        stmt = stmt.where(AssetDagRunQueue.asset_id == asset_id)
    limit = _before(before)
    return stmt if limit is None else stmt.where(AssetDagRunQueue.created_at < limit)


def _queued(session: Session, stmt: Select[Any]) -> list[QueuedEventResponse]:
    return [QueuedEventResponse(dag_id=row.target_dag_id, asset_id=row.asset_id, created_at=row.created_at,
                                dag_display_name=name) for row, name in session.execute(stmt).all()]


def _drop(request: Request, principal: Any, dag_id: str | None, asset_id: int | None, before: str | None,
          missing: str) -> Response:
    """Delete the queue rows matching; 404 with ``missing`` when there were none."""
    with write(request) as session:
        if asset_id is not None:
            asset_or_404(session, asset_id)
        if dag_id is not None:
            dag_v2_or_404(session, dag_id)
        dropped = asset_queries.delete_queued(session, dag_id=dag_id, asset_id=asset_id, before=_before(before))
        if not dropped:
            raise not_found(missing, title="Queued event not found")
        audit(session, principal, "asset.queued_events.delete", dag_id=dag_id,
              extra={"asset_id": asset_id, "before": before, "rows": dropped})
    return Response(status_code=204)


def _queued_list(request: Request, owner_or_404: Callable[[Session], object], dag_id: str | None,
                 asset_id: int | None, before: str | None, missing: str) -> QueuedEventCollectionResponse:
    """The queued events of a DAG or of an asset, after ``owner_or_404`` checks that one exists;
    a 404 with ``missing`` when none is queued."""
    with read(request) as session:
        owner_or_404(session)
        found = _queued(session, _queue(dag_id, asset_id, before))
    if not found:
        raise not_found(missing, title="Queued event not found")
    return QueuedEventCollectionResponse(queued_events=found, total_entries=len(found))


@router.get("/assets/{asset_id}/queuedEvents", response_model=QueuedEventCollectionResponse,
            summary="List the DAGs an asset's events are queued for")
def get_asset_queued_events(request: Request, asset_id: int, before: str | None = None,
                            _user: Any = can("asset", "read")) -> QueuedEventCollectionResponse:
    return _queued_list(request, lambda session: asset_or_404(session, asset_id), None, asset_id, before,
                        f"Queue event with asset_id: `{asset_id}` was not found")


@router.delete("/assets/{asset_id}/queuedEvents", status_code=204, response_model=None,
               summary="Drop an asset's queued events")
def delete_asset_queued_events(request: Request, asset_id: int, before: str | None = None,
                               principal: Any = can("asset", "delete")) -> Response:
    return _drop(request, principal, None, asset_id, before, f"Queue event with asset_id: `{asset_id}` was not found")


@router.get("/dags/{dag_id}/assets/queuedEvents", response_model=QueuedEventCollectionResponse,
            summary="List the asset events queued for a DAG")
def get_dag_asset_queued_events(request: Request, dag_id: str, before: str | None = None,
                                _user: Any = can("asset", "read")) -> QueuedEventCollectionResponse:
    return _queued_list(request, lambda session: dag_v2_or_404(session, dag_id), dag_id, None, before,
                        f"Queue event with dag_id: `{dag_id}` was not found")


@router.delete("/dags/{dag_id}/assets/queuedEvents", status_code=204, response_model=None,
               summary="Drop the asset events queued for a DAG")
def delete_dag_asset_queued_events(request: Request, dag_id: str, before: str | None = None,
                                   principal: Any = can("asset", "delete")) -> Response:
    return _drop(request, principal, dag_id, None, before, f"Queue event with dag_id: `{dag_id}` was not found")


@router.get("/dags/{dag_id}/assets/{asset_id}/queuedEvents", response_model=QueuedEventResponse,
            summary="Get the queued event of one asset for one DAG")
def get_dag_asset_queued_event(request: Request, dag_id: str, asset_id: int, before: str | None = None,
                               _user: Any = can("asset", "read")) -> QueuedEventResponse:
    with read(request) as session:
        found = _queued(session, _queue(dag_id, asset_id, before))
    if not found:
        raise not_found(f"Queued event with dag_id: `{dag_id}` and asset_id: `{asset_id}` was not found",
                        title="Queued event not found")
    return found[0]


@router.delete("/dags/{dag_id}/assets/{asset_id}/queuedEvents", status_code=204, response_model=None,
               summary="Drop the queued event of one asset for one DAG")
def delete_dag_asset_queued_event(request: Request, dag_id: str, asset_id: int, before: str | None = None,
                                  principal: Any = can("asset", "delete")) -> Response:
    return _drop(request, principal, dag_id, asset_id, before,
                 f"Queued event with dag_id: `{dag_id}` and asset_id: `{asset_id}` was not found")
