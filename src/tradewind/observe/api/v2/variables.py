"""``/api/v2/variables``: list, get, create, update (``update_mask``), delete and bulk, as Airflow 3.

Values are read and written only through :mod:`tradewind.persist.queries.variables` (which owns
how they are stored, encrypted or not). A value given as JSON other than a string is stored as
its JSON text, as Airflow 3 does. Values of secret-looking keys come back as ``***``
(:func:`tradewind.observe.api.routes.variables.shown_value`, the same call site as ``/api/v1``).
Writes record the audit events of ``/api/v1`` (``variable.create``/``edit``/``delete``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ConfigDict, Field, JsonValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import ApiError, bad_request, conflict, not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import audit, can, read, write
from tradewind.observe.api.routes.variables import shown_value
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
from tradewind.persist.models import Variable
from tradewind.persist.queries import variables as var_queries

router = APIRouter(prefix=API_V2, tags=["Variable"])

ORDER = {"key": Variable.key, "id": Variable.key, "description": Variable.description,
         "is_encrypted": Variable.is_encrypted}
EDITABLE = ("value", "description")


class VariableBody(Model):
    """A variable as written: ``value`` any JSON (non-strings are stored as JSON text)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=250)
    value: JsonValue
    description: str | None = None
    team_name: str | None = Field(None, max_length=50)


class VariableResponse(Model):
    key: str
    value: str | None = None
    description: str | None = None
    is_encrypted: bool
    team_name: str | None = None


class VariableCollectionResponse(Model):
    variables: list[VariableResponse]
    total_entries: int


def not_found_error(key: str) -> ApiError:
    return not_found(f"The Variable with key: `{key}` was not found", title="Variable not found")


def _value(session: Session, row: Variable) -> str:
    """The row's value in clear (the query layer decrypts); a value that cannot be decrypted is a 500."""
    try:
        return var_queries.variable_value(session, row)
    except var_queries.VariableError as exc:
        raise ApiError(500, str(exc)) from None


def _response(session: Session, row: Variable) -> VariableResponse:
    return VariableResponse(key=row.key, value=shown_value(row.key, _value(session, row)),
                            description=row.description, is_encrypted=bool(row.is_encrypted))


def _row_or_404(session: Session, key: str) -> Variable:
    row = var_queries.get_variable_row(session, key)
    if row is None:
        raise not_found_error(key)
    return row


def _no_team(team_name: str | None) -> None:
    if team_name is not None:
        raise bad_request("team_name cannot be set: Tradewind has no multi-team mode", field="team_name")


def _store(session: Session, key: str, value: Any, description: str | None) -> Variable:
    """Create or replace through the query layer; a string is stored as is, other JSON as its text."""
    try:
        return var_queries.set_variable(session, key, value, description, serialize_json=not isinstance(value, str))
    except var_queries.VariableError as exc:
        raise bad_request(str(exc), field="key") from None


def _create(session: Session, principal: Any, body: VariableBody) -> Variable:
    _no_team(body.team_name)
    if var_queries.get_variable_row(session, body.key) is not None:
        raise conflict(f"The Variable with key: `{body.key}` already exists", title="Variable already exists")
    row = _store(session, body.key, body.value, body.description)
    audit(session, principal, "variable.create", extra={"key": body.key})
    return row


def _update(session: Session, principal: Any, body: VariableBody, update_mask: list[str] | None) -> Variable:
    """Change the fields of ``update_mask`` (value and description when none is given)."""
    _no_team(body.team_name)
    fields = set(update_mask) if update_mask else set(EDITABLE)
    unknown = fields - set(EDITABLE) - {"key"}
    if unknown:
        raise bad_request(f"update_mask may name {', '.join(EDITABLE)}, not {', '.join(sorted(unknown))}",
                          field="update_mask")
    row = _row_or_404(session, body.key)
    value = body.value if "value" in fields else _value(session, row)
    description = body.description if "description" in fields else row.description
    row = _store(session, body.key, value, description)
    audit(session, principal, "variable.edit", extra={"key": body.key, "fields": sorted(fields & set(EDITABLE))})
    return row


def _delete(session: Session, principal: Any, key: str) -> None:
    if not var_queries.delete_variable(session, key):
        raise not_found_error(key)
    audit(session, principal, "variable.delete", extra={"key": key})


@router.get("/variables", response_model=VariableCollectionResponse, summary="Get Variables")
def get_variables(
    request: Request,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("id", list(ORDER)),
    variable_key_pattern: str | None = Query(None, description="Keys containing this (SQL LIKE wildcards, "
                                                               "'|' between alternatives)."),
    variable_key_prefix_pattern: str | None = Query(None, description="Keys starting with this."),
    _user: Any = can("variable", "read"),
) -> VariableCollectionResponse:
    stmt = filter_name(select(Variable), Variable.key, variable_key_pattern, variable_key_prefix_pattern)
    stmt = apply_orders(stmt, order_by, ORDER, "id", tiebreak=(Variable.key,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return VariableCollectionResponse(variables=[_response(session, r) for r in rows], total_entries=total)


@router.get("/variables/{variable_key}", response_model=VariableResponse, summary="Get Variable")
def get_variable(request: Request, variable_key: str, _user: Any = can("variable", "read")) -> VariableResponse:
    with read(request) as session:
        return _response(session, _row_or_404(session, variable_key))


@router.post("/variables", status_code=201, response_model=VariableResponse, summary="Post Variable")
def post_variable(request: Request, body: VariableBody,
                  principal: Any = can("variable", "create")) -> VariableResponse:
    with write(request) as session:
        return _response(session, _create(session, principal, body))


@router.patch("/variables/{variable_key}", response_model=VariableResponse, summary="Patch Variable")
def patch_variable(
    request: Request,
    variable_key: str,
    body: VariableBody,
    update_mask: list[str] | None = Query(None, description="Fields to update (value, description); both when "
                                                           "omitted."),
    principal: Any = can("variable", "edit"),
) -> VariableResponse:
    if body.key != variable_key:
        raise bad_request("Invalid body, key from request body doesn't match uri parameter", field="key")
    with write(request) as session:
        return _response(session, _update(session, principal, body, update_mask))


@router.delete("/variables/{variable_key}", status_code=204, response_class=Response, summary="Delete Variable")
def delete_variable(request: Request, variable_key: str, principal: Any = can("variable", "delete")) -> Response:
    with write(request) as session:
        _delete(session, principal, variable_key)
    return Response(status_code=204)


def _handler(principal: Any) -> BulkHandler:
    def exists(session: Session, key: str) -> bool:
        return var_queries.get_variable_row(session, key) is not None

    return BulkHandler(
        noun="variables", key_name="key", key_of=lambda body: body.key, exists=exists,
        create=lambda session, body: _create(session, principal, body),
        update=lambda session, body, mask: _update(session, principal, body, mask),
        delete=lambda session, key: _delete(session, principal, key))


@router.patch("/variables", response_model=BulkResponse, summary="Bulk Variables")
def bulk_variables(request: Request, body: BulkBody[VariableBody],
                   principal: Any = can("variable", "edit")) -> BulkResponse:
    """Create, update and delete several variables in one request (each action's policy for existing or
    missing keys: ``fail``, ``skip`` or, for create, ``overwrite``)."""
    with write(request) as session:
        return run_bulk(session, body, _handler(principal))

