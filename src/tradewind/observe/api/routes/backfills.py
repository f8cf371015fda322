"""``/api/v1/backfills`` (Airflow 3's paths): create (and dry run), list, get, pause, unpause, cancel.

The scheduler does the work (:mod:`tradewind.schedule.backfill`); these routes write the request
and wake it. A second active backfill of the same DAG is a 409.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api import schemas
from tradewind.observe.api.errors import conflict, not_found, unprocessable
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.common import (
    API,
    audit,
    can,
    dag_or_404,
    now,
    read,
    snapshot_or_404,
    user_of,
    wake_scheduler,
    write,
)
from tradewind.persist.models import Backfill
from tradewind.persist.queries import backfills as backfill_queries

router = APIRouter(prefix=API, tags=["Backfill"])

ORDER = {"id": Backfill.id, "dag_id": Backfill.dag_id, "created_at": Backfill.created_at,
         "from_date": Backfill.from_date, "to_date": Backfill.to_date, "completed_at": Backfill.completed_at}


def _backfill_or_404(session: Session, backfill_id: int) -> Backfill:
    row = backfill_queries.get_backfill(session, backfill_id)
    if row is None:
        raise not_found(f"Backfill with id {backfill_id} not found", title="Backfill not found")
    return row


def _check_body(session: Session, body: schemas.BackfillBody) -> Any:
    """The DAG's snapshot after the checks that are conflicts or missing things (409/404/422)."""
    if body.from_date.tzinfo is None or body.to_date.tzinfo is None:
        raise unprocessable("from_date and to_date must include a time zone offset",
                            field="from_date" if body.from_date.tzinfo is None else "to_date")
    _, snapshot = snapshot_or_404(session, body.dag_id)
    active = backfill_queries.active_backfill_for_dag(session, body.dag_id)
    if active is not None:
        raise conflict(f"DAG {body.dag_id} already has an active backfill (id {active.id}); cancel it first",
                       title="Backfill already exists")
    return snapshot


@router.post("/backfills", summary="Create a backfill")
def create_backfill(request: Request, body: schemas.BackfillBody,
                    principal: Any = can("backfill", "create")) -> dict[str, Any]:
    from tradewind.schedule import backfill as bf

    with write(request) as session:
        snapshot = _check_body(session, body)
        try:
            row = bf.create_backfill(session, snapshot, from_date=body.from_date, to_date=body.to_date,
                                     reprocess_behavior=body.reprocess_behavior,
                                     max_active_runs=body.max_active_runs, run_backwards=body.run_backwards,
                                     conf=body.dag_run_conf, user=user_of(principal), now=now())
        except bf.BackfillError as exc:
            raise unprocessable(str(exc)) from None
        audit(session, principal, "backfill.create", dag_id=body.dag_id, extra={
            "backfill_id": row.id, "from_date": body.from_date, "to_date": body.to_date,
            "reprocess_behavior": body.reprocess_behavior, "max_active_runs": body.max_active_runs,
            "run_backwards": body.run_backwards, "conf": body.dag_run_conf})
        out = schemas.backfill_dict(row)
    wake_scheduler(request)
    return out


@router.post("/backfills/dry_run", summary="The logical dates a backfill would run, without creating it")
def dry_run_backfill(request: Request, body: schemas.BackfillBody,
                     _user: Any = can("backfill", "read")) -> dict[str, Any]:
    from tradewind.schedule import backfill as bf

    with read(request) as session:
        snapshot = _check_body(session, body)
        try:
            bf.validate_backfill(session, snapshot, reprocess_behavior=body.reprocess_behavior,
                                 max_active_runs=body.max_active_runs, run_backwards=body.run_backwards,
                                 conf=body.dag_run_conf)
            plan = bf.plan_backfill(session, snapshot, body.from_date, body.to_date,
                                    reprocess_behavior=body.reprocess_behavior, run_backwards=body.run_backwards,
                                    now=now())
        except bf.BackfillError as exc:
            raise unprocessable(str(exc)) from None
    items = [{"logical_date": p.logical_date.isoformat(), "action": p.describe(), "reason": p.reason,
              "existing_run_id": p.existing_run_id} for p in plan]
    return {"backfills": items, "total_entries": len(items)}


@router.get("/backfills", summary="List backfills")
def list_backfills(
    request: Request,
    page: Page = Depends(page_params),
    dag_id: str | None = Query(None, description="Only backfills of this DAG."),
    active: bool | None = Query(None, description="Only uncompleted (true) or completed (false) backfills."),
    order_by: str | None = Query(None, description="id (default), dag_id, created_at, from_date, ..."),
    _user: Any = can("backfill", "read"),
) -> dict[str, Any]:
    stmt = select(Backfill)
    if dag_id is not None:
        stmt = stmt.where(Backfill.dag_id == dag_id)
    if active is not None:
        stmt = stmt.where(Backfill.completed_at.is_(None) if active else Backfill.completed_at.is_not(None))
    stmt = apply_order(stmt, order_by, ORDER, "id", tiebreak=(Backfill.id,))
    with read(request) as session:
        if dag_id is not None:
            dag_or_404(session, dag_id)
        rows, total = paginate(session, stmt, page)
        return {"backfills": [schemas.backfill_dict(r) for r in rows], "total_entries": total}


@router.get("/backfills/{backfill_id}", summary="Get a backfill")
def get_backfill(request: Request, backfill_id: int, _user: Any = can("backfill", "read")) -> dict[str, Any]:
    with read(request) as session:
        return schemas.backfill_dict(_backfill_or_404(session, backfill_id))


def _set_paused(request: Request, principal: Any, backfill_id: int, paused: bool) -> dict[str, Any]:
    with write(request) as session:
        row = _backfill_or_404(session, backfill_id)
        if row.completed_at is not None:
            raise conflict(f"backfill {backfill_id} already completed at {row.completed_at.isoformat()}",
                           title="Backfill completed")
        row.is_paused = paused
        audit(session, principal, "backfill.pause" if paused else "backfill.unpause", dag_id=row.dag_id,
              extra={"backfill_id": backfill_id})
        out = schemas.backfill_dict(row)
    if not paused:
        wake_scheduler(request)
    return out


@router.put("/backfills/{backfill_id}/pause", summary="Pause a backfill (no new runs until unpaused)")
def pause_backfill(request: Request, backfill_id: int, principal: Any = can("backfill", "edit")) -> dict[str, Any]:
    return _set_paused(request, principal, backfill_id, True)


@router.put("/backfills/{backfill_id}/unpause", summary="Unpause a backfill")
def unpause_backfill(request: Request, backfill_id: int,
                     principal: Any = can("backfill", "edit")) -> dict[str, Any]:
    return _set_paused(request, principal, backfill_id, False)


@router.put("/backfills/{backfill_id}/cancel", summary="Cancel a backfill (queued runs fail, running ones finish)")
def cancel_backfill(request: Request, backfill_id: int,
                    principal: Any = can("backfill", "delete")) -> dict[str, Any]:
    from tradewind.schedule import backfill as bf

    with write(request) as session:
        row = _backfill_or_404(session, backfill_id)
        try:
            failed = bf.cancel_backfill(session, row, now())
        except bf.BackfillError as exc:
            raise conflict(str(exc), title="Backfill completed") from None
        audit(session, principal, "backfill.cancel", dag_id=row.dag_id,
              extra={"backfill_id": backfill_id, "failed_queued_runs": failed})
        out = schemas.backfill_dict(row)
    wake_scheduler(request)
    return out
