"""``/api/v2/pools``: list (with slot usage), get, create, update (``update_mask``), delete and bulk.

Slot usage is that of ``/api/v1`` (:func:`tradewind.observe.api.routes.pools.pool_dicts`): slots
of running and queued instances are occupied; scheduled and deferred ones are reported apart.
Tradewind's pools never count deferred instances (``include_deferred`` is always false), and a
pool's slots are a number of slots (no ``-1`` for unlimited): asking for either is a 400 naming
the field. ``default_pool`` cannot be deleted. Writes record ``/api/v1``'s audit events.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import ApiError, bad_request, conflict, not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import audit, can, read, write
from tradewind.observe.api.routes.pools import DEFAULT_POOL, pool_dicts
from tradewind.observe.api.v2.common import (
    API_V2,
    BulkBody,
    BulkHandler,
    BulkResponse,
    Model,
    apply_orders,
    filter_name,
    order_by_query,
    page_v2,
    run_bulk,
)
from tradewind.persist.models import Pool
from tradewind.persist.queries import pools as pool_queries

router = APIRouter(prefix=API_V2, tags=["Pool"])

ORDER = {"id": Pool.pool, "pool": Pool.pool, "name": Pool.pool}
EDITABLE = ("slots", "description", "include_deferred")


class PoolBody(Model):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=256)
    slots: int = Field(ge=-1, description="Number of slots. Use -1 for unlimited.")
    description: str | None = None
    include_deferred: bool = False
    team_name: str | None = Field(None, max_length=50)


class PoolPatchBody(Model):
    model_config = ConfigDict(extra="forbid")

    pool: str | None = None
    slots: int | None = Field(None, ge=-1, description="Number of slots. Use -1 for unlimited.")
    description: str | None = None
    include_deferred: bool | None = None
    team_name: str | None = Field(None, max_length=50)


class PoolResponse(Model):
    name: str
    slots: int
    description: str | None = None
    include_deferred: bool
    occupied_slots: int
    running_slots: int
    queued_slots: int
    scheduled_slots: int
    open_slots: int
    deferred_slots: int
    team_name: str | None = None


class PoolCollectionResponse(Model):
    pools: list[PoolResponse]
    total_entries: int


def not_found_error(name: str) -> ApiError:
    return not_found(f"The Pool with name: `{name}` was not found", title="Pool not found")


def _responses(session: Session, pools: list[Pool]) -> list[PoolResponse]:
    return [PoolResponse(**d) for d in pool_dicts(session, pools)]


def _pool_or_404(session: Session, name: str) -> Pool:
    pool = pool_queries.get_pool(session, name)
    if pool is None:
        raise not_found_error(name)
    return pool


def _check_supported(slots: int | None, include_deferred: bool | None, team_name: str | None) -> None:
    """400 for what Tradewind's pools cannot hold (unlimited slots, counting deferred tasks, teams)."""
    if slots is not None and slots < 0:
        raise bad_request("slots must be 0 or more: Tradewind's pools have no unlimited (-1) setting", field="slots")
    if include_deferred:
        raise bad_request("include_deferred cannot be true: Tradewind's pools never count deferred tasks",
                          field="include_deferred")
    if team_name is not None:
        raise bad_request("team_name cannot be set: Tradewind has no multi-team mode", field="team_name")


def _save(session: Session, name: str, slots: int, description: str | None) -> Pool:
    try:
        return pool_queries.set_pool(session, name, slots, description)
    except pool_queries.PoolError as exc:
        raise bad_request(str(exc), field="name") from None


def _create(session: Session, principal: Any, body: PoolBody) -> Pool:
    _check_supported(body.slots, body.include_deferred, body.team_name)
    if pool_queries.get_pool(session, body.name) is not None:
        raise conflict(f"The Pool with name: `{body.name}` already exists", title="Pool already exists")
    pool = _save(session, body.name, body.slots, body.description)
    audit(session, principal, "pool.create", extra={"pool": body.name, "slots": body.slots})
    return pool


