"""``/api/v2`` task instance writes: mark state and/or write the note (one task, one mapped
instance, a task group; each with its dry run), clear (``clearTaskInstances``), delete, and the
bulk update and delete. Every change is an action of :mod:`tradewind.schedule.actions`; these routes check
Airflow 3's bodies, pick the instances the path names and render the result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import ApiError, bad_request, not_found
from tradewind.observe.api.routes.common import ALL, can, masked_fields, now
from tradewind.observe.api.v2.common import (
    API_V2,
    NULL_BODY,
    BulkBody,
    BulkHandler,
    BulkResponse,
    Model,
    acting,
    action_error,
    dag_or_404_v2,
    run_bulk,
    run_or_404_v2,
    ti_or_404_v2,
)
from tradewind.observe.api.v2.task_instance_filters import Snapshots
from tradewind.observe.api.v2.task_instances import (
    MAPPED,
    TI,
    TIS,
    TaskInstanceCollectionResponse,
    TaskInstanceState,
    ti_responses,
)
from tradewind.persist.models import TaskInstance
from tradewind.schedule import actions

router = APIRouter(prefix=API_V2, tags=["Task Instance"])

NOTE = Field(None, max_length=1000)


class PatchTaskInstanceBody(Model):
    """Airflow 3's ``PatchTaskInstanceBody``: a new state (with relatives) and/or the user's note."""

    model_config = {"extra": "forbid"}

    new_state: TaskInstanceState | None = None
    note: str | None = NOTE
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False


class BulkTaskInstanceBody(PatchTaskInstanceBody):
    """One instance of a bulk body (``dag_id``/``dag_run_id`` needed when the path's are ``~``)."""

    task_id: str
    map_index: int | None = None
    dag_id: str | None = None
    dag_run_id: str | None = None


class ClearTaskInstancesBody(Model):
    """Airflow 3's ``ClearTaskInstancesBody``."""

    model_config = {"extra": "forbid"}

    dry_run: bool = True
    start_date: datetime | None = None
    end_date: datetime | None = None
    only_failed: bool = True
    only_running: bool = False
    reset_dag_runs: bool = True
    task_ids: list[str | tuple[str, int]] | None = None
    dag_run_id: str | None = None
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False
    run_on_latest_version: bool | None = None
    note: str | None = NOTE
    prevent_running_task: bool = False


# ------------------------------------------------------------------------------------ marking
def _mark(request: Request, principal: Any, dag_id: str, dag_run_id: str, task_ids: Sequence[str],
          map_index: int | None, body: PatchTaskInstanceBody, fields: set[str], *, dry_run: bool
          ) -> TaskInstanceCollectionResponse:
    """Set the state and/or note of the tasks' instances in the run (``map_index`` None: all of
    them), or with ``dry_run`` list the instances a state change would touch."""
    with acting(request, principal) as (session, actor):
        run_or_404_v2(session, dag_id, dag_run_id)
        tis = _apply(session, actor, dag_id, dag_run_id, task_ids, map_index, body, fields, dry_run=dry_run)
        session.flush()
        return TaskInstanceCollectionResponse(task_instances=ti_responses(request, session, tis),
                                              total_entries=len(tis))


def _apply(session: Session, actor: Any, dag_id: str, dag_run_id: str, task_ids: Sequence[str],
           map_index: int | None, body: PatchTaskInstanceBody, fields: set[str], *, dry_run: bool
           ) -> list[TaskInstance]:
    by_id: dict[int, TaskInstance] = {}
    if "new_state" in fields:
        if body.new_state is None:
            raise bad_request("new_state must be a task instance state", field="new_state")
        for task_id in task_ids:
            for ti in actions.set_task_instance_state(
                    session, actor, dag_id, dag_run_id, task_id, map_index, body.new_state.value,
                    include_upstream=body.include_upstream, include_downstream=body.include_downstream,
                    include_future=body.include_future, include_past=body.include_past, dry_run=dry_run, now=now()):
                by_id[ti.id] = ti
    if "note" in fields:
        for ti in _named(session, dag_id, dag_run_id, task_ids, map_index):
            if not dry_run:
                actions.set_task_instance_note(session, actor, dag_id, dag_run_id, ti.task_id, ti.map_index,
                                               body.note, now=now())
            by_id.setdefault(ti.id, ti)
    return sorted(by_id.values(), key=lambda t: (t.run_id, t.task_id, t.map_index))


def _named(session: Session, dag_id: str, dag_run_id: str, task_ids: Sequence[str], map_index: int | None
           ) -> list[TaskInstance]:
    """The instances the path names: one (map index given), else every map index of the tasks."""
    if map_index is not None:
        return [ti_or_404_v2(session, dag_id, dag_run_id, task_id, map_index) for task_id in task_ids]
    tis = list(session.scalars(select(TaskInstance).where(
        TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run_id, TaskInstance.task_id.in_(task_ids))
        .order_by(TaskInstance.task_id, TaskInstance.map_index)))
    if not tis:
        ti_or_404_v2(session, dag_id, dag_run_id, task_ids[0], -1)
    return tis


def _fields(update_mask: list[str] | None, body: PatchTaskInstanceBody) -> set[str]:
    given = body.model_fields_set & {"new_state", "note"}
    return masked_fields(update_mask, given, ("new_state", "note"),
                         ignored=("include_upstream", "include_downstream", "include_future", "include_past"))


@router.patch(TI + "/dry_run", response_model=TaskInstanceCollectionResponse,
              summary="Patch Task Instance Dry Run", operation_id="patch_task_instance_dry_run")
def patch_task_instance_dry_run(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                                body: PatchTaskInstanceBody, map_index: int | None = None,
                                update_mask: list[str] | None = Query(None),
                                principal: Any = can("task_instance", "edit")) -> TaskInstanceCollectionResponse:
    return _mark(request, principal, dag_id, dag_run_id, [task_id], map_index, body, _fields(update_mask, body),
                 dry_run=True)


@router.patch(TI, response_model=TaskInstanceCollectionResponse, summary="Patch Task Instance",
              operation_id="patch_task_instance")
def patch_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str, body: PatchTaskInstanceBody,
                        map_index: int | None = None, update_mask: list[str] | None = Query(None),
                        principal: Any = can("task_instance", "edit")) -> TaskInstanceCollectionResponse:
    return _mark(request, principal, dag_id, dag_run_id, [task_id], map_index, body, _fields(update_mask, body),
                 dry_run=False)


