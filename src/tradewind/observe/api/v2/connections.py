"""``/api/v2/connections``: list, get, create, update (``update_mask``), delete, bulk and test.

Connections are stored and read through :mod:`tradewind.persist.queries.connections` (which
encrypts password and extra) and built, masked and tested with ``/api/v1``'s code
(:mod:`tradewind.observe.api.routes.connections`, :mod:`tradewind.observe.connections`): a
response's ``password`` is ``***`` when one is set, and values under secret-looking keys of the
extra are ``***``; a write sending ``***`` back keeps the stored secret. Testing is allowed to
those who may create connections, as in ``/api/v1`` (Tradewind has no ``[core] test_connection``
switch). Writes record ``/api/v1``'s audit events.

Not served: ``POST /connections/defaults`` (Tradewind ships no list of default connections to
create) and ``/connections/enqueue-test`` (tests run synchronously here; there is no worker
queue for them).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.definition.connection import Connection
from tradewind.definition.masking import MASK
from tradewind.observe.api.errors import ApiError, bad_request, conflict, not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes import connections as v1
from tradewind.observe.api.routes.common import audit, can, read, write
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
from tradewind.observe.connections import masked_extra, try_connection
from tradewind.persist.models import Connection as ConnectionRow
from tradewind.persist.queries import connections as conn_queries

router = APIRouter(prefix=API_V2, tags=["Connection"])

ORDER = {"conn_id": ConnectionRow.conn_id, "connection_id": ConnectionRow.conn_id, "id": ConnectionRow.id,
         "conn_type": ConnectionRow.conn_type, "description": ConnectionRow.description,
         "host": ConnectionRow.host, "port": ConnectionRow.port}


class ConnectionBody(Model):
    """A connection as written (``extra`` is JSON text of an object)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    connection_id: str = Field(max_length=200, pattern=r"^[\w.-]+$")
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(None, alias="schema")
    port: int | None = None
    password: str | None = None
    extra: str | None = None
    team_name: str | None = Field(None, max_length=50)


class ConnectionResponse(Model):
    model_config = ConfigDict(populate_by_name=True)

    connection_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(None, alias="schema")
    port: int | None = None
    password: str | None = None
    extra: str | None = None
    team_name: str | None = None


class ConnectionCollectionResponse(Model):
    connections: list[ConnectionResponse]
    total_entries: int


class ConnectionTestResponse(Model):
    status: bool
    message: str


def not_found_error(conn_id: str) -> ApiError:
    return not_found(f"The Connection with connection_id: `{conn_id}` was not found", title="Connection not found")


def _response(conn: Connection) -> ConnectionResponse:
    """The connection as shown: password ``***`` when set, secret extra values ``***``."""
    extra = masked_extra(conn)
    return ConnectionResponse(
        connection_id=conn.conn_id, conn_type=conn.conn_type, description=conn.description, host=conn.host,
        login=conn.login, schema=conn.schema, port=conn.port, password=MASK if conn.password else None,
        extra=json.dumps(extra, sort_keys=True) if isinstance(extra, dict) else extra)


def _values(body: ConnectionBody) -> dict[str, Any]:
    values = body.model_dump(by_alias=True)
    return {name: values.get(name) for name in v1.FIELDS}


def _no_team(body: ConnectionBody) -> None:
    if body.team_name is not None:
        raise bad_request("team_name cannot be set: Tradewind has no multi-team mode", field="team_name")


def _get_or_404(session: Session, conn_id: str, fernet: Any) -> Connection:
    try:
        conn = conn_queries.get_connection(session, conn_id, fernet)
    except conn_queries.ConnectionStorageError as exc:
        raise v1.storage_error(exc) from None
    if conn is None:
        raise not_found_error(conn_id)
    return conn


def _save(session: Session, conn: Connection, fernet: Any) -> None:
    try:
        conn_queries.save_connection(session, conn, fernet)
    except conn_queries.ConnectionStorageError as exc:
        raise bad_request(str(exc), field="connection_id") from None


def _create(session: Session, principal: Any, fernet: Any, body: ConnectionBody) -> Connection:
    _no_team(body)
    conn = v1.build_connection(body.connection_id, _values(body))
    if conn_queries.connection_exists(session, body.connection_id):
        raise conflict(f"The Connection with connection_id: `{body.connection_id}` already exists",
                       title="Connection already exists")
    _save(session, conn, fernet)
    audit(session, principal, "connection.create", extra={"conn_id": body.connection_id})
    return conn


def _update(session: Session, principal: Any, fernet: Any, body: ConnectionBody,
            update_mask: list[str] | None) -> Connection:
    """Change the fields of ``update_mask`` (else every field the body gave)."""
    _no_team(body)
    given = {("schema" if name == "schema_" else name) for name in body.model_fields_set}
    fields = set(update_mask) if update_mask else given - {"connection_id", "team_name"}
    unknown = fields - set(v1.FIELDS) - {"connection_id"}
    if unknown:
        raise bad_request(f"update_mask may name {', '.join(v1.FIELDS)}, not {', '.join(sorted(unknown))}",
                          field="update_mask")
    old = _get_or_404(session, body.connection_id, fernet)
    sent = _values(body)
    values = {name: (sent[name] if name in fields else getattr(old, name)) for name in v1.FIELDS}
    conn = v1.build_connection(body.connection_id, v1.keep_masked(values, old))
    _save(session, conn, fernet)
    audit(session, principal, "connection.edit",
          extra={"conn_id": body.connection_id, "fields": sorted(fields - {"connection_id"})})
    return conn


