"""``/api/v1/variables``: list, get, create, update (with ``update_mask``), delete.

Values of secret-looking keys (``password``, ``secret``, ``token``, ``api_key``, ... and
``[core] sensitive_var_conn_names``) are shown as ``***`` whenever they are read back through
the API (:mod:`tradewind.definition.masking` decides; :func:`shown_value` is the call site).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from tradewind.definition.masking import mask_value
from tradewind.observe.api import v1_models as m
from tradewind.observe.api import schemas
from tradewind.observe.api.errors import bad_request, conflict, not_found
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.common import API, audit, can, masked_fields, read, write
from tradewind.persist.models import Variable
from tradewind.persist.queries import variables as var_queries

router = APIRouter(prefix=API, tags=["Variable"])

def shown_value(key: str, value: str) -> str:
    """The value as the API shows it: ``***`` under a secret-looking key (the one masking call site)."""
    return mask_value(key, value)


def variable_dict(request: Request, row: Variable, session: Any) -> dict[str, Any]:
    value = var_queries.variable_value(session, row)
    return {"key": row.key, "value": shown_value(row.key, value), "description": row.description}


@router.get("/variables", summary="List variables", response_model=m.VariableCollection)
def list_variables(
    request: Request,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="key (default); '-key' for descending"),
    variable_key_pattern: str | None = Query(None, description="Only keys containing this text."),
    _user: Any = can("variable", "read"),
) -> dict[str, Any]:
    stmt = select(Variable)
    if variable_key_pattern:
        stmt = stmt.where(Variable.key.contains(variable_key_pattern, autoescape=True))
    stmt = apply_order(stmt, order_by, {"key": Variable.key}, "key")
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"variables": [variable_dict(request, r, session) for r in rows], "total_entries": total}


def _variable_or_404(session: Any, key: str) -> Variable:
    row = var_queries.get_variable_row(session, key)
    if row is None:
        raise not_found(f"Variable with key '{key}' not found", title="Variable not found")
    return row


@router.get("/variables/{variable_key}", summary="Get a variable", response_model=m.VariableOut)
def get_variable(request: Request, variable_key: str, _user: Any = can("variable", "read")) -> dict[str, Any]:
    with read(request) as session:
        return variable_dict(request, _variable_or_404(session, variable_key), session)


@router.post("/variables", summary="Create a variable", response_model=m.VariableOut)
def create_variable(request: Request, body: schemas.VariableBody,
                    principal: Any = can("variable", "create")) -> dict[str, Any]:
    with write(request) as session:
        if var_queries.get_variable_row(session, body.key) is not None:
            raise conflict(f"Variable with key '{body.key}' already exists", title="Variable already exists")
        try:
            row = var_queries.set_variable(session, body.key, body.value, body.description)
        except var_queries.VariableError as exc:
            raise bad_request(str(exc), field="key") from None
        audit(session, principal, "variable.create", extra={"key": body.key})
        return variable_dict(request, row, session)


@router.patch("/variables/{variable_key}", summary="Update a variable (update_mask: value, description)",
              response_model=m.VariableOut)
def patch_variable(
    request: Request,
    variable_key: str,
    body: schemas.VariablePatchBody,
    update_mask: list[str] | None = Query(None, description="Fields to update (value, description); all given ones "
                                                           "when omitted."),
    principal: Any = can("variable", "edit"),
) -> dict[str, Any]:
    if body.key is not None and body.key != variable_key:
        raise bad_request(f"key '{body.key}' in the body does not match '{variable_key}' in the path", field="key")
    editable = ("value", "description")
    fields = masked_fields(update_mask, (f for f in editable if f in body.model_fields_set), editable)
    if "value" in fields and body.value is None:
        raise bad_request("update_mask names value but the body gives none", field="value")
    with write(request) as session:
        row = _variable_or_404(session, variable_key)
        value = body.value if "value" in fields else var_queries.variable_value(session, row)
        description = body.description if "description" in fields else row.description
        row = var_queries.set_variable(session, variable_key, value, description)
        audit(session, principal, "variable.edit", extra={"key": variable_key, "fields": sorted(fields)})
        return variable_dict(request, row, session)


@router.delete("/variables/{variable_key}", status_code=204, summary="Delete a variable")
def delete_variable(request: Request, variable_key: str, principal: Any = can("variable", "delete")) -> Response:
    with write(request) as session:
        if not var_queries.delete_variable(session, variable_key):
            raise not_found(f"Variable with key '{variable_key}' not found", title="Variable not found")
        audit(session, principal, "variable.delete", extra={"key": variable_key})
    return Response(status_code=204)
