"""``/api/v1/dags/{dag_id}/dagRuns``: list (``~`` for every DAG), trigger, get, mark state, set the
note, clear, delete. Every change is one call of :mod:`tradewind.schedule.actions`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tradewind.observe.api import schemas
from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import unprocessable
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.action_errors import action_errors, actor_of, wake_after
from tradewind.observe.api.routes.common import (
    ALL,
    API,
    can,
    dag_or_404,
    now,
    read,
    run_or_404,
    write,
)
from tradewind.persist.models import DagRun
from tradewind.persist.queries.notes import run_notes
from tradewind.schedule import actions

router = APIRouter(prefix=API, tags=["DAGRun"])

RUN_ORDER = {
    "id": DagRun.id, "dag_id": DagRun.dag_id, "dag_run_id": DagRun.run_id, "run_id": DagRun.run_id,
    "logical_date": DagRun.logical_date, "execution_date": DagRun.logical_date, "run_after": DagRun.run_after,
    "start_date": DagRun.start_date, "end_date": DagRun.end_date, "state": DagRun.state,
    "run_type": DagRun.run_type, "queued_at": DagRun.queued_at,
}


def run_dicts(session: Session, runs: list[DagRun]) -> list[dict[str, Any]]:
    """API dicts of runs with their users' notes (read in one query)."""
    notes = run_notes(session, [r.id for r in runs])
    return [schemas.run_dict(r, note=notes.get(r.id)) for r in runs]


def _ranges(stmt: Select[Any], **bounds: datetime | None) -> Select[Any]:
    """Apply ``<column>_gte`` / ``<column>_lte`` bounds on run columns."""
    columns = {"logical_date": DagRun.logical_date, "start_date": DagRun.start_date, "end_date": DagRun.end_date}
    for name, value in bounds.items():
        if value is None:
            continue
        column_name, _, op = name.rpartition("_")
        column = columns[column_name]
        stmt = stmt.where(column >= value if op == "gte" else column <= value)
    return stmt


def _runs_stmt(dag_ids: list[str] | None, states: list[str] | None, run_types: list[str] | None,
               **bounds: datetime | None) -> Select[Any]:
    stmt = select(DagRun)
    if dag_ids is not None:
        stmt = stmt.where(DagRun.dag_id.in_(dag_ids))
    if states:
        stmt = stmt.where(DagRun.state.in_(states))
    if run_types:
        stmt = stmt.where(DagRun.run_type.in_(run_types))
    return _ranges(stmt, **bounds)


@router.get("/dags/{dag_id}/dagRuns", summary="List DAG runs (dag_id '~' for every DAG)",
            response_model=m.DagRunCollection)
def list_dag_runs(
    request: Request,
    dag_id: str,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="id (default), logical_date, run_after, start_date, end_date, "
                                                  "state, dag_run_id, ...; '-' in front for descending"),
    state: list[str] | None = Query(None, description="Only runs in these states."),
    run_type: list[str] | None = Query(None, description="Only runs of these types (manual, scheduled, ...)."),
    logical_date_gte: datetime | None = None,
    logical_date_lte: datetime | None = None,
    execution_date_gte: datetime | None = Query(None, description="Airflow 2 name of logical_date_gte."),
    execution_date_lte: datetime | None = Query(None, description="Airflow 2 name of logical_date_lte."),
    start_date_gte: datetime | None = None,
    start_date_lte: datetime | None = None,
    end_date_gte: datetime | None = None,
    end_date_lte: datetime | None = None,
    _user: Any = can("dag_run", "read"),
) -> dict[str, Any]:
    with read(request) as session:
        if dag_id != ALL:
            dag_or_404(session, dag_id)
        stmt = _runs_stmt(None if dag_id == ALL else [dag_id], state, run_type,
                          logical_date_gte=logical_date_gte or execution_date_gte,
                          logical_date_lte=logical_date_lte or execution_date_lte,
                          start_date_gte=start_date_gte, start_date_lte=start_date_lte,
                          end_date_gte=end_date_gte, end_date_lte=end_date_lte)
        stmt = apply_order(stmt, order_by, RUN_ORDER, "id", tiebreak=(DagRun.id,))
        rows, total = paginate(session, stmt, page)
        return {"dag_runs": run_dicts(session, rows), "total_entries": total}


@router.post("/dags/~/dagRuns/list", summary="List DAG runs of several DAGs (batch form)",
             response_model=m.DagRunCollection)