def _update(session: Session, principal: Any, name: str, body: PoolBody | PoolPatchBody,
            update_mask: list[str] | None) -> Pool:
    """Change the fields of ``update_mask`` (else those the body gave); a pool is never renamed."""
    given = {f for f in body.model_fields_set if f in EDITABLE}
    fields = set(update_mask) if update_mask else given
    unknown = fields - set(EDITABLE) - {"name", "pool"}
    if unknown:
        raise bad_request(f"update_mask may name {', '.join(EDITABLE)}, not {', '.join(sorted(unknown))}",
                          field="update_mask")
    _check_supported(body.slots if "slots" in fields else None,
                     body.include_deferred if "include_deferred" in fields else None, body.team_name)
    if "slots" in fields and body.slots is None:
        raise bad_request("slots is named in update_mask but the body gives none", field="slots")
    pool = _pool_or_404(session, name)
    slots = body.slots if "slots" in fields and body.slots is not None else pool.slots
    description = body.description if "description" in fields else pool.description
    pool = _save(session, name, slots, description)
    audit(session, principal, "pool.edit", extra={"pool": name, "slots": slots})
    return pool


def _delete(session: Session, principal: Any, name: str) -> None:
    if name == DEFAULT_POOL:
        raise bad_request("Default Pool can't be deleted", field="pool_name")
    if not pool_queries.delete_pool(session, name):
        raise not_found_error(name)
    audit(session, principal, "pool.delete", extra={"pool": name})


@router.get("/pools", response_model=PoolCollectionResponse, summary="Get Pools")
def get_pools(
    request: Request,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("id", list(ORDER)),
    pool_name_pattern: str | None = Query(None, description="Names containing this ('|' between alternatives)."),
    pool_name_prefix_pattern: str | None = Query(None, description="Names starting with this."),
    _user: Any = can("pool", "read"),
) -> PoolCollectionResponse:
    stmt = filter_name(select(Pool), Pool.pool, pool_name_pattern, pool_name_prefix_pattern)
    stmt = apply_orders(stmt, order_by, ORDER, "id", tiebreak=(Pool.pool,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return PoolCollectionResponse(pools=_responses(session, rows), total_entries=total)


@router.get("/pools/{pool_name}", response_model=PoolResponse, summary="Get Pool")
def get_pool(request: Request, pool_name: str, _user: Any = can("pool", "read")) -> PoolResponse:
    with read(request) as session:
        return _responses(session, [_pool_or_404(session, pool_name)])[0]


@router.post("/pools", status_code=201, response_model=PoolResponse, summary="Post Pool")
def post_pool(request: Request, body: PoolBody, principal: Any = can("pool", "create")) -> PoolResponse:
    with write(request) as session:
        return _responses(session, [_create(session, principal, body)])[0]


@router.patch("/pools/{pool_name}", response_model=PoolResponse, summary="Patch Pool")
def patch_pool(
    request: Request,
    pool_name: str,
    body: PoolPatchBody,
    update_mask: list[str] | None = Query(None, description="Fields to update (slots, description, "
                                                           "include_deferred); all given ones when omitted."),
    principal: Any = can("pool", "edit"),
) -> PoolResponse:
    if body.pool is not None and body.pool != pool_name:
        raise bad_request(f"pools cannot be renamed: pool '{body.pool}' in the body differs from '{pool_name}'",
                          field="pool")
    with write(request) as session:
        return _responses(session, [_update(session, principal, pool_name, body, update_mask)])[0]


@router.delete("/pools/{pool_name}", status_code=204, response_class=Response, summary="Delete Pool")
def delete_pool(request: Request, pool_name: str, principal: Any = can("pool", "delete")) -> Response:
    with write(request) as session:
        _delete(session, principal, pool_name)
    return Response(status_code=204)


def _handler(principal: Any) -> BulkHandler:
    def exists(session: Session, name: str) -> bool:
        return pool_queries.get_pool(session, name) is not None

    return BulkHandler(
        noun="pools", key_name="name", key_of=lambda body: body.name, exists=exists,
        create=lambda session, body: _create(session, principal, body),
        update=lambda session, body, mask: _update(session, principal, body.name, body, mask),
        delete=lambda session, name: _delete(session, principal, name))


@router.patch("/pools", response_model=BulkResponse, summary="Bulk Pools")
def bulk_pools(request: Request, body: BulkBody[PoolBody], principal: Any = can("pool", "edit")) -> BulkResponse:
    """Create, update and delete several pools in one request (policies as for variables)."""
    with write(request) as session:
        return run_bulk(session, body, _handler(principal))
