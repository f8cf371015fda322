"""``/api/v1/dags``: list, get, pause/unpause (PATCH), delete, details and tasks of a DAG.

Pausing and deleting are calls of :mod:`tradewind.schedule.actions`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Select, Text, cast, or_, select
from sqlalchemy.orm import Session

from tradewind.observe.api import schemas
from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import bad_request, not_found
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.action_errors import action_errors, actor_of, wake_after
from tradewind.observe.api.routes.common import (
    API,
    can,
    dag_or_404,
    now,
    read,
    snapshot_or_404,
    write,
)
from tradewind.persist.models import DagModel, DagVersion, ImportError_
from tradewind.persist.queries import dags as dag_queries
from tradewind.schedule import actions

router = APIRouter(prefix=API, tags=["DAG"])

DAG_ORDER = {"dag_id": DagModel.dag_id, "last_parsed_time": DagModel.last_parsed_time,
             "next_dagrun": DagModel.next_dagrun, "is_paused": DagModel.is_paused, "fileloc": DagModel.fileloc}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _display_names(session: Session, dags: list[DagModel]) -> dict[str, str]:
    """dag_id -> dag_display_name for a page of DAGs, from their latest versions (cached per version)."""
    return dag_queries.latest_display_names(session, [d.dag_id for d in dags])


def _files_with_errors(session: Session, filelocs: list[str]) -> set[str]:
    if not filelocs:
        return set()
    return set(session.scalars(select(ImportError_.filename).where(ImportError_.filename.in_(filelocs)).distinct()))


def dag_dicts(session: Session, dags: list[DagModel]) -> list[dict[str, Any]]:
    names = _display_names(session, dags)
    broken = _files_with_errors(session, sorted({d.fileloc for d in dags}))
    return [schemas.dag_dict(d, display_name=names.get(d.dag_id), has_import_errors=d.fileloc in broken)
            for d in dags]


def _dags_stmt(*, only_active: bool, paused: bool | None, dag_id_pattern: str | None,
               tags: list[str] | None) -> Select[Any]:
    stmt = select(DagModel)
    if only_active:
        stmt = stmt.where(DagModel.is_active.is_(True))
    if paused is not None:
        stmt = stmt.where(DagModel.is_paused.is_(paused))
    if dag_id_pattern:
        stmt = stmt.where(DagModel.dag_id.like(f"%{_like_escape(dag_id_pattern)}%", escape="\\"))
    if tags:
        # Tags are a JSON list: match each tag's exact JSON encoding inside the stored text (portable).
        tag_text = cast(DagModel.tags, Text)
        stmt = stmt.where(or_(*(tag_text.like(f"%{_like_escape(json.dumps(t))}%", escape="\\") for t in tags)))
    return stmt


@router.get("/dags", summary="List DAGs", response_model=m.DagCollection)
def list_dags(
    request: Request,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="dag_id (default), last_parsed_time, next_dagrun, is_paused, "
                                                  "fileloc; '-' in front for descending"),
    tags: list[str] | None = Query(None, description="Only DAGs with any of these tags."),
    only_active: bool = Query(True, description="Only DAGs whose file still defines them."),
    paused: bool | None = Query(None, description="Only paused (true) or unpaused (false) DAGs."),
    dag_id_pattern: str | None = Query(None, description="Only DAGs whose id contains this text."),
    _user: Any = can("dag", "read"),
) -> dict[str, Any]:
    stmt = _dags_stmt(only_active=only_active, paused=paused, dag_id_pattern=dag_id_pattern, tags=tags)
    stmt = apply_order(stmt, order_by, DAG_ORDER, "dag_id", tiebreak=(DagModel.dag_id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"dags": dag_dicts(session, rows), "total_entries": total}


@router.patch("/dags", summary="Pause or unpause every DAG whose id contains dag_id_pattern (Airflow 2's bulk form)",
              response_model=m.DagCollection)
def patch_dags(
    request: Request,
    body: schemas.DAGPatch,
    dag_id_pattern: str = Query(..., min_length=1, description="DAGs whose id contains this text ('~' for all)."),
    tags: list[str] | None = Query(None, description="Only DAGs with any of these tags."),
    only_active: bool = Query(True, description="Only DAGs whose file still defines them."),
    update_mask: list[str] | None = Query(None, description="Fields to update; only is_paused may be."),
    page: Page = Depends(page_params),
    principal: Any = can("dag", "edit"),
) -> dict[str, Any]:
    if update_mask and any(f != "is_paused" for f in update_mask):
        raise bad_request("Only `is_paused` field can be updated through the REST API", field="update_mask")
    stmt = _dags_stmt(only_active=only_active, paused=None, dag_id_pattern=None if dag_id_pattern == "~"
                      else dag_id_pattern, tags=tags).order_by(DagModel.dag_id)
    with action_errors(), write(request) as session:
        rows, total = paginate(session, stmt, page)
        for dag in rows:
            actions.set_paused(session, actor_of(principal), dag.dag_id, body.is_paused, now=now())
        out = {"dags": dag_dicts(session, rows), "total_entries": total}
    wake_after(request, session)  # once, however many DAGs were unpaused
    return out


@router.get("/dags/{dag_id}", summary="Get a DAG", response_model=m.DagOut)
def get_dag(request: Request, dag_id: str, _user: Any = can("dag", "read")) -> dict[str, Any]:
    with read(request) as session:
        return dag_dicts(session, [dag_or_404(session, dag_id)])[0]


@router.patch("/dags/{dag_id}", summary="Pause or unpause a DAG", response_model=m.DagOut)
def patch_dag(
    request: Request,
    dag_id: str,
    body: schemas.DAGPatch,
    update_mask: list[str] | None = Query(None, description="Fields to update; only is_paused may be."),
    principal: Any = can("dag", "edit"),
) -> dict[str, Any]:
    if update_mask and any(f != "is_paused" for f in update_mask):
        raise bad_request("Only `is_paused` field can be updated through the REST API", field="update_mask")
    with action_errors(), write(request) as session:
        actions.set_paused(session, actor_of(principal), dag_id, body.is_paused, now=now())
        out = dag_dicts(session, [dag_or_404(session, dag_id)])[0]
    wake_after(request, session)  # unpaused: its queued runs start now, not after the scheduler's idle wait
    return out


@router.delete("/dags/{dag_id}", status_code=204, summary="Delete a DAG's rows (it returns on its file's next parse)")
def delete_dag(request: Request, dag_id: str, principal: Any = can("dag", "delete")) -> Response:
    with action_errors(), write(request) as session:
        actions.delete_dag(session, actor_of(principal), dag_id, now=now())
    return Response(status_code=204)


@router.get("/dags/{dag_id}/details", summary="Get a DAG with its schedule, params and settings",
            response_model=m.DagDetailOut)
def get_dag_details(request: Request, dag_id: str, _user: Any = can("dag", "read")) -> dict[str, Any]:
    with read(request) as session:
        dag = dag_or_404(session, dag_id)
        version_id, snapshot = snapshot_or_404(session, dag_id)
        version = session.get(DagVersion, version_id)
        broken = bool(_files_with_errors(session, [dag.fileloc]))
        return schemas.dag_detail_dict(dag, snapshot, version_number=version.version_number if version else None,
                                       has_import_errors=broken)


TASK_ORDER_KEYS = ("task_id", "priority_weight", "pool", "queue", "retries", "owner")


@router.get("/dags/{dag_id}/tasks", summary="List a DAG's tasks", response_model=m.TaskCollection)
def list_tasks(
    request: Request,
    dag_id: str,
    order_by: str = Query("task_id", description="task_id (default), priority_weight, pool, queue, retries, owner"),
    _user: Any = can("dag", "read"),
) -> dict[str, Any]:
    descending = order_by.startswith("-")
    key = order_by.lstrip("-")
    if key not in TASK_ORDER_KEYS:
        raise bad_request(f"order_by {order_by!r} is not allowed; use one of: {', '.join(TASK_ORDER_KEYS)}",
                          field="order_by")
    with read(request) as session:
        _, snapshot = snapshot_or_404(session, dag_id)
    tasks = [schemas.task_dict(t) for t in snapshot.tasks.values()]
    tasks.sort(key=lambda t: (t[key] is None, t[key], t["task_id"]), reverse=descending)
    return {"tasks": tasks, "total_entries": len(tasks)}


@router.get("/dags/{dag_id}/tasks/{task_id}", summary="Get one task of a DAG", response_model=m.TaskOut)
def get_task(request: Request, dag_id: str, task_id: str, _user: Any = can("dag", "read")) -> dict[str, Any]:
    with read(request) as session:
        _, snapshot = snapshot_or_404(session, dag_id)
    task = snapshot.tasks.get(task_id)
    if task is None:
        raise not_found(f"Task with id '{task_id}' not found in DAG '{dag_id}'", title="Task not found")
    return schemas.task_dict(task)
