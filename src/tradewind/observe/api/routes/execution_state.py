"""``/execution/v1/state``: the state stores (Airflow 3.3) for a remote try.

Task keys are always those of the token's own task instance (the path names only the key), so
a try can neither read nor write another instance's state. Writes need the try to be running
(409 otherwise), as every other write of :mod:`~tradewind.observe.api.routes.execution`; asset
keys are those of any active asset (Airflow: shared by every task naming it). Each route calls
:class:`~tradewind.execute.db_store.DbTryStore`, the store local tries use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from tradewind.observe.api.errors import ApiError
from tradewind.observe.api.routes.execution import PREFIX, TRY_TOKEN, KeyBody, _addressed, _require_running, _store
from tradewind.workloads import TaskKey

router = APIRouter(prefix=PREFIX + "/state", tags=["Execution"], include_in_schema=False)


def _call(method: Any, *args: Any) -> Any:
    from tradewind.execute.try_store import TryStoreRefused

    try:
        return method(*args)
    except TryStoreRefused as exc:  # a bad key or an unknown asset: the caller's input
        raise ApiError(403, str(exc)) from None


# --------------------------------------------------------------------------- task state
@router.get("/task/{state_key}")
def task_state_get(request: Request, state_key: str, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """``value`` is the JSON text stored, null when the key is absent or expired."""
    return {"value": _call(_store(request).task_state_get, token_key, state_key)}


class TaskStateBody(BaseModel):
    key: KeyBody
    value: str
    expires_at: datetime | None = None


@router.put("/task/{state_key}", status_code=204)
def task_state_set(request: Request, state_key: str, body: TaskStateBody, token_key: TaskKey = TRY_TOKEN) -> Response:
    key = _addressed(token_key, body.key)
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise ApiError(422, "expires_at must carry a UTC offset", field="expires_at")
    _require_running(request, key)
    _call(_store(request).task_state_set, key, state_key, body.value, body.expires_at)
    return Response(status_code=204)


@router.delete("/task/{state_key}", status_code=204)
def task_state_delete(request: Request, state_key: str, token_key: TaskKey = TRY_TOKEN) -> Response:
    _require_running(request, token_key)
    _call(_store(request).task_state_delete, token_key, state_key)
    return Response(status_code=204)


@router.delete("/task", status_code=204)
def task_state_clear(request: Request, token_key: TaskKey = TRY_TOKEN) -> Response:
    _require_running(request, token_key)
    _call(_store(request).task_state_clear, token_key)
    return Response(status_code=204)


# --------------------------------------------------------------------------- asset state
class AssetStateQuery(BaseModel):
    asset: dict[str, Any]
    state_key: str


class AssetStateWrite(BaseModel):
    key: KeyBody
    asset: dict[str, Any]
    state_key: str = ""
    value: str = ""


@router.post("/asset/get")
def asset_state_get(request: Request, body: AssetStateQuery, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    return {"value": _call(_store(request).asset_state_get, token_key, body.asset, body.state_key)}


def _writer(request: Request, body: AssetStateWrite, token_key: TaskKey) -> TaskKey:
    key = _addressed(token_key, body.key)
    _require_running(request, key)
    return key


@router.post("/asset/set", status_code=204)
def asset_state_set(request: Request, body: AssetStateWrite, token_key: TaskKey = TRY_TOKEN) -> Response:
    key = _writer(request, body, token_key)
    _call(_store(request).asset_state_set, key, body.asset, body.state_key, body.value)
    return Response(status_code=204)


@router.post("/asset/delete", status_code=204)
def asset_state_delete(request: Request, body: AssetStateWrite, token_key: TaskKey = TRY_TOKEN) -> Response:
    key = _writer(request, body, token_key)
    _call(_store(request).asset_state_delete, key, body.asset, body.state_key)
    return Response(status_code=204)


@router.post("/asset/clear", status_code=204)
def asset_state_clear(request: Request, body: AssetStateWrite, token_key: TaskKey = TRY_TOKEN) -> Response:
    key = _writer(request, body, token_key)
    _call(_store(request).asset_state_clear, key, body.asset)
    return Response(status_code=204)
