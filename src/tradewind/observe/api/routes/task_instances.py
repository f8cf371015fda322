"""Task instances: list (``~`` for every DAG/run), get (mapped too), tries, dependencies
("why is this not running"), mark state, set the note and clear (each change one call of
:mod:`tradewind.schedule.actions`).

Instances carry their run's ``logical_date`` and their current try's ``rendered_fields``; both
are read for a whole page at once (one join, one query for the tries).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from tradewind.observe.api import schemas
from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import not_found, unprocessable
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate_rows
from tradewind.observe.api.routes.action_errors import action_errors, actor_of, wake_after
from tradewind.observe.api.routes.common import (
    ALL,
    API,
    can,
    dag_or_404,
    now,
    read,
    run_or_404,
    run_snapshot,
    ti_or_404,
    write,
)
from tradewind.persist.models import DagRun, TaskInstance, TaskInstanceTry
from tradewind.persist.queries.notes import ti_notes
from tradewind.persist.queries.task_instances import list_tries
from tradewind.schedule import actions

router = APIRouter(prefix=API, tags=["TaskInstance"])

TI_PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"

TI_ORDER = {
    "id": TaskInstance.id, "dag_id": TaskInstance.dag_id, "dag_run_id": TaskInstance.run_id,
    "task_id": TaskInstance.task_id, "map_index": TaskInstance.map_index, "state": TaskInstance.state,
    "start_date": TaskInstance.start_date, "end_date": TaskInstance.end_date, "duration": TaskInstance.duration,
    "try_number": TaskInstance.try_number, "priority_weight": TaskInstance.priority_weight,
    "pool": TaskInstance.pool, "queue": TaskInstance.queue, "logical_date": DagRun.logical_date,
}


def _state_filter(states: list[str]) -> Any:
    """Airflow writes the no-state instances as ``none`` (or ``null``); we store ``none``."""
    return TaskInstance.state.in_(["none" if s in ("none", "null", "") else s for s in states])


def _tis_stmt(*, dag_ids: list[str] | None = None, run_ids: list[str] | None = None,
              task_ids: list[str] | None = None, states: list[str] | None = None, pools: list[str] | None = None,
              queues: list[str] | None = None, duration_gte: float | None = None, duration_lte: float | None = None,
              **bounds: datetime | None) -> Select[Any]:
    stmt = select(TaskInstance, DagRun.logical_date).join(
        DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
    for column, wanted in ((TaskInstance.dag_id, dag_ids), (TaskInstance.run_id, run_ids),
                           (TaskInstance.task_id, task_ids), (TaskInstance.pool, pools),
                           (TaskInstance.queue, queues)):
        if wanted:
            stmt = stmt.where(column.in_(wanted))
    if states:
        stmt = stmt.where(_state_filter(states))
    if duration_gte is not None:
        stmt = stmt.where(TaskInstance.duration >= duration_gte)
    if duration_lte is not None:
        stmt = stmt.where(TaskInstance.duration <= duration_lte)
    columns = {"start_date": TaskInstance.start_date, "end_date": TaskInstance.end_date,
               "logical_date": DagRun.logical_date}
    for name, value in bounds.items():
        if value is not None:
            column_name, _, op = name.rpartition("_")
            stmt = stmt.where(columns[column_name] >= value if op == "gte" else columns[column_name] <= value)
    return stmt


def _rendered_fields(session: Session, tis: Iterable[TaskInstance]) -> dict[tuple[str, str, str, int], dict]:
    """(dag_id, run_id, task_id, map_index) -> the rendered fields of the instance's current try."""
    keys = [(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number) for ti in tis if ti.try_number]
    if not keys:
        return {}
    T = TaskInstanceTry
    rows = session.execute(select(T.dag_id, T.run_id, T.task_id, T.map_index, T.rendered_fields).where(
        tuple_(T.dag_id, T.run_id, T.task_id, T.map_index, T.try_number).in_(keys)))
    return {(d, r, t, m): fields or {} for d, r, t, m, fields in rows}