def _delete(session: Session, principal: Any, conn_id: str) -> None:
    if not conn_queries.delete_connection(session, conn_id):
        raise not_found_error(conn_id)
    audit(session, principal, "connection.delete", extra={"conn_id": conn_id})


@router.get("/connections", response_model=ConnectionCollectionResponse, response_model_by_alias=True,
            summary="Get Connections")
def get_connections(
    request: Request,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("id", list(ORDER)),
    connection_id_pattern: str | None = Query(None, description="Ids containing this ('|' between alternatives)."),
    connection_id_prefix_pattern: str | None = Query(None, description="Ids starting with this."),
    _user: Any = can("connection", "read"),
) -> ConnectionCollectionResponse:
    stmt = filter_name(select(ConnectionRow), ConnectionRow.conn_id, connection_id_pattern, connection_id_prefix_pattern)
    stmt = apply_orders(stmt, order_by, ORDER, "id", tiebreak=(ConnectionRow.id,))
    fernet = v1.request_fernet(request)
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        try:
            conns = [conn_queries.to_connection(row, fernet) for row in rows]
        except conn_queries.ConnectionStorageError as exc:
            raise v1.storage_error(exc) from None
    return ConnectionCollectionResponse(connections=[_response(c) for c in conns], total_entries=total)


@router.get("/connections/{connection_id}", response_model=ConnectionResponse, summary="Get Connection")
def get_connection(request: Request, connection_id: str,
                   _user: Any = can("connection", "read")) -> ConnectionResponse:
    fernet = v1.request_fernet(request)
    with read(request) as session:
        return _response(_get_or_404(session, connection_id, fernet))


@router.post("/connections", status_code=201, response_model=ConnectionResponse, summary="Post Connection")
def post_connection(request: Request, body: ConnectionBody,
                    principal: Any = can("connection", "create")) -> ConnectionResponse:
    fernet = v1.request_fernet(request)
    with write(request) as session:
        return _response(_create(session, principal, fernet, body))


@router.patch("/connections/{connection_id}", response_model=ConnectionResponse, summary="Patch Connection")
def patch_connection(
    request: Request,
    connection_id: str,
    body: ConnectionBody,
    update_mask: list[str] | None = Query(None, description="Fields to update; all given ones when omitted."),
    principal: Any = can("connection", "edit"),
) -> ConnectionResponse:
    if body.connection_id != connection_id:
        raise bad_request("The connection_id in the request body does not match the URL parameter",
                          field="connection_id")
    fernet = v1.request_fernet(request)
    with write(request) as session:
        return _response(_update(session, principal, fernet, body, update_mask))


@router.delete("/connections/{connection_id}", status_code=204, response_class=Response,
               summary="Delete Connection")
def delete_connection(request: Request, connection_id: str,
                      principal: Any = can("connection", "delete")) -> Response:
    with write(request) as session:
        _delete(session, principal, connection_id)
    return Response(status_code=204)


@router.post("/connections/test", response_model=ConnectionTestResponse, summary="Test Connection")
def test_connection(request: Request, body: ConnectionBody,
                    principal: Any = can("connection", "create")) -> ConnectionTestResponse:
    """Test the connection in the body (stored or not) with the hook of its type. ``***`` for the
    password or an extra value means the stored one of that connection_id."""
    _no_team(body)
    values = _values(body)
    fernet = v1.request_fernet(request)
    with read(request) as session:
        stored = conn_queries.get_connection(session, body.connection_id, fernet)
    if stored is not None:
        values = v1.keep_masked(values, stored)
    ok, message = try_connection(v1.build_connection(body.connection_id, values))
    with write(request) as session:
        audit(session, principal, "connection.test", extra={"conn_id": body.connection_id, "ok": ok})
    return ConnectionTestResponse(status=ok, message=message)


def _handler(principal: Any, fernet: Any) -> BulkHandler:
    return BulkHandler(
        noun="connections", key_name="connection_id", key_of=lambda body: body.connection_id,
        exists=conn_queries.connection_exists,
        create=lambda session, body: _create(session, principal, fernet, body),
        update=lambda session, body, mask: _update(session, principal, fernet, body, mask),
        delete=lambda session, conn_id: _delete(session, principal, conn_id))


@router.patch("/connections", response_model=BulkResponse, summary="Bulk Connections")
def bulk_connections(request: Request, body: BulkBody[ConnectionBody],
                     principal: Any = can("connection", "edit")) -> BulkResponse:
    """Create, update and delete several connections in one request (policies as for variables)."""
    fernet = v1.request_fernet(request)
    with write(request) as session:
        return run_bulk(session, body, _handler(principal, fernet))