@router.patch(MAPPED + "/dry_run", response_model=TaskInstanceCollectionResponse,
              summary="Patch Task Instance Dry Run", operation_id="patch_task_instance_dry_run_by_map_index")
def patch_task_instance_dry_run_by_map_index(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                                             map_index: int, body: PatchTaskInstanceBody,
                                             update_mask: list[str] | None = Query(None),
                                             principal: Any = can("task_instance", "edit")
                                             ) -> TaskInstanceCollectionResponse:
    return _mark(request, principal, dag_id, dag_run_id, [task_id], map_index, body, _fields(update_mask, body),
                 dry_run=True)


@router.patch(MAPPED, response_model=TaskInstanceCollectionResponse, summary="Patch Task Instance",
              operation_id="patch_task_instance_by_map_index")
def patch_task_instance_by_map_index(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                                     body: PatchTaskInstanceBody, update_mask: list[str] | None = Query(None),
                                     principal: Any = can("task_instance", "edit")) -> TaskInstanceCollectionResponse:
    return _mark(request, principal, dag_id, dag_run_id, [task_id], map_index, body, _fields(update_mask, body),
                 dry_run=False)


# ------------------------------------------------------------------------------------ task groups
GROUP = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskGroupInstances/{group_id}"


def _group_tasks(request: Request, dag_id: str, dag_run_id: str, group_id: str) -> list[str]:
    """The tasks of the group (nested groups included) in the run's DAG version."""
    from tradewind.observe.api.routes.common import read

    with read(request) as session:
        run = run_or_404_v2(session, dag_id, dag_run_id)
        snapshot = Snapshots(session).of(dag_id, run.dag_version_id)
    tasks = [] if snapshot is None else sorted(
        t.task_id for t in snapshot.tasks.values()
        if t.task_group and (t.task_group == group_id or t.task_group.startswith(group_id + ".")))
    if not tasks:
        raise not_found(f"Task group {group_id} not found in DAG {dag_id}")
    return tasks


