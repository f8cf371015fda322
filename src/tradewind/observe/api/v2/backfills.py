"""``/api/v2/backfills`` (Airflow 3): list a DAG's backfills, get one, create, dry-run, pause,
unpause and cancel.

Every write is an action of :mod:`tradewind.schedule.actions` (which validates, audits and asks
for the scheduler's wake-up) run through :func:`tradewind.observe.api.v2.common.acting`; these
routes only read the body and render. The scheduler does the backfill's work.

``updated_at`` is the backfill's completion time, else its creation time (Tradewind keeps no
separate modification time). Runs always use the DAG's latest version, so
``run_on_latest_version: false`` is refused.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.definition.masking import redact
from tradewind.observe.api.errors import bad_request, not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import can, dag_or_404, now, read
from tradewind.observe.api.v2.common import (
    API_V2,
    Model,
    acting,
    apply_orders,
    dag_display_names,
    order_by_query,
    page_v2,
)
from tradewind.persist.models import Backfill
from tradewind.persist.queries import backfills as backfill_queries
from tradewind.schedule import actions

router = APIRouter(prefix=API_V2, tags=["Backfill"])

ORDER = {"id": Backfill.id}


class ReprocessBehavior(str, Enum):
    """Which dates that already have a run the backfill runs again."""

    FAILED = "failed"
    COMPLETED = "completed"
    NONE = "none"


class BackfillPostBody(Model):
    model_config = ConfigDict(extra="forbid")

    dag_id: str
    from_date: datetime
    to_date: datetime
    run_backwards: bool = False
    dag_run_conf: dict[str, Any] | None = None
    reprocess_behavior: ReprocessBehavior = ReprocessBehavior.NONE
    max_active_runs: int = 10
    run_on_latest_version: bool | None = None


class BackfillResponse(Model):
    id: int = Field(ge=0)
    dag_id: str
    from_date: datetime
    to_date: datetime
    dag_run_conf: dict[str, Any] | None = None
    is_paused: bool
    reprocess_behavior: ReprocessBehavior
    max_active_runs: int
    created_at: datetime
    completed_at: datetime | None = None
    updated_at: datetime
    dag_display_name: str


class BackfillCollectionResponse(Model):
    backfills: list[BackfillResponse]
    total_entries: int


class DryRunBackfillResponse(Model):
    logical_date: datetime | None = None
    partition_key: str | None = None
    partition_date: datetime | None = None


class DryRunBackfillCollectionResponse(Model):
    backfills: list[DryRunBackfillResponse]
    total_entries: int


def _responses(session: Session, rows: list[Backfill]) -> list[BackfillResponse]:
    names = dag_display_names(session, [r.dag_id for r in rows])
    return [BackfillResponse(
        id=r.id, dag_id=r.dag_id, from_date=r.from_date, to_date=r.to_date, dag_run_conf=redact(r.dag_run_conf or {}),
        is_paused=r.is_paused, reprocess_behavior=ReprocessBehavior(r.reprocess_behavior),
        max_active_runs=r.max_active_runs, created_at=r.created_at, completed_at=r.completed_at,
        updated_at=r.completed_at or r.created_at, dag_display_name=names.get(r.dag_id, r.dag_id)) for r in rows]


def _one(session: Session, row: Backfill) -> BackfillResponse:
    return _responses(session, [row])[0]


def _backfill_or_404(session: Session, backfill_id: int) -> Backfill:
    row = backfill_queries.get_backfill(session, backfill_id)
    if row is None:
        raise not_found(f"Could not find the Backfill with id: `{backfill_id}`", title="Backfill not found")
    return row


def _create(request: Request, principal: Any, body: BackfillPostBody, *, dry_run: bool) -> Any:
    """The action's result (:class:`actions.BackfillCreated`) and the session it ran in."""
    if body.run_on_latest_version is False:
        raise bad_request("run_on_latest_version cannot be false: Tradewind's backfill runs always use the DAG's "
                          "latest version", field="run_on_latest_version")
    with acting(request, principal) as (session, actor):
        created = actions.create_backfill(
            session, actor, body.dag_id, from_date=body.from_date, to_date=body.to_date,
            run_backwards=body.run_backwards, dag_run_conf=body.dag_run_conf,
            reprocess_behavior=body.reprocess_behavior.value, max_active_runs=body.max_active_runs,
            dry_run=dry_run, config=request.app.state.config, now=now())
        if dry_run:
            return [DryRunBackfillResponse(logical_date=p.logical_date) for p in created.plan if p.action != "skip"]
        return _one(session, created.backfill)


@router.get("/backfills", response_model=BackfillCollectionResponse, summary="List Backfills")
def list_backfills(
    request: Request,
    dag_id: str = Query(description="Backfills of this DAG."),
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("id", list(ORDER)),
    _user: Any = can("backfill", "read"),
) -> BackfillCollectionResponse:
    stmt = apply_orders(select(Backfill).where(Backfill.dag_id == dag_id), order_by, ORDER, "id",
                        tiebreak=(Backfill.id,))
    with read(request) as session:
        dag_or_404(session, dag_id)
        rows, total = paginate(session, stmt, page)
        return BackfillCollectionResponse(backfills=_responses(session, rows), total_entries=total)


@router.post("/backfills", response_model=BackfillResponse, summary="Create Backfill")
def create_backfill(request: Request, body: BackfillPostBody,
                    principal: Any = can("backfill", "create")) -> BackfillResponse:
    return _create(request, principal, body, dry_run=False)


@router.post("/backfills/dry_run", response_model=DryRunBackfillCollectionResponse,
             summary="Create Backfill Dry Run")
def create_backfill_dry_run(request: Request, body: BackfillPostBody,
                            principal: Any = can("backfill", "create")) -> DryRunBackfillCollectionResponse:
    """The logical dates a backfill would run (dates it would skip left out); nothing is written."""
    items = _create(request, principal, body, dry_run=True)
    return DryRunBackfillCollectionResponse(backfills=items, total_entries=len(items))


@router.get("/backfills/{backfill_id}", response_model=BackfillResponse, summary="Get Backfill")
def get_backfill(request: Request, backfill_id: int = Path(ge=0),
                 _user: Any = can("backfill", "read")) -> BackfillResponse:
    with read(request) as session:
        return _one(session, _backfill_or_404(session, backfill_id))


@router.put("/backfills/{backfill_id}/pause", response_model=BackfillResponse, summary="Pause Backfill")
def pause_backfill(request: Request, backfill_id: int = Path(ge=0),
                   principal: Any = can("backfill", "edit")) -> BackfillResponse:
    with acting(request, principal) as (session, actor):
        return _one(session, actions.pause_backfill(session, actor, backfill_id, now=now()))


@router.put("/backfills/{backfill_id}/unpause", response_model=BackfillResponse, summary="Unpause Backfill")
def unpause_backfill(request: Request, backfill_id: int = Path(ge=0),
                     principal: Any = can("backfill", "edit")) -> BackfillResponse:
    with acting(request, principal) as (session, actor):
        return _one(session, actions.unpause_backfill(session, actor, backfill_id, now=now()))


@router.put("/backfills/{backfill_id}/cancel", response_model=BackfillResponse, summary="Cancel Backfill")
def cancel_backfill(request: Request, backfill_id: int = Path(ge=0),
                    principal: Any = can("backfill", "delete")) -> BackfillResponse:
    with acting(request, principal) as (session, actor):
        return _one(session, actions.cancel_backfill(session, actor, backfill_id, now=now()))
