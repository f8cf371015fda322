"""``/api/v2/eventLogs``: the audit log (who triggered, cleared, marked, paused, changed what, when).

Airflow 3's EventLog resource over Tradewind's audit rows (:class:`~tradewind.persist.models.AuditLog`):
the same rows ``/api/v1/eventLogs``, the UI and ``tradewind audit`` show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Select, select

from tradewind.definition.masking import redact_json_text
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import can, read, where_equal
from tradewind.observe.api.v2.common import (
    API_V2,
    Model,
    apply_orders,
    filter_name,
    order_by_query,
    page_v2,
)
from tradewind.persist.models import AuditLog

router = APIRouter(prefix=API_V2, tags=["Event Log"])

ORDER = {"id": AuditLog.id, "event_log_id": AuditLog.id, "dttm": AuditLog.dttm, "when": AuditLog.dttm,
         "dag_id": AuditLog.dag_id, "task_id": AuditLog.task_id, "run_id": AuditLog.run_id, "event": AuditLog.event,
         "owner": AuditLog.owner, "extra": AuditLog.extra, "map_index": AuditLog.map_index,
         "try_number": AuditLog.try_number}

#: Text columns with Airflow 3's ``<name>_pattern`` and ``<name>_prefix_pattern`` filters.
PATTERN_COLUMNS = {"dag_id": AuditLog.dag_id, "task_id": AuditLog.task_id, "run_id": AuditLog.run_id,
                   "owner": AuditLog.owner, "event": AuditLog.event}


class EventLogResponse(Model):
    event_log_id: int
    when: datetime
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    event: str
    logical_date: datetime | None = None
    owner: str | None = None
    extra: str | None = None
    dag_display_name: str | None = None
    task_display_name: str | None = None


class EventLogCollectionResponse(Model):
    event_logs: list[EventLogResponse]
    total_entries: int


def event_log_body(row: AuditLog) -> EventLogResponse:
    return EventLogResponse(event_log_id=row.id, when=row.dttm, dag_id=row.dag_id, task_id=row.task_id,
                            run_id=row.run_id, map_index=row.map_index, try_number=row.try_number, event=row.event,
                            owner=row.owner, extra=redact_json_text(row.extra), dag_display_name=row.dag_id,
                            task_display_name=row.task_id)


def _names(values: list[str] | None) -> list[str]:
    """Repeated values (Airflow 3) or comma-separated ones (Airflow 2's form), flattened."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _pattern_filters(stmt: Select[Any], patterns: dict[str, str | None]) -> Select[Any]:
    """``patterns``: ``<column>_pattern`` / ``<column>_prefix_pattern`` -> the value given."""
    for name, column in PATTERN_COLUMNS.items():
        stmt = filter_name(stmt, column, patterns[f"{name}_pattern"], patterns[f"{name}_prefix_pattern"])
    return stmt


@router.get("/eventLogs", response_model=EventLogCollectionResponse, summary="Get Event Logs")
def get_event_logs(
    request: Request,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("id", list(ORDER)),
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    owner: str | None = None,
    event: str | None = None,
    excluded_events: list[str] | None = Query(None, description="Events to leave out (repeatable)."),
    included_events: list[str] | None = Query(None, description="Only these events (repeatable)."),
    before: datetime | None = Query(None, description="Only entries before this time."),
    after: datetime | None = Query(None, description="Only entries after this time."),
    dag_id_pattern: str | None = None, task_id_pattern: str | None = None, run_id_pattern: str | None = None,
    owner_pattern: str | None = None, event_pattern: str | None = None,
    dag_id_prefix_pattern: str | None = None, task_id_prefix_pattern: str | None = None,
    run_id_prefix_pattern: str | None = None, owner_prefix_pattern: str | None = None,
    event_prefix_pattern: str | None = None,
    _user: Any = can("audit_log", "read"),
) -> EventLogCollectionResponse:
    """Audit entries matching every filter given."""
    patterns = {"dag_id_pattern": dag_id_pattern, "task_id_pattern": task_id_pattern,
                "run_id_pattern": run_id_pattern, "owner_pattern": owner_pattern, "event_pattern": event_pattern,
                "dag_id_prefix_pattern": dag_id_prefix_pattern, "task_id_prefix_pattern": task_id_prefix_pattern,
                "run_id_prefix_pattern": run_id_prefix_pattern, "owner_prefix_pattern": owner_prefix_pattern,
                "event_prefix_pattern": event_prefix_pattern}
    stmt = select(AuditLog)
    stmt = where_equal(stmt, ((AuditLog.dag_id, dag_id), (AuditLog.task_id, task_id), (AuditLog.run_id, run_id),
                             (AuditLog.map_index, map_index), (AuditLog.try_number, try_number),
                             (AuditLog.event, event), (AuditLog.owner, owner)))
    if before is not None:
        stmt = stmt.where(AuditLog.dttm < before)
    if after is not None:
        stmt = stmt.where(AuditLog.dttm > after)
    if _names(included_events):
        stmt = stmt.where(AuditLog.event.in_(_names(included_events)))
    if _names(excluded_events):
        stmt = stmt.where(AuditLog.event.not_in(_names(excluded_events)))
    stmt = apply_orders(_pattern_filters(stmt, patterns), order_by, ORDER, "id", tiebreak=(AuditLog.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return EventLogCollectionResponse(event_logs=[event_log_body(r) for r in rows], total_entries=total)


@router.get("/eventLogs/{event_log_id}", response_model=EventLogResponse, summary="Get Event Log")
def get_event_log(request: Request, event_log_id: int, _user: Any = can("audit_log", "read")) -> EventLogResponse:
    with read(request) as session:
        row = session.get(AuditLog, event_log_id)
        if row is None:
            raise not_found(f"The Event Log with id: `{event_log_id}` not found", title="Event Log not found")
        return event_log_body(row)