def ti_dicts(session: Session, tis: list[TaskInstance],
             logical_dates: dict[tuple[str, str], datetime | None] | None = None) -> list[dict[str, Any]]:
    """API dicts of instances (any DAGs/runs), with logical dates and rendered fields read in bulk."""
    if logical_dates is None:
        run_keys = sorted({(ti.dag_id, ti.run_id) for ti in tis})
        logical_dates = {}
        if run_keys:
            logical_dates = {(d, r): ld for d, r, ld in session.execute(
                select(DagRun.dag_id, DagRun.run_id, DagRun.logical_date).where(
                    tuple_(DagRun.dag_id, DagRun.run_id).in_(run_keys)))}
    rendered = _rendered_fields(session, tis)
    notes = ti_notes(session, [ti.id for ti in tis])
    return [schemas.ti_dict(ti, logical_date=logical_dates.get((ti.dag_id, ti.run_id)),
                            rendered_fields=rendered.get((ti.dag_id, ti.run_id, ti.task_id, ti.map_index), {}),
                            note=notes.get(ti.id))
            for ti in tis]


def _page_dicts(session: Session, rows: list[Any]) -> list[dict[str, Any]]:
    tis = [row[0] for row in rows]
    dates = {(row[0].dag_id, row[0].run_id): row[1] for row in rows}
    return ti_dicts(session, tis, dates)


@router.get(TI_PATH, summary="List task instances of a run ('~' for every DAG and/or run)",
            response_model=m.TaskInstanceCollection)
def list_task_instances(
    request: Request,
    dag_id: str,
    dag_run_id: str,
    page: Page = Depends(page_params),
    order_by: str | None = Query(None, description="task_id (default), map_index, state, start_date, end_date, "
                                                  "duration, try_number, priority_weight, pool, logical_date, ..."),
    task_id: list[str] | None = Query(None, description="Only these tasks."),
    state: list[str] | None = Query(None, description="Only instances in these states ('none' for no state)."),
    pool: list[str] | None = Query(None),
    queue: list[str] | None = Query(None),
    start_date_gte: datetime | None = None,
    start_date_lte: datetime | None = None,
    end_date_gte: datetime | None = None,
    end_date_lte: datetime | None = None,
    logical_date_gte: datetime | None = None,
    logical_date_lte: datetime | None = None,
    execution_date_gte: datetime | None = Query(None, description="Airflow 2 name of logical_date_gte."),
    execution_date_lte: datetime | None = Query(None, description="Airflow 2 name of logical_date_lte."),
    duration_gte: float | None = None,
    duration_lte: float | None = None,
    _user: Any = can("task_instance", "read"),
) -> dict[str, Any]:
    stmt = _tis_stmt(dag_ids=None if dag_id == ALL else [dag_id], run_ids=None if dag_run_id == ALL else [dag_run_id],
                     task_ids=task_id, states=state, pools=pool, queues=queue, duration_gte=duration_gte,
                     duration_lte=duration_lte, start_date_gte=start_date_gte, start_date_lte=start_date_lte,
                     end_date_gte=end_date_gte, end_date_lte=end_date_lte,
                     logical_date_gte=logical_date_gte or execution_date_gte,
                     logical_date_lte=logical_date_lte or execution_date_lte)
    stmt = apply_order(stmt, order_by, TI_ORDER, "task_id", tiebreak=(TaskInstance.map_index, TaskInstance.id))
    with read(request) as session:
        if dag_id != ALL and dag_run_id != ALL:
            run_or_404(session, dag_id, dag_run_id)
        elif dag_id != ALL:
            dag_or_404(session, dag_id)
        rows, total = paginate_rows(session, stmt, page)
        return {"task_instances": _page_dicts(session, rows), "total_entries": total}


@router.post("/dags/~/dagRuns/~/taskInstances/list", summary="List task instances of several DAGs/runs (batch)",
             response_model=m.TaskInstanceCollection)
