"""``/api/v2/.../taskInstances/{task_id}/tries``: the tries of a task instance (Airflow 3's
``TaskInstanceHistoryResponse``), mapped or not.

A try row keeps what changes between tries (state, dates, host, pid, operator); what does not
(pool, queue, priority, version, executor) comes from the instance and its DAG version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import not_found
from tradewind.observe.api.routes.common import can, read
from tradewind.observe.api.v2.common import API_V2, Model, dag_display_names, ti_or_404_v2
from tradewind.observe.api.v2.task_instance_filters import Snapshots, default_executor
from tradewind.observe.api.v2.task_instances import (
    MAPPED,
    TI,
    TaskInstanceState,
    version_responses,
)
from tradewind.observe.api.v2.dag_versions import DagVersionResponse
from tradewind.persist.models import TaskInstance, TaskInstanceTry

router = APIRouter(prefix=API_V2, tags=["Task Instance"])


class TaskInstanceHistoryResponse(Model):
    """Airflow 3's ``TaskInstanceHistoryResponse``: one try."""

    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    state: TaskInstanceState | None = None
    try_number: int
    max_tries: int
    task_display_name: str
    dag_display_name: str
    hostname: str | None = None
    unixname: str | None = None
    pool: str
    pool_slots: int
    queue: str | None = None
    priority_weight: int | None = None
    operator: str | None = None
    operator_name: str | None = None
    queued_when: datetime | None = None
    scheduled_when: datetime | None = None
    pid: int | None = None
    executor: str | None = None
    executor_config: str
    dag_version: DagVersionResponse | None = None


class TaskInstanceHistoryCollectionResponse(Model):
    task_instances: list[TaskInstanceHistoryResponse]
    total_entries: int


def _state(value: str | None) -> TaskInstanceState | None:
    try:
        return TaskInstanceState(value) if value and value != "none" else None
    except ValueError:
        return None


def try_responses(request: Request, session: Session, ti: TaskInstance, rows: list[TaskInstanceTry]
                  ) -> list[TaskInstanceHistoryResponse]:
    """API bodies of tries of ``ti`` (what a try row lacks read from the instance)."""
    task = Snapshots(session).task(ti.dag_id, ti.dag_version_id, ti.task_id)
    version = version_responses(session, [ti.dag_version_id]).get(ti.dag_version_id or -1)
    dag_name = dag_display_names(session, [ti.dag_id])[ti.dag_id]
    current = {ti.try_number}
    return [TaskInstanceHistoryResponse(
        task_id=row.task_id, dag_id=row.dag_id, dag_run_id=row.run_id, map_index=row.map_index,
        start_date=row.start_date, end_date=row.end_date, duration=row.duration, state=_state(row.state),
        try_number=row.try_number, max_tries=ti.max_tries,
        task_display_name=(task.task_display_name if task is not None else None) or ti.task_id,
        dag_display_name=dag_name, hostname=row.hostname, pool=ti.pool, pool_slots=ti.pool_slots, queue=ti.queue,
        priority_weight=ti.priority_weight, operator=row.operator or ti.operator, operator_name=row.operator or ti.operator,
        queued_when=ti.queued_dttm if row.try_number in current else None,
        scheduled_when=ti.scheduled_dttm if row.try_number in current else None, pid=row.pid,
        executor=(task.executor if task is not None else None) or default_executor(request), executor_config="{}",
        dag_version=version) for row in rows]


def _tries(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int
           ) -> TaskInstanceHistoryCollectionResponse:
    with read(request) as session:
        ti = ti_or_404_v2(session, dag_id, dag_run_id, task_id, map_index)
        T = TaskInstanceTry
        rows = list(session.scalars(select(T).where(T.dag_id == dag_id, T.run_id == dag_run_id, T.task_id == task_id,
                                                    T.map_index == map_index).order_by(T.try_number)))
        items = try_responses(request, session, ti, rows)
    return TaskInstanceHistoryCollectionResponse(task_instances=items, total_entries=len(items))


def _one_try(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int, try_number: int
             ) -> TaskInstanceHistoryResponse:
    with read(request) as session:
        ti = ti_or_404_v2(session, dag_id, dag_run_id, task_id, map_index)
        T = TaskInstanceTry
        row = session.scalars(select(T).where(T.dag_id == dag_id, T.run_id == dag_run_id, T.task_id == task_id,
                                              T.map_index == map_index, T.try_number == try_number)).one_or_none()
        if row is None:
            raise not_found(f"The Task Instance with dag_id: `{dag_id}`, run_id: `{dag_run_id}`, task_id: `{task_id}`, "
                            f"try_number: `{try_number}` and map_index: `{map_index}` was not found")
        return try_responses(request, session, ti, [row])[0]


@router.get(TI + "/tries", response_model=TaskInstanceHistoryCollectionResponse, summary="Get Task Instance Tries",
            operation_id="get_task_instance_tries")
def get_task_instance_tries(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int = -1,
                            _user: Any = can("task_instance", "read")) -> TaskInstanceHistoryCollectionResponse:
    return _tries(request, dag_id, dag_run_id, task_id, map_index)


@router.get(TI + "/tries/{task_try_number}", response_model=TaskInstanceHistoryResponse,
            summary="Get Task Instance Try Details", operation_id="get_task_instance_try_details")
def get_task_instance_try_details(request: Request, dag_id: str, dag_run_id: str, task_id: str, task_try_number: int,
                                  map_index: int = -1, _user: Any = can("task_instance", "read")
                                  ) -> TaskInstanceHistoryResponse:
    return _one_try(request, dag_id, dag_run_id, task_id, map_index, task_try_number)


@router.get(MAPPED + "/tries", response_model=TaskInstanceHistoryCollectionResponse,
            summary="Get Mapped Task Instance Tries", operation_id="get_mapped_task_instance_tries")
def get_mapped_task_instance_tries(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                                   _user: Any = can("task_instance", "read")) -> TaskInstanceHistoryCollectionResponse:
    return _tries(request, dag_id, dag_run_id, task_id, map_index)


@router.get(MAPPED + "/tries/{task_try_number}", response_model=TaskInstanceHistoryResponse,
            summary="Get Mapped Task Instance Try Details", operation_id="get_mapped_task_instance_try_details")
def get_mapped_task_instance_try_details(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                                         map_index: int, task_try_number: int,
                                         _user: Any = can("task_instance", "read")) -> TaskInstanceHistoryResponse:
    return _one_try(request, dag_id, dag_run_id, task_id, map_index, task_try_number)
