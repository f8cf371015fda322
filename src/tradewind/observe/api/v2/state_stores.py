"""State stores (Airflow 3.3) under ``/api/v2``: a task instance's keys and an asset's keys.

- ``/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/state-store[/{key}]``: list,
  get, set (PUT, with ``expires_at``: ``"default"`` = ``[state_store] default_retention_days``,
  null = never, or a time), change the value keeping the expiry (PATCH), delete, clear.
- ``/assets/{asset_id}/state-store[/{key}]``: list, get, set, delete, clear (asset keys never
  expire).

Values are JSON; the stores keep their JSON text (:mod:`tradewind.persist.queries.state_store`,
the same rows tries read and write). An expired task key reads as absent, as it does for a try.
Every write is audited.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ConfigDict
from sqlalchemy import or_, select

from tradewind.observe.api.errors import ApiError, not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import audit, can, now, read, ti_or_404, write
from tradewind.observe.api.v2.common import API_V2, Model, page_v2
from tradewind.persist.models import AssetModel, AssetStateStore, TaskStateStore
from tradewind.persist.queries import state_store as queries

router = APIRouter(prefix=API_V2, tags=["Task State Store"])

TASK = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/state-store"
ASSET = "/assets/{asset_id}/state-store"

MAP_INDEX = Query(-1, ge=-1, description="The mapped instance's index (-1: not mapped).")


class TaskStateStoreResponse(Model):
    key: str
    value: Any
    updated_at: datetime
    expires_at: datetime | None = None


class TaskStateStoreCollectionResponse(Model):
    task_state_store: list[TaskStateStoreResponse]
    total_entries: int


class TaskStateStoreBody(Model):
    model_config = ConfigDict(extra="forbid")

    value: Any
    expires_at: datetime | Literal["default"] | None = "default"


class TaskStateStorePatchBody(Model):
    model_config = ConfigDict(extra="forbid")

    value: Any


class AssetStateStoreLastUpdatedBy(Model):
    kind: Literal["task", "watcher", "api"]
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None


class AssetStateStoreResponse(Model):
    key: str
    value: Any
    updated_at: datetime
    last_updated_by: AssetStateStoreLastUpdatedBy | None = None


class AssetStateStoreCollectionResponse(Model):
    asset_state_store: list[AssetStateStoreResponse]
    total_entries: int


class AssetStateStoreBody(Model):
    model_config = ConfigDict(extra="forbid")

    value: Any


def _decoded(text: str) -> Any:
    """A stored value as JSON (text a try stored that is not JSON comes back as that text)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _encoded(value: Any) -> str:
    return json.dumps(value)


def _key(key: str) -> str:
    try:
        return queries.check_key(key)
    except queries.StateStoreError as exc:
        raise ApiError(422, str(exc), field="key") from None


def _expiry(request: Request, expires_at: datetime | str | None, at: datetime) -> datetime | None:
    """When a key written ``at`` expires: the default retention, never (None), or the time given."""
    if expires_at == "default":
        days = request.app.state.config.getint("state_store", "default_retention_days")
        return at + timedelta(days=days) if days > 0 else None
    if isinstance(expires_at, datetime) and expires_at.tzinfo is None:
        raise ApiError(422, "expires_at must carry a UTC offset (e.g. 2030-01-01T00:00:00Z)", field="expires_at")
    return expires_at if isinstance(expires_at, datetime) else None


# --------------------------------------------------------------------------- task state store
def _task_row(session: Any, ti: tuple[str, str, str, int], key: str) -> TaskStateStore:
    row = session.get(TaskStateStore, (*ti, _key(key)))
    if row is None or (row.expires_at is not None and row.expires_at <= now()):
        raise not_found(f"Task state store key '{key}' not found for task instance {ti[2]!r} (map_index {ti[3]}) "
                        f"of run {ti[1]!r} of DAG {ti[0]!r}", title="State store key not found")
    return row


def _task_body(row: TaskStateStore) -> TaskStateStoreResponse:
    return TaskStateStoreResponse(key=row.key, value=_decoded(row.value), updated_at=row.updated_at,
                                  expires_at=row.expires_at)