def list_task_instances_batch(request: Request, body: schemas.TaskInstancesBatchBody,
                              _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    config = request.app.state.config
    page = Page(limit=min(body.page_limit, config.getint("api", "maximum_page_limit")), offset=body.page_offset)
    stmt = _tis_stmt(dag_ids=body.dag_ids, run_ids=body.dag_run_ids, task_ids=body.task_ids, states=body.state,
                     pools=body.pool, queues=body.queue, duration_gte=body.duration_gte,
                     duration_lte=body.duration_lte, start_date_gte=body.start_date_gte,
                     start_date_lte=body.start_date_lte, end_date_gte=body.end_date_gte,
                     end_date_lte=body.end_date_lte)
    stmt = stmt.order_by(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index)
    with read(request) as session:
        rows, total = paginate_rows(session, stmt, page)
        return {"task_instances": _page_dicts(session, rows), "total_entries": total}


# ------------------------------------------------------------------- one instance and its tries
def _one(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    with read(request) as session:
        ti = ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        return ti_dicts(session, [ti])[0]


def _tries(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    with read(request) as session:
        ti = ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        rows = list_tries(session, dag_id, dag_run_id, task_id, map_index)
        items = [schemas.try_dict(r, max_tries=ti.max_tries) for r in rows]
    return {"task_instances": items, "total_entries": len(items)}


def _one_try(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
             try_number: int) -> dict[str, Any]:
    with read(request) as session:
        ti = ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        row = session.scalars(select(TaskInstanceTry).where(
            TaskInstanceTry.dag_id == dag_id, TaskInstanceTry.run_id == dag_run_id,
            TaskInstanceTry.task_id == task_id, TaskInstanceTry.map_index == map_index,
            TaskInstanceTry.try_number == try_number)).one_or_none()
        if row is None:
            raise not_found(f"Task instance {task_id} of run '{dag_run_id}' has no try number {try_number} "
                            f"(it has had {ti.try_number})", title="Try not found")
        return schemas.try_dict(row, max_tries=ti.max_tries)


def _dependencies(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    from tradewind.schedule.deps import failed_deps

    with read(request) as session:
        ti = ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        run = run_or_404(session, dag_id, dag_run_id)
        reasons = failed_deps(session, ti, run_snapshot(session, run), now=now(),
                              parallelism=request.app.state.config.parallelism, run=run)
    return {"dependencies": [{"name": "Dependency not met", "reason": r} for r in reasons]}


@router.get(TI_PATH + "/{task_id}", summary="Get a task instance", response_model=m.TaskInstanceOut)
def get_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                      _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _one(request, dag_id, dag_run_id, task_id, -1)


@router.get(TI_PATH + "/{task_id}/listMapped", summary="List the mapped instances of a task",
            response_model=m.TaskInstanceCollection)
def list_mapped_task_instances(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                               page: Page = Depends(page_params),
                               order_by: str | None = Query(None, description="map_index (default), state, ..."),
                               state: list[str] | None = Query(None),
                               _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    stmt = _tis_stmt(dag_ids=[dag_id], run_ids=[dag_run_id], task_ids=[task_id], states=state)
    stmt = apply_order(stmt.where(TaskInstance.map_index >= 0), order_by, TI_ORDER, "map_index",
                       tiebreak=(TaskInstance.id,))
    with read(request) as session:
        run_or_404(session, dag_id, dag_run_id)
        rows, total = paginate_rows(session, stmt, page)
        return {"task_instances": _page_dicts(session, rows), "total_entries": total}


@router.get(TI_PATH + "/{task_id}/tries", summary="List the tries of a task instance",
            response_model=m.TaskInstanceTryCollection)
def get_task_instance_tries(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                            _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _tries(request, dag_id, dag_run_id, task_id, -1)


@router.get(TI_PATH + "/{task_id}/tries/{try_number}", summary="Get one try of a task instance",
            response_model=m.TaskInstanceTryOut)
def get_task_instance_try(request: Request, dag_id: str, dag_run_id: str, task_id: str, try_number: int,
                          _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _one_try(request, dag_id, dag_run_id, task_id, -1, try_number)


@router.get(TI_PATH + "/{task_id}/dependencies", summary="Why a task instance is not running",
            response_model=m.DependencyCollection)
def get_task_instance_dependencies(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                                   _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _dependencies(request, dag_id, dag_run_id, task_id, -1)


@router.get(TI_PATH + "/{task_id}/links", summary="The extra links of a task instance",
            response_model=m.ExtraLinkCollection)
def get_extra_links(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int = -1,
                    _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    """Tradewind's operators define no extra links, so an existing instance has none (404 for an
    unknown one). Registered before ``/{task_id}/{map_index}``, which would take ``links``."""
    with read(request) as session:
        ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
    return {"extra_links": [], "total_entries": 0}


@router.get(TI_PATH + "/{task_id}/{map_index}", summary="Get one mapped task instance",
            response_model=m.TaskInstanceOut)
def get_mapped_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                             _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _one(request, dag_id, dag_run_id, task_id, map_index)


@router.get(TI_PATH + "/{task_id}/{map_index}/tries", summary="List the tries of a mapped task instance",
            response_model=m.TaskInstanceTryCollection)
def get_mapped_task_instance_tries(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                                   _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _tries(request, dag_id, dag_run_id, task_id, map_index)


@router.get(TI_PATH + "/{task_id}/{map_index}/tries/{try_number}", summary="Get one try of a mapped task instance",
            response_model=m.TaskInstanceTryOut)
def get_mapped_task_instance_try(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                                 try_number: int, _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _one_try(request, dag_id, dag_run_id, task_id, map_index, try_number)


@router.get(TI_PATH + "/{task_id}/{map_index}/dependencies", summary="Why a mapped task instance is not running",
            response_model=m.DependencyCollection)
def get_mapped_task_instance_dependencies(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                                          map_index: int,
                                          _user: Any = can("task_instance", "read")) -> dict[str, Any]:
    return _dependencies(request, dag_id, dag_run_id, task_id, map_index)


@router.post("/dags/{dag_id}/updateTaskInstancesState",
             summary="Mark a task in one run (and its relatives, past/future runs) success/failed/skipped",
             response_model=m.TaskInstanceRefCollection)
def update_task_instances_state(request: Request, dag_id: str, body: schemas.UpdateTaskInstancesState,
                                principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
    if (body.dag_run_id is None) == (body.execution_date is None):
        raise unprocessable("give one of dag_run_id and execution_date", field="dag_run_id")
    with action_errors(), write(request) as session:
        run_id = body.dag_run_id
        if run_id is None:
            run_id = actions.find_run_at(session, dag_id, body.execution_date,  # type: ignore[arg-type]
                                         field="execution_date").run_id
        tis = actions.set_task_instance_state(
            session, actor_of(principal), dag_id, run_id, body.task_id, None, body.new_state,
            include_upstream=body.include_upstream, include_downstream=body.include_downstream,
            include_future=body.include_future, include_past=body.include_past, dry_run=body.dry_run, now=now())
        refs = [{"task_id": t["task_id"], "dag_id": t["dag_id"], "dag_run_id": t["dag_run_id"],
                 "execution_date": t["execution_date"]} for t in ti_dicts(session, tis)]
    wake_after(request, session)
    return {"task_instances": refs}


# ------------------------------------------------------------------- notes (before PATCH /{task_id}/{map_index})
def _set_note(request: Request, principal: Any, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
              body: schemas.SetNoteBody) -> dict[str, Any]:
    with action_errors(), write(request) as session:
        actions.set_task_instance_note(session, actor_of(principal), dag_id, dag_run_id, task_id, map_index,
                                       body.note, now=now())
        return ti_dicts(session, [actions.find_task_instance(session, dag_id, dag_run_id, task_id, map_index)])[0]


@router.patch(TI_PATH + "/{task_id}/setNote", summary="Set the user's note on a task instance",
              response_model=m.TaskInstanceOut)
def set_task_instance_note(request: Request, dag_id: str, dag_run_id: str, task_id: str, body: schemas.SetNoteBody,
                           principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
    return _set_note(request, principal, dag_id, dag_run_id, task_id, -1, body)


@router.patch(TI_PATH + "/{task_id}/{map_index}/setNote", summary="Set the user's note on a mapped task instance",
              response_model=m.TaskInstanceOut)
def set_mapped_task_instance_note(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                                  body: schemas.SetNoteBody,
                                  principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
    return _set_note(request, principal, dag_id, dag_run_id, task_id, map_index, body)


# ------------------------------------------------------------------- mark state
def _patch(request: Request, principal: Any, dag_id: str, dag_run_id: str, task_id: str, map_index: int | None,
           body: schemas.TaskInstancePatch) -> dict[str, Any]:
    with action_errors(), write(request) as session:
        tis = actions.set_task_instance_state(
            session, actor_of(principal), dag_id, dag_run_id, task_id, map_index, body.new_state,
            include_upstream=body.include_upstream, include_downstream=body.include_downstream,
            include_future=body.include_future, include_past=body.include_past, dry_run=body.dry_run, now=now())
        listed = ti_dicts(session, tis)
        out = {**_reference(listed, task_id, map_index), "task_instances": listed, "total_entries": len(tis)}
    wake_after(request, session)  # the scheduler re-decides the run (downstream instances, the run's state)
    return out


def _reference(listed: list[dict[str, Any]], task_id: str, map_index: int | None) -> dict[str, Any]:
    """Airflow 2's answer to a mark (``TaskInstanceReference``: the addressed instance's task_id,
    dag_id, dag_run_id, execution_date); the list of every instance marked follows it."""
    for ti in listed:
        if ti["task_id"] == task_id and (map_index is None or ti["map_index"] == map_index):
            return {"task_id": ti["task_id"], "dag_id": ti["dag_id"], "dag_run_id": ti["dag_run_id"],
                    "execution_date": ti["execution_date"]}
    return {}


@router.patch(TI_PATH + "/{task_id}", summary="Mark a task instance success/failed/skipped (dry run by default)",
              response_model=m.TaskInstancesMarked,
              response_model_exclude_unset=True)
def patch_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                        body: schemas.TaskInstancePatch,
                        principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
    return _patch(request, principal, dag_id, dag_run_id, task_id, None, body)


@router.patch(TI_PATH + "/{task_id}/{map_index}", summary="Mark one mapped task instance (dry run by default)",
              response_model=m.TaskInstancesMarked,
              response_model_exclude_unset=True)
def patch_mapped_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                               body: schemas.TaskInstancePatch,
                               principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
    return _patch(request, principal, dag_id, dag_run_id, task_id, map_index, body)


# ------------------------------------------------------------------- clear
@router.post("/dags/{dag_id}/clearTaskInstances", summary="Clear task instances (dry run and only failed by default)",
             response_model=m.TaskInstanceCollection)
def clear_task_instances(request: Request, dag_id: str, body: schemas.ClearTaskInstancesBody,
                         principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
    with action_errors(), write(request) as session:
        tis = actions.clear_task_instances(
            session, actor_of(principal), dag_id, dag_run_id=body.dag_run_id, task_ids=body.task_ids,
            start_date=body.start_date, end_date=body.end_date, only_failed=body.only_failed,
            only_running=body.only_running, include_upstream=body.include_upstream,
            include_downstream=body.include_downstream, include_future=body.include_future,
            include_past=body.include_past, reset_dag_runs=body.reset_dag_runs, dry_run=body.dry_run, now=now())
        out = {"task_instances": ti_dicts(session, tis), "total_entries": len(tis)}
    wake_after(request, session)
    return out
