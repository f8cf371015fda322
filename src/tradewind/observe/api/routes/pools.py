"""``/api/v1/pools``: list (with slot usage), get, create, update, delete (never ``default_pool``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.observe.api import v1_models as m
from tradewind.observe.api import schemas
from tradewind.observe.api.errors import bad_request, conflict, not_found
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.common import API, audit, can, masked_fields, read, write
from tradewind.persist.models import Pool, TaskInstance
from tradewind.persist.queries import pools as pool_queries

router = APIRouter(prefix=API, tags=["Pool"])

DEFAULT_POOL = "default_pool"
#: Instance states that hold pool slots, by the field that reports them.
_SLOT_STATES = {"running": "running_slots", "queued": "queued_slots", "scheduled": "scheduled_slots",
                "deferred": "deferred_slots"}


def _usage(session: Session, names: list[str]) -> dict[str, dict[str, int]]:
    """pool -> {running_slots, queued_slots, ...} for the given pools, in one grouped query."""
    usage = {name: {field: 0 for field in _SLOT_STATES.values()} for name in names}
    if not names:
        return usage
    rows = session.execute(
        select(TaskInstance.pool, TaskInstance.state, func.coalesce(func.sum(TaskInstance.pool_slots), 0))
        .where(TaskInstance.pool.in_(names), TaskInstance.state.in_(list(_SLOT_STATES)))
        .group_by(TaskInstance.pool, TaskInstance.state))
    for pool, state, slots in rows:
        usage[pool][_SLOT_STATES[state]] = int(slots)
    return usage


def pool_dicts(session: Session, pools: list[Pool]) -> list[dict[str, Any]]:
    usage = _usage(session, [p.pool for p in pools])
    out = []
    for pool in pools:
        used = usage[pool.pool]
        occupied = used["running_slots"] + used["queued_slots"]
        out.append({"name": pool.pool, "slots": pool.slots, "description": pool.description,
                    "occupied_slots": occupied, "open_slots": pool.slots - occupied, "include_deferred": False,
                    **used})
    return out


def _pool_or_404(session: Session, name: str) -> Pool:
    pool = pool_queries.get_pool(session, name)
    if pool is None:
        raise not_found(f"Pool with name: '{name}' not found", title="Pool not found")
    return pool


@router.get("/pools", summary="List pools with their slot usage", response_model=m.PoolCollection)
def list_pools(request: Request, page: Page = Depends(page_params),
               order_by: str | None = Query(None, description="name (default), slots; '-' for descending"),
               _user: Any = can("pool", "read")) -> dict[str, Any]:
    stmt = apply_order(select(Pool), order_by, {"name": Pool.pool, "pool": Pool.pool, "slots": Pool.slots}, "name",
                       tiebreak=(Pool.pool,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"pools": pool_dicts(session, rows), "total_entries": total}


@router.get("/pools/{pool_name}", summary="Get a pool", response_model=m.PoolOut)
def get_pool(request: Request, pool_name: str, _user: Any = can("pool", "read")) -> dict[str, Any]:
    with read(request) as session:
        return pool_dicts(session, [_pool_or_404(session, pool_name)])[0]


@router.post("/pools", summary="Create a pool", response_model=m.PoolOut)
def create_pool(request: Request, body: schemas.PoolBody, principal: Any = can("pool", "create")) -> dict[str, Any]:
    with write(request) as session:
        if pool_queries.get_pool(session, body.name) is not None:
            raise conflict(f"Pool: '{body.name}' already exists", title="Pool already exists")
        try:
            pool = pool_queries.set_pool(session, body.name, body.slots, body.description)
        except pool_queries.PoolError as exc:
            raise bad_request(str(exc), field="name") from None
        audit(session, principal, "pool.create", extra={"pool": body.name, "slots": body.slots})
        return pool_dicts(session, [pool])[0]


@router.patch("/pools/{pool_name}", summary="Update a pool's slots or description (update_mask)",
              response_model=m.PoolOut)
def patch_pool(
    request: Request,
    pool_name: str,
    body: schemas.PoolPatchBody,
    update_mask: list[str] | None = Query(None, description="Fields to update (slots, description); all given "
                                                           "ones when omitted."),
    principal: Any = can("pool", "edit"),
) -> dict[str, Any]:
    if body.name is not None and body.name != pool_name:
        raise bad_request(f"pools cannot be renamed: name '{body.name}' in the body differs from '{pool_name}'",
                          field="name")
    editable = ("slots", "description")
    fields = masked_fields(update_mask, (f for f in editable if f in body.model_fields_set), editable,
                           ignored={"name"})
    if "slots" in fields and body.slots is None:
        raise bad_request("update_mask names slots but the body gives none", field="slots")
    with write(request) as session:
        pool = _pool_or_404(session, pool_name)
        slots = body.slots if "slots" in fields and body.slots is not None else pool.slots
        description = body.description if "description" in fields else pool.description
        pool = pool_queries.set_pool(session, pool_name, slots, description)
        audit(session, principal, "pool.edit", extra={"pool": pool_name, "slots": slots})
        return pool_dicts(session, [pool])[0]


@router.delete("/pools/{pool_name}", status_code=204, summary="Delete a pool (not default_pool)")
def delete_pool(request: Request, pool_name: str, principal: Any = can("pool", "delete")) -> Response:
    if pool_name == DEFAULT_POOL:
        raise bad_request("Default Pool can't be deleted (set its slots instead)", field="pool_name")
    with write(request) as session:
        if not pool_queries.delete_pool(session, pool_name):
            raise not_found(f"Pool with name: '{pool_name}' not found", title="Pool not found")
        audit(session, principal, "pool.delete", extra={"pool": pool_name})
    return Response(status_code=204)
