"""``/api/v1/importErrors``: DAG files that failed to parse (list, get)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from tradewind.observe.api import v1_models as m
from tradewind.observe.api import schemas
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.common import API, can, read
from tradewind.persist.models import ImportError_

router = APIRouter(prefix=API, tags=["ImportError"])

ORDER = {"import_error_id": ImportError_.id, "id": ImportError_.id, "timestamp": ImportError_.timestamp,
         "filename": ImportError_.filename}


@router.get("/importErrors", summary="List import errors", response_model=m.ImportErrorCollection)
def list_import_errors(request: Request, page: Page = Depends(page_params),
                       order_by: str | None = Query(None, description="import_error_id (default), timestamp, "
                                                                     "filename; '-' for descending"),
                       _user: Any = can("import_error", "read")) -> dict[str, Any]:
    stmt = apply_order(select(ImportError_), order_by, ORDER, "import_error_id", tiebreak=(ImportError_.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"import_errors": [schemas.import_error_dict(r) for r in rows], "total_entries": total}


@router.get("/importErrors/{import_error_id}", summary="Get an import error", response_model=m.ImportErrorOut)
def get_import_error(request: Request, import_error_id: int,
                     _user: Any = can("import_error", "read")) -> dict[str, Any]:
    with read(request) as session:
        row = session.get(ImportError_, import_error_id)
        if row is None:
            raise not_found(f"The ImportError with import_error_id: `{import_error_id}` was not found",
                            title="Import error not found")
        return schemas.import_error_dict(row)
