"""``/api/v1/connections``: list, get, create, update (with ``update_mask``), delete, and test.

Airflow's field names (``connection_id``, ``conn_type``, ``description``, ``host``, ``login``,
``schema``, ``port``, ``extra`` as JSON text, ``password`` write-only). Responses never carry the
password, and values under secret-looking keys of the extra are ``***``. A write that sends back
``***`` (a form re-submitting what it was shown) keeps the stored secret instead of storing the
mask.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tradewind.definition.connection import Connection, InvalidConnectionError
from tradewind.definition.masking import MASK
from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import ApiError, bad_request, conflict, not_found
from tradewind.observe.api.pagination import Page, page_params
from tradewind.observe.api.routes.common import API, audit, can, masked_fields, read, write
from tradewind.observe.connections import masked_extra, try_connection
from tradewind.persist.queries import connections as conn_queries

router = APIRouter(prefix=API, tags=["Connection"])

FIELDS = ("conn_type", "description", "host", "login", "schema", "port", "password", "extra")


class ConnectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=250)
    conn_type: str = Field(min_length=1, max_length=500)
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(None, alias="schema")
    port: int | None = None
    password: str | None = None
    extra: str | None = None


class ConnectionPatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str | None = Field(None, min_length=1, max_length=250)
    conn_type: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(None, alias="schema")
    port: int | None = None
    password: str | None = None
    extra: str | None = None


def connection_dict(conn: Connection) -> dict[str, Any]:
    """The API form: no password, secret extra values masked, extra as JSON text (Airflow's)."""
    extra = masked_extra(conn)
    return {
        "connection_id": conn.conn_id,
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "login": conn.login,
        "schema": conn.schema,
        "port": conn.port,
        "extra": json.dumps(extra, sort_keys=True) if isinstance(extra, dict) else extra,
    }


def request_fernet(request: Request) -> Any:
    """The app's Fernet keys (from its config); a 500 naming the problem when they are unusable."""
    from tradewind.persist.fernet import FernetKeyError, fernet_from_config

    try:
        return fernet_from_config(request.app.state.config)
    except FernetKeyError as exc:
        raise ApiError(500, f"connections cannot be encrypted: {exc}") from None


def storage_error(exc: Exception) -> ApiError:
    """The API error of a failed connection read/write: 500 for an undecryptable secret, else 400."""
    if isinstance(exc, conn_queries.ConnectionStorageError) and "cannot be decrypted" in str(exc):
        return ApiError(500, str(exc))
    return bad_request(str(exc))


def build_connection(conn_id: str, values: dict[str, Any]) -> Connection:
    """A :class:`Connection` from a body's values; 400 (field ``extra``) when ``extra`` is not a JSON object."""
    extra = values.get("extra")
    if extra not in (None, ""):
        try:
            parsed = json.loads(extra)
        except ValueError as exc:
            raise bad_request(f"extra is not valid JSON: {exc}", field="extra") from None
        if not isinstance(parsed, dict):
            raise bad_request("extra must be a JSON object", field="extra")
    try:
        return Connection(conn_id=conn_id, **{k: values.get(k) for k in FIELDS})
    except InvalidConnectionError as exc:
        raise bad_request(str(exc)) from None


def keep_masked(new: dict[str, Any], old: Connection) -> dict[str, Any]:
    """``***`` sent back for the password or an extra value means "unchanged": keep the stored secret."""
    out = dict(new)
    if out.get("password") == MASK:
        out["password"] = old.password
    if out.get("extra"):
        try:
            extra = json.loads(out["extra"])
        except ValueError:
            return out
        stored = old.extra_dejson
        if isinstance(extra, dict):
            out["extra"] = json.dumps({k: stored.get(k, v) if v == MASK else v for k, v in extra.items()})
    return out


@router.get("/connections", summary="List connections", response_model=m.ConnectionCollection)
def list_connections(request: Request, page: Page = Depends(page_params),
                     _user: Any = can("connection", "read")) -> dict[str, Any]:
    fernet = request_fernet(request)
    with read(request) as session:
        try:
            conns = conn_queries.list_connections(session, fernet, limit=page.limit, offset=page.offset)
        except conn_queries.ConnectionStorageError as exc:
            raise storage_error(exc) from None
        total = conn_queries.count_connections(session)
    return {"connections": [connection_dict(c) for c in conns], "total_entries": total}


def _get_or_404(session: Any, conn_id: str, fernet: Any) -> Connection:
    try:
        conn = conn_queries.get_connection(session, conn_id, fernet)
    except conn_queries.ConnectionStorageError as exc:
        raise storage_error(exc) from None
    if conn is None:
        raise not_found(f"The Connection with connection_id: `{conn_id}` was not found",
                        title="Connection not found")
    return conn


@router.get("/connections/{connection_id}", summary="Get a connection", response_model=m.ConnectionOut)
def get_connection(request: Request, connection_id: str, _user: Any = can("connection", "read")) -> dict[str, Any]:
    fernet = request_fernet(request)
    with read(request) as session:
        return connection_dict(_get_or_404(session, connection_id, fernet))


@router.post("/connections", summary="Create a connection", response_model=m.ConnectionOut)
def create_connection(request: Request, body: ConnectionBody,
                      principal: Any = can("connection", "create")) -> dict[str, Any]:
    values = body.model_dump(by_alias=True)
    conn = build_connection(body.connection_id, values)
    fernet = request_fernet(request)
    with write(request) as session:
        if conn_queries.connection_exists(session, body.connection_id):
            raise conflict(f"Connection already exist. ID: {body.connection_id}", title="Connection already exists")
        try:
            conn_queries.add_connection(session, conn, fernet)
        except conn_queries.ConnectionStorageError as exc:
            raise bad_request(str(exc), field="connection_id") from None
        audit(session, principal, "connection.create", extra={"conn_id": body.connection_id})
    return connection_dict(conn)


@router.patch("/connections/{connection_id}", summary="Update a connection (update_mask: the fields to change)",
              response_model=m.ConnectionOut)
def patch_connection(
    request: Request,
    connection_id: str,
    body: ConnectionPatchBody,
    update_mask: list[str] | None = Query(None, description="Fields to update; all given ones when omitted."),
    principal: Any = can("connection", "edit"),
) -> dict[str, Any]:
    if body.connection_id is not None and body.connection_id != connection_id:
        raise bad_request(f"connection_id '{body.connection_id}' in the body does not match '{connection_id}' in "
                          "the path", field="connection_id")
    given = {("schema" if name == "schema_" else name) for name in body.model_fields_set} - {"connection_id"}
    fields = masked_fields(update_mask, given, FIELDS)
    sent = body.model_dump(by_alias=True)
    fernet = request_fernet(request)
    with write(request) as session:
        old = _get_or_404(session, connection_id, fernet)
        values = {name: (sent[name] if name in fields else getattr(old, name)) for name in FIELDS}
        conn = build_connection(connection_id, keep_masked(values, old))
        try:
            conn_queries.save_connection(session, conn, fernet)
        except conn_queries.ConnectionStorageError as exc:
            raise bad_request(str(exc)) from None
        audit(session, principal, "connection.edit", extra={"conn_id": connection_id, "fields": sorted(fields)})
    return connection_dict(conn)


@router.delete("/connections/{connection_id}", status_code=204, summary="Delete a connection")
def delete_connection(request: Request, connection_id: str, principal: Any = can("connection", "delete")) -> Response:
    with write(request) as session:
        if not conn_queries.delete_connection(session, connection_id):
            raise not_found(f"The Connection with connection_id: `{connection_id}` was not found",
                            title="Connection not found")
        audit(session, principal, "connection.delete", extra={"conn_id": connection_id})
    return Response(status_code=204)


@router.post("/connections/test", summary="Test a connection with the hook of its type", response_model=m.ConnectionTest)
def post_connection_test(request: Request, body: ConnectionBody,
                    principal: Any = can("connection", "create")) -> dict[str, Any]:
    """Test the connection in the body (stored or not). ``***`` for the password or an extra value means the
    stored one of that connection_id, so a form showing masked values can test what is stored."""
    values = body.model_dump(by_alias=True)
    fernet = request_fernet(request)
    with read(request) as session:
        stored = conn_queries.get_connection(session, body.connection_id, fernet)
    if stored is not None:
        values = keep_masked(values, stored)
    ok, message = try_connection(build_connection(body.connection_id, values))
    with write(request) as session:
        audit(session, principal, "connection.test", extra={"conn_id": body.connection_id, "ok": ok})
    return {"status": ok, "message": message}