@router.patch(GROUP + "/dry_run", response_model=TaskInstanceCollectionResponse,
              summary="Patch Task Group Instances Dry Run", operation_id="patch_task_group_instances_dry_run")
def patch_task_group_instances_dry_run(request: Request, dag_id: str, dag_run_id: str, group_id: str,
                                       body: PatchTaskInstanceBody, principal: Any = can("task_instance", "edit")
                                       ) -> TaskInstanceCollectionResponse:
    tasks = _group_tasks(request, dag_id, dag_run_id, group_id)
    return _mark(request, principal, dag_id, dag_run_id, tasks, None, body, _fields(None, body), dry_run=True)


@router.patch(GROUP, response_model=TaskInstanceCollectionResponse, summary="Patch Task Group Instances",
              operation_id="patch_task_group_instances")
def patch_task_group_instances(request: Request, dag_id: str, dag_run_id: str, group_id: str,
                               body: PatchTaskInstanceBody, update_mask: list[str] | None = Query(None),
                               principal: Any = can("task_instance", "edit")) -> TaskInstanceCollectionResponse:
    tasks = _group_tasks(request, dag_id, dag_run_id, group_id)
    return _mark(request, principal, dag_id, dag_run_id, tasks, None, body, _fields(update_mask, body),
                 dry_run=False)


# ------------------------------------------------------------------------------------ clear
@router.post("/dags/{dag_id}/clearTaskInstances", response_model=TaskInstanceCollectionResponse,
             summary="Post Clear Task Instances", operation_id="post_clear_task_instances")
def post_clear_task_instances(request: Request, dag_id: str, body: ClearTaskInstancesBody,
                              principal: Any = can("task_instance", "edit")) -> TaskInstanceCollectionResponse:
    if body.run_on_latest_version:
        raise bad_request("run_on_latest_version cannot be given: cleared instances run again with the version "
                          "of their run", field="run_on_latest_version")
    with acting(request, principal) as (session, actor):
        dag_or_404_v2(session, dag_id)
        if body.dag_run_id is not None:
            run_or_404_v2(session, dag_id, body.dag_run_id)
        dry_run = body.dry_run or body.prevent_running_task
        tis = _clear(session, actor, dag_id, body, dry_run=dry_run)
        if body.prevent_running_task:
            running = sorted({ti.task_id for ti in tis if ti.state == "running"})
            if running:
                raise ApiError(400, f"Task instances of {', '.join(running)} are running; clear them once they ended "
                                    "or without prevent_running_task", field="prevent_running_task")
            if not body.dry_run:
                tis = _clear(session, actor, dag_id, body, dry_run=False)
        if not body.dry_run and body.note is not None:
            for ti in tis:
                actions.set_task_instance_note(session, actor, ti.dag_id, ti.run_id, ti.task_id, ti.map_index,
                                               body.note, now=now())
        session.flush()
        return TaskInstanceCollectionResponse(task_instances=ti_responses(request, session, tis),
                                              total_entries=len(tis))


def _clear(session: Session, actor: Any, dag_id: str, body: ClearTaskInstancesBody, *, dry_run: bool
           ) -> list[TaskInstance]:
    return actions.clear_task_instances(
        session, actor, dag_id, dag_run_id=body.dag_run_id,
        task_ids=None if body.task_ids is None else [t if isinstance(t, str) else tuple(t) for t in body.task_ids],
        start_date=body.start_date, end_date=body.end_date, only_failed=body.only_failed,
        only_running=body.only_running, include_upstream=body.include_upstream,
        include_downstream=body.include_downstream, include_future=body.include_future,
        include_past=body.include_past, reset_dag_runs=body.reset_dag_runs, dry_run=dry_run, now=now())


# ------------------------------------------------------------------------------------ bulk
_KEY = re.compile(r"^(?P<task>.+?)(\[(?P<index>-?[0-9]+)\])?$")


