"""``/api/v1/eventLogs``: the audit log of manual actions (list with filters, get)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from tradewind.observe.api import v1_models as m
from tradewind.observe.api import schemas
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.common import API, can, read, where_equal
from tradewind.persist.models import AuditLog

router = APIRouter(prefix=API, tags=["EventLog"])

ORDER = {"event_log_id": AuditLog.id, "id": AuditLog.id, "when": AuditLog.dttm, "dttm": AuditLog.dttm,
         "event": AuditLog.event, "owner": AuditLog.owner, "dag_id": AuditLog.dag_id, "task_id": AuditLog.task_id,
         "run_id": AuditLog.run_id}


def _names(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/eventLogs", summary="List audit-log entries", response_model=m.EventLogCollection)
def list_event_logs(
    request: Request,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="event_log_id (default), when, event, owner, dag_id, ...; "
                                                  "'-' for descending"),
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    event: str | None = None,
    owner: str | None = None,
    before: datetime | None = Query(None, description="Only entries at or before this time."),
    after: datetime | None = Query(None, description="Only entries at or after this time."),
    included_events: str | None = Query(None, description="Comma-separated events to keep."),
    excluded_events: str | None = Query(None, description="Comma-separated events to leave out."),
    _user: Any = can("audit_log", "read"),
) -> dict[str, Any]:
    stmt = select(AuditLog)
    stmt = where_equal(stmt, ((AuditLog.dag_id, dag_id), (AuditLog.task_id, task_id), (AuditLog.run_id, run_id),
                             (AuditLog.map_index, map_index), (AuditLog.try_number, try_number),
                             (AuditLog.event, event), (AuditLog.owner, owner)))
    if before is not None:
        stmt = stmt.where(AuditLog.dttm <= before)
    if after is not None:
        stmt = stmt.where(AuditLog.dttm >= after)
    if _names(included_events):
        stmt = stmt.where(AuditLog.event.in_(_names(included_events)))
    if _names(excluded_events):
        stmt = stmt.where(AuditLog.event.not_in(_names(excluded_events)))
    stmt = apply_order(stmt, order_by, ORDER, "event_log_id", tiebreak=(AuditLog.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"event_logs": [schemas.event_log_dict(r) for r in rows], "total_entries": total}


@router.get("/eventLogs/{event_log_id}", summary="Get an audit-log entry", response_model=m.EventLogOut)
def get_event_log(request: Request, event_log_id: int, _user: Any = can("audit_log", "read")) -> dict[str, Any]:
    with read(request) as session:
        row = session.get(AuditLog, event_log_id)
        if row is None:
            raise not_found(f"Event Log with id: '{event_log_id}' not found", title="Event Log not found")
        return schemas.event_log_dict(row)