@router.get(TASK, response_model=TaskStateStoreCollectionResponse, summary="List Task State Store")
def list_task_state_store(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int = MAP_INDEX,
                          page: Page = Depends(page_v2),
                          _user: Any = can("task_instance", "read")) -> TaskStateStoreCollectionResponse:
    stmt = (select(TaskStateStore)
            .where(TaskStateStore.dag_id == dag_id, TaskStateStore.run_id == dag_run_id,
                   TaskStateStore.task_id == task_id, TaskStateStore.map_index == map_index,
                   or_(TaskStateStore.expires_at.is_(None), TaskStateStore.expires_at > now()))
            .order_by(TaskStateStore.key))
    with read(request) as session:
        ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        rows, total = paginate(session, stmt, page)
        return TaskStateStoreCollectionResponse(task_state_store=[_task_body(r) for r in rows], total_entries=total)


@router.get(TASK + "/{key}", response_model=TaskStateStoreResponse, summary="Get Task State Store")
def get_task_state_store(request: Request, key: str, dag_id: str, dag_run_id: str, task_id: str,
                         map_index: int = MAP_INDEX,
                         _user: Any = can("task_instance", "read")) -> TaskStateStoreResponse:
    with read(request) as session:
        ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        return _task_body(_task_row(session, (dag_id, dag_run_id, task_id, map_index), key))


@router.put(TASK + "/{key}", status_code=204, response_class=Response, summary="Set Task State Store")
def set_task_state_store(request: Request, key: str, dag_id: str, dag_run_id: str, task_id: str,
                         body: TaskStateStoreBody, map_index: int = MAP_INDEX,
                         principal: Any = can("task_instance", "edit")) -> Response:
    at = now()
    expires_at = _expiry(request, body.expires_at, at)
    with write(request) as session:
        ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        queries.set_task_state(session, (dag_id, dag_run_id, task_id, map_index), _key(key), _encoded(body.value),
                               expires_at, at)
        audit(session, principal, "task_state_store.set", dag_id=dag_id, run_id=dag_run_id, task_id=task_id,
              map_index=map_index, extra={"key": key})
    return Response(status_code=204)


@router.patch(TASK + "/{key}", response_model=TaskStateStoreResponse, summary="Patch Task State Store")
def patch_task_state_store(request: Request, key: str, dag_id: str, dag_run_id: str, task_id: str,
                           body: TaskStateStorePatchBody, map_index: int = MAP_INDEX,
                           principal: Any = can("task_instance", "edit")) -> TaskStateStoreResponse:
    """A new value for an existing key; its expiry stays."""
    ti = (dag_id, dag_run_id, task_id, map_index)
    with write(request) as session:
        ti_or_404(session, *ti)
        row = _task_row(session, ti, key)
        queries.set_task_state(session, ti, row.key, _encoded(body.value), row.expires_at, now())
        audit(session, principal, "task_state_store.edit", dag_id=dag_id, run_id=dag_run_id, task_id=task_id,
              map_index=map_index, extra={"key": key})
        return _task_body(_task_row(session, ti, key))


@router.delete(TASK + "/{key}", status_code=204, response_class=Response, summary="Delete Task State Store")
def delete_task_state_store(request: Request, key: str, dag_id: str, dag_run_id: str, task_id: str,
                            map_index: int = MAP_INDEX, principal: Any = can("task_instance", "edit")) -> Response:
    ti = (dag_id, dag_run_id, task_id, map_index)
    with write(request) as session:
        ti_or_404(session, *ti)
        _task_row(session, ti, key)
        queries.delete_task_state(session, ti, key)
        audit(session, principal, "task_state_store.delete", dag_id=dag_id, run_id=dag_run_id, task_id=task_id,
              map_index=map_index, extra={"key": key})
    return Response(status_code=204)


