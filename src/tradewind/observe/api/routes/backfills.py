"""``/api/v1/backfills`` (Airflow 3's paths): create (and dry run), list, get, pause, unpause, cancel.

The scheduler does the work (:mod:`tradewind.schedule.backfill`); each change here is one call of
:mod:`tradewind.schedule.actions`, then a wake-up. A second active backfill of the same DAG is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from tradewind.observe.api import schemas
from tradewind.observe.api import v1_models as m
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.action_errors import action_errors, actor_of, wake_after
from tradewind.observe.api.routes.common import API, can, dag_or_404, now, read, write
from tradewind.persist.models import Backfill
from tradewind.schedule import actions
from tradewind.schedule.backfill import PlannedDate

router = APIRouter(prefix=API, tags=["Backfill"])

ORDER = {"id": Backfill.id, "dag_id": Backfill.dag_id, "created_at": Backfill.created_at,
         "from_date": Backfill.from_date, "to_date": Backfill.to_date, "completed_at": Backfill.completed_at}


def _create(request: Request, principal: Any, body: schemas.BackfillBody,
            *, dry_run: bool) -> tuple[dict[str, Any] | None, list[PlannedDate]]:
    """(the new backfill's dict, or None on a dry run; the plan). A dry run writes nothing: read scope."""
    with action_errors(), (read if dry_run else write)(request) as session:
        made = actions.create_backfill(
            session, actor_of(principal), body.dag_id, from_date=body.from_date, to_date=body.to_date,
            run_backwards=body.run_backwards, dag_run_conf=body.dag_run_conf,
            reprocess_behavior=body.reprocess_behavior, max_active_runs=body.max_active_runs, dry_run=dry_run,
            config=request.app.state.config, now=now())
        out = schemas.backfill_dict(made.backfill) if made.backfill is not None else None
    wake_after(request, session)
    return out, made.plan


@router.post("/backfills", summary="Create a backfill", response_model=m.BackfillOut)
def create_backfill(request: Request, body: schemas.BackfillBody,
                    principal: Any = can("backfill", "create")) -> dict[str, Any]:
    made, _plan = _create(request, principal, body, dry_run=False)
    assert made is not None
    return made


@router.post("/backfills/dry_run", summary="The logical dates a backfill would run, without creating it",
             response_model=m.PlannedRunCollection)
def dry_run_backfill(request: Request, body: schemas.BackfillBody,
                     principal: Any = can("backfill", "read")) -> dict[str, Any]:
    _, plan = _create(request, principal, body, dry_run=True)
    items = [{"logical_date": p.logical_date.isoformat(), "action": p.describe(), "reason": p.reason,
              "existing_run_id": p.existing_run_id} for p in plan]
    return {"backfills": items, "total_entries": len(items)}


@router.get("/backfills", summary="List backfills", response_model=m.BackfillCollection)
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


@router.get("/backfills/{backfill_id}", summary="Get a backfill", response_model=m.BackfillOut)
def get_backfill(request: Request, backfill_id: int, _user: Any = can("backfill", "read")) -> dict[str, Any]:
    with read(request) as session:
        with action_errors():
            return schemas.backfill_dict(actions.find_backfill(session, backfill_id))


def _act(request: Request, action: Callable[..., Backfill], principal: Any, backfill_id: int) -> dict[str, Any]:
    with action_errors(), write(request) as session:
        out = schemas.backfill_dict(action(session, actor_of(principal), backfill_id, now=now()))
    wake_after(request, session)
    return out


@router.put("/backfills/{backfill_id}/pause", summary="Pause a backfill (no new runs until unpaused)",
            response_model=m.BackfillOut)
def pause_backfill(request: Request, backfill_id: int, principal: Any = can("backfill", "edit")) -> dict[str, Any]:
    return _act(request, actions.pause_backfill, principal, backfill_id)


@router.put("/backfills/{backfill_id}/unpause", summary="Unpause a backfill", response_model=m.BackfillOut)
def unpause_backfill(request: Request, backfill_id: int,
                     principal: Any = can("backfill", "edit")) -> dict[str, Any]:
    return _act(request, actions.unpause_backfill, principal, backfill_id)


@router.put("/backfills/{backfill_id}/cancel", summary="Cancel a backfill (queued runs fail, running ones finish)",
            response_model=m.BackfillOut)
def cancel_backfill(request: Request, backfill_id: int,
                    principal: Any = can("backfill", "delete")) -> dict[str, Any]:
    return _act(request, actions.cancel_backfill, principal, backfill_id)
