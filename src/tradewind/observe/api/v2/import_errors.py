"""``/api/v2/importErrors``: DAG files that failed to parse (Airflow 3's ImportError resource)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import can, read
from tradewind.observe.api.v2.common import (
    API_V2,
    BUNDLE_NAME,
    Model,
    apply_orders,
    filter_name,
    order_by_query,
    page_v2,
)
from tradewind.persist.models import ImportError_

router = APIRouter(prefix=API_V2, tags=["Import Error"])

ORDER = {"id": ImportError_.id, "import_error_id": ImportError_.id, "timestamp": ImportError_.timestamp,
         "filename": ImportError_.filename}


class ImportErrorResponse(Model):
    import_error_id: int
    timestamp: datetime
    filename: str
    bundle_name: str | None = None
    stack_trace: str


class ImportErrorCollectionResponse(Model):
    import_errors: list[ImportErrorResponse]
    total_entries: int


def import_error_body(row: ImportError_) -> ImportErrorResponse:
    """Airflow 3's body of one import error: the traceback, else the message."""
    return ImportErrorResponse(import_error_id=row.id, timestamp=row.timestamp, filename=row.filename,
                               bundle_name=BUNDLE_NAME, stack_trace=row.stacktrace or row.message)


@router.get("/importErrors", response_model=ImportErrorCollectionResponse, summary="Get Import Errors")
def get_import_errors(
    request: Request,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("id", list(ORDER)),
    filename_pattern: str | None = Query(None, description="Case-insensitive substring of the file name."),
    filename_prefix_pattern: str | None = Query(None, description="Start of the file name."),
    filename: str | None = Query(None, description="Exactly this file name."),
    bundle_name: str | None = Query(None, description=f"Only {BUNDLE_NAME!r} has files here."),
    _user: Any = can("import_error", "read"),
) -> ImportErrorCollectionResponse:
    stmt = select(ImportError_)
    stmt = filter_name(stmt, ImportError_.filename, filename_pattern, filename_prefix_pattern)
    if filename is not None:
        stmt = stmt.where(ImportError_.filename == filename)
    if bundle_name is not None and bundle_name != BUNDLE_NAME:
        stmt = stmt.where(ImportError_.id.is_(None))  # no file belongs to another bundle
    stmt = apply_orders(stmt, order_by, ORDER, "id", tiebreak=(ImportError_.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return ImportErrorCollectionResponse(import_errors=[import_error_body(r) for r in rows], total_entries=total)


@router.get("/importErrors/{import_error_id}", response_model=ImportErrorResponse, summary="Get Import Error")
def get_import_error(request: Request, import_error_id: int,
                     _user: Any = can("import_error", "read")) -> ImportErrorResponse:
    with read(request) as session:
        row = session.get(ImportError_, import_error_id)
        if row is None:
            raise not_found(f"The ImportError with import_error_id: `{import_error_id}` was not found",
                            title="Import error not found")
        return import_error_body(row)