@router.delete(TASK, status_code=204, response_class=Response, summary="Clear Task State Store")
def clear_task_state_store(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                           all_map_indices: bool = Query(False, description="Every mapped instance's keys."),
                           map_index: int = MAP_INDEX, principal: Any = can("task_instance", "edit")) -> Response:
    with write(request) as session:
        if not all_map_indices:
            ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        count = queries.clear_task_state(session, (dag_id, dag_run_id, task_id, map_index),
                                         all_map_indices=all_map_indices)
        audit(session, principal, "task_state_store.clear", dag_id=dag_id, run_id=dag_run_id, task_id=task_id,
              map_index=None if all_map_indices else map_index, extra={"deleted": count})
    return Response(status_code=204)


# --------------------------------------------------------------------------- asset state store
def _asset_or_404(session: Any, asset_id: int) -> AssetModel:
    asset = session.get(AssetModel, asset_id)
    if asset is None:
        raise not_found(f"The Asset with ID: `{asset_id}` was not found", title="Asset not found")
    return asset


def _asset_row(session: Any, asset_id: int, key: str) -> AssetStateStore:
    row = session.get(AssetStateStore, (asset_id, _key(key)))
    if row is None:
        raise not_found(f"Asset state store key '{key}' not found for asset {asset_id}",
                        title="State store key not found")
    return row


def _asset_body(row: AssetStateStore) -> AssetStateStoreResponse:
    return AssetStateStoreResponse(key=row.key, value=_decoded(row.value), updated_at=row.updated_at)


@router.get(ASSET, response_model=AssetStateStoreCollectionResponse, tags=["Asset State Store"],
            summary="List Asset State Store")
def list_asset_state_store(request: Request, asset_id: int, page: Page = Depends(page_v2),
                           _user: Any = can("asset", "read")) -> AssetStateStoreCollectionResponse:
    stmt = select(AssetStateStore).where(AssetStateStore.asset_id == asset_id).order_by(AssetStateStore.key)
    with read(request) as session:
        _asset_or_404(session, asset_id)
        rows, total = paginate(session, stmt, page)
        return AssetStateStoreCollectionResponse(asset_state_store=[_asset_body(r) for r in rows],
                                                 total_entries=total)


@router.get(ASSET + "/{key}", response_model=AssetStateStoreResponse, tags=["Asset State Store"],
            summary="Get Asset State Store")
def get_asset_state_store(request: Request, key: str, asset_id: int,
                          _user: Any = can("asset", "read")) -> AssetStateStoreResponse:
    with read(request) as session:
        _asset_or_404(session, asset_id)
        return _asset_body(_asset_row(session, asset_id, key))


@router.put(ASSET + "/{key}", status_code=204, response_class=Response, tags=["Asset State Store"],
            summary="Set Asset State Store")
def set_asset_state_store(request: Request, key: str, asset_id: int, body: AssetStateStoreBody,
                          principal: Any = can("asset", "create")) -> Response:
    with write(request) as session:
        _asset_or_404(session, asset_id)
        queries.set_asset_state(session, asset_id, _key(key), _encoded(body.value), now())
        audit(session, principal, "asset_state_store.set", extra={"asset_id": asset_id, "key": key})
    return Response(status_code=204)


@router.delete(ASSET + "/{key}", status_code=204, response_class=Response, tags=["Asset State Store"],
               summary="Delete Asset State Store")
def delete_asset_state_store(request: Request, key: str, asset_id: int,
                             principal: Any = can("asset", "delete")) -> Response:
    with write(request) as session:
        _asset_or_404(session, asset_id)
        _asset_row(session, asset_id, key)
        queries.delete_asset_state(session, asset_id, key)
        audit(session, principal, "asset_state_store.delete", extra={"asset_id": asset_id, "key": key})
    return Response(status_code=204)


@router.delete(ASSET, status_code=204, response_class=Response, tags=["Asset State Store"],
               summary="Clear Asset State Store")
def clear_asset_state_store(request: Request, asset_id: int, principal: Any = can("asset", "delete")) -> Response:
    with write(request) as session:
        _asset_or_404(session, asset_id)
        count = queries.clear_asset_state(session, asset_id)
        audit(session, principal, "asset_state_store.clear", extra={"asset_id": asset_id, "deleted": count})
    return Response(status_code=204)