def list_dag_runs_batch(request: Request, body: schemas.DAGRunsBatchBody,
                        _user: Any = can("dag_run", "read")) -> dict[str, Any]:
    config = request.app.state.config
    page = Page(limit=min(body.page_limit, config.getint("api", "maximum_page_limit")), offset=body.page_offset)
    stmt = _runs_stmt(body.dag_ids, body.states, None,
                      logical_date_gte=body.logical_date_gte or body.execution_date_gte,
                      logical_date_lte=body.logical_date_lte or body.execution_date_lte,
                      start_date_gte=body.start_date_gte, start_date_lte=body.start_date_lte,
                      end_date_gte=body.end_date_gte, end_date_lte=body.end_date_lte)
    stmt = apply_order(stmt, body.order_by, RUN_ORDER, "id", tiebreak=(DagRun.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"dag_runs": run_dicts(session, rows), "total_entries": total}


@router.post("/dags/{dag_id}/dagRuns", summary="Trigger a DAG run", response_model=m.DagRunOut)
def trigger_dag_run(request: Request, dag_id: str, body: schemas.DAGRunTrigger,
                    principal: Any = can("dag_run", "create")) -> dict[str, Any]:
    if body.logical_date is not None and body.execution_date is not None and body.logical_date != body.execution_date:
        raise unprocessable("give logical_date or execution_date (its Airflow 2 name), not two different dates",
                            field="execution_date")
    with action_errors(), write(request) as session:
        run = actions.trigger_run(session, actor_of(principal), dag_id, run_id=body.dag_run_id,
                                  logical_date=body.logical_date or body.execution_date, conf=body.conf,
                                  note=body.note, config=request.app.state.config, now=now())
        out = run_dicts(session, [run])[0]
    wake_after(request, session)
    return out


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}", summary="Get a DAG run", response_model=m.DagRunOut)
def get_dag_run(request: Request, dag_id: str, dag_run_id: str, _user: Any = can("dag_run", "read")) -> dict[str, Any]:
    with read(request) as session:
        return run_dicts(session, [run_or_404(session, dag_id, dag_run_id)])[0]


@router.patch("/dags/{dag_id}/dagRuns/{dag_run_id}", summary="Mark a DAG run success, failed or queued",
              response_model=m.DagRunOut)
def patch_dag_run(request: Request, dag_id: str, dag_run_id: str, body: schemas.DAGRunPatch,
                  principal: Any = can("dag_run", "edit")) -> dict[str, Any]:
    with action_errors(), write(request) as session:
        run = actions.set_run_state(session, actor_of(principal), dag_id, dag_run_id, body.state, now=now())
        out = run_dicts(session, [run])[0]
    wake_after(request, session)
    return out


@router.patch("/dags/{dag_id}/dagRuns/{dag_run_id}/setNote", summary="Set the user's note on a DAG run",
              response_model=m.DagRunOut)
def set_dag_run_note(request: Request, dag_id: str, dag_run_id: str, body: schemas.SetNoteBody,
                     principal: Any = can("dag_run", "edit")) -> dict[str, Any]:
    with action_errors(), write(request) as session:
        actions.set_run_note(session, actor_of(principal), dag_id, dag_run_id, body.note, now=now())
        return run_dicts(session, [actions.find_run(session, dag_id, dag_run_id)])[0]


@router.post("/dags/{dag_id}/dagRuns/{dag_run_id}/clear", summary="Clear a DAG run (dry run by default)",
             response_model=m.DagRunOut | m.TaskInstanceCollection)
def clear_dag_run(request: Request, dag_id: str, dag_run_id: str, body: schemas.DAGRunClear,
                  principal: Any = can("dag_run", "edit")) -> dict[str, Any]:
    from tradewind.observe.api.routes.task_instances import ti_dicts

    with action_errors(), write(request) as session:
        tis = actions.clear_run(session, actor_of(principal), dag_id, dag_run_id, only_failed=body.only_failed,
                                dry_run=body.dry_run, now=now())
        if body.dry_run:
            return {"task_instances": ti_dicts(session, tis), "total_entries": len(tis)}
        out = run_dicts(session, [actions.find_run(session, dag_id, dag_run_id)])[0]
    wake_after(request, session)
    return out


@router.delete("/dags/{dag_id}/dagRuns/{dag_run_id}", status_code=204, summary="Delete a DAG run and its rows")
def delete_dag_run(request: Request, dag_id: str, dag_run_id: str,
                   principal: Any = can("dag_run", "delete")) -> Response:
    with action_errors(), write(request) as session:
        actions.delete_run(session, actor_of(principal), dag_id, dag_run_id, now=now())
    return Response(status_code=204)