def _ti_handler(session: Session, actor: Any, dag_id: str, dag_run_id: str) -> BulkHandler:
    """Bulk update (state and/or note) and delete of instances through the actions. Keys read
    ``<task_id>`` (every map index for an update, -1 for a delete) or ``<task_id>[<map_index>]``,
    prefixed ``<dag_id>/<dag_run_id>/`` when the path has ``~`` (DAG and task ids hold no "/")."""

    def where(item: BulkTaskInstanceBody) -> tuple[str, str]:
        item_dag = dag_id if dag_id != ALL else item.dag_id
        item_run = dag_run_id if dag_run_id != ALL else item.dag_run_id
        if not item_dag or not item_run:
            raise bad_request(f"task {item.task_id!r} needs its dag_id and dag_run_id when the path's are '~'",
                              field="dag_id" if not item_dag else "dag_run_id")
        return item_dag, item_run

    def key_of(item: BulkTaskInstanceBody) -> str:
        key = item.task_id if item.map_index is None else f"{item.task_id}[{item.map_index}]"
        if ALL in (dag_id, dag_run_id):
            item_dag, item_run = where(item)
            key = f"{item_dag}/{item_run}/{key}"
        return key

    def parse(key: str) -> tuple[str, str, str, int | None]:
        item_dag, item_run, rest = dag_id, dag_run_id, key
        if ALL in (dag_id, dag_run_id):
            item_dag, _, rest = key.partition("/")
            item_run, _, rest = rest.rpartition("/")
        match = _KEY.match(rest)
        if not item_dag or not item_run or match is None:
            raise bad_request(f"{key!r} does not name a task instance (<task_id> or <task_id>[<map_index>], "
                              "after <dag_id>/<dag_run_id>/ when the path's ids are '~')", field="entities")
        index = match.group("index")
        return item_dag, item_run, match.group("task"), None if index is None else int(index)

    def exists(_session: Session, key: str) -> bool:
        item_dag, item_run, task_id, map_index = parse(key)
        stmt = select(TaskInstance.id).where(TaskInstance.dag_id == item_dag, TaskInstance.run_id == item_run,
                                             TaskInstance.task_id == task_id)
        if map_index is not None:
            stmt = stmt.where(TaskInstance.map_index == map_index)
        return session.scalar(stmt.limit(1)) is not None

    def update(_session: Session, item: BulkTaskInstanceBody, mask: list[str] | None) -> None:
        item_dag, item_run = where(item)
        try:
            _apply(session, actor, item_dag, item_run, [item.task_id], item.map_index, item,
                   _fields(mask, item), dry_run=False)
        except actions.ActionError as exc:
            raise action_error(exc) from None

    def delete(_session: Session, key: str) -> None:
        item_dag, item_run, task_id, map_index = parse(key)
        try:
            actions.delete_task_instance(session, actor, item_dag, item_run, task_id,
                                         -1 if map_index is None else map_index, now=now())
        except actions.ActionError as exc:
            raise action_error(exc) from None

    def create(_session: Session, item: BulkTaskInstanceBody) -> None:
        raise ApiError(405, "task instances cannot be created: the scheduler creates them with their run")

    return BulkHandler(noun="task instances", key_name="task_id", key_of=key_of, exists=exists,
                       create=create, update=update, delete=delete)


@router.delete(TI, response_model=None, responses={200: NULL_BODY}, summary="Delete Task Instance",
               operation_id="delete_task_instance")
def delete_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int = -1,
                         principal: Any = can("task_instance", "delete")) -> None:
    """Delete one instance with its tries, XComs and note (refused while it runs); answers null."""
    with acting(request, principal) as (session, actor):
        ti_or_404_v2(session, dag_id, dag_run_id, task_id, map_index)
        actions.delete_task_instance(session, actor, dag_id, dag_run_id, task_id, map_index, now=now())
    return None


@router.patch(TIS, response_model=BulkResponse, summary="Bulk Task Instances", operation_id="bulk_task_instances")
def bulk_task_instances(request: Request, dag_id: str, dag_run_id: str, body: BulkBody[BulkTaskInstanceBody],
                        principal: Any = can("task_instance", "edit")) -> BulkResponse:
    with acting(request, principal) as (session, actor):
        if dag_id != ALL and dag_run_id != ALL:
            run_or_404_v2(session, dag_id, dag_run_id)
        elif dag_id != ALL:
            dag_or_404_v2(session, dag_id)
        return run_bulk(session, body, _ti_handler(session, actor, dag_id, dag_run_id))
