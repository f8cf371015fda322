"""``/api/v2/dags/{dag_id}/tasks``: the tasks of a DAG's latest version, as Airflow 3 shows them.

``class_ref`` names the operator class the task runs (its module and class, also for ``@task``
tasks, whose class is the decorator's operator); ``operator_name`` is the name the UI shows
(``@task`` for those). Durations are Airflow's ``TimeDelta`` objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from tradewind.observe.api.errors import bad_request, not_found
from tradewind.observe.api.routes.common import can, read
from tradewind.observe.api.routes.dags import TASK_ORDER_KEYS
from tradewind.observe.api.schemas import _param_dict
from tradewind.observe.api.v2.common import API_V2, Model
from tradewind.observe.api.v2.dag_versions import dag_v2_or_404
from tradewind.parse.snapshot import DagSnapshot, TaskSnapshot
from tradewind.persist.queries import dags as dag_queries

router = APIRouter(prefix=API_V2, tags=["Task"])


class TimeDelta(Model):
    """A duration as Airflow serializes it (``{"__type": "TimeDelta", days, seconds, microseconds}``)."""

    type: str = Field("TimeDelta", alias="__type")
    days: int
    seconds: int
    microseconds: int


class TaskResponse(Model):
    task_id: str | None = None
    task_display_name: str | None = None
    owner: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    trigger_rule: str | None = None
    depends_on_past: bool
    wait_for_downstream: bool
    retries: float | None = None
    queue: str | None = None
    pool: str | None = None
    pool_slots: float | None = None
    execution_timeout: TimeDelta | None = None
    retry_delay: TimeDelta | None = None
    retry_exponential_backoff: float
    priority_weight: float | None = None
    weight_rule: str | None = None
    ui_color: str | None = None
    ui_fgcolor: str | None = None
    template_fields: list[str] | None = None
    downstream_task_ids: list[str] | None = None
    doc_md: str | None = None
    operator_name: str | None = None
    params: dict[str, Any] | None = None
    class_ref: dict[str, Any] | None = None
    is_mapped: bool | None = None
    extra_links: list[str]


class TaskCollectionResponse(Model):
    tasks: list[TaskResponse]
    total_entries: int


def time_delta(seconds: float | None) -> TimeDelta | None:
    if seconds is None:
        return None
    whole = int(seconds)
    return TimeDelta(days=whole // 86400, seconds=whole % 86400, microseconds=int(round((seconds - whole) * 1e6)))


def class_ref(task: TaskSnapshot) -> dict[str, str]:
    """``{"module_path", "class_name"}`` of the operator class (recorded at parse time)."""
    qualified = str(task.extra.get("operator_class") or "")
    module, _, name = qualified.rpartition(".")
    if not module:
        return {"module_path": "tradewind.definition.operators", "class_name": qualified or task.operator}
    return {"module_path": module, "class_name": name}


def task_response(task: TaskSnapshot, snapshot: DagSnapshot) -> TaskResponse:
    return TaskResponse(
        task_id=task.task_id, task_display_name=task.task_display_name or task.task_id, owner=task.owner,
        start_date=task.start_date or snapshot.start_date, end_date=task.end_date or snapshot.end_date,
        trigger_rule=task.trigger_rule, depends_on_past=task.depends_on_past,
        wait_for_downstream=task.wait_for_downstream, retries=task.retries, queue=task.queue, pool=task.pool,
        pool_slots=task.pool_slots, execution_timeout=time_delta(task.execution_timeout),
        retry_delay=time_delta(task.retry_delay),
        # Airflow 3 takes a multiplier here; True is its default multiplier, 2.
        retry_exponential_backoff=2.0 if task.retry_exponential_backoff else 0.0,
        priority_weight=task.priority_weight, weight_rule=task.weight_rule,
        ui_color=task.extra.get("ui_color"), ui_fgcolor=task.extra.get("ui_fgcolor"),
        template_fields=list(task.template_fields), downstream_task_ids=sorted(task.downstream),
        doc_md=task.doc_md, operator_name=task.operator,
        params={name: _param_dict(p) for name, p in snapshot.params.items()},
        class_ref=class_ref(task), is_mapped=bool(task.extra.get("is_mapped")), extra_links=[])


def _snapshot(request: Request, dag_id: str) -> DagSnapshot:
    with read(request) as session:
        dag_v2_or_404(session, dag_id)
        latest = dag_queries.latest_snapshot(session, dag_id)
    if latest is None:
        raise not_found(f"Dag with id {dag_id} was not found (it has no parsed version yet)", title="Dag not found")
    return latest[1]


@router.get("/dags/{dag_id}/tasks", response_model=TaskCollectionResponse, summary="List a DAG's tasks")
def get_tasks(request: Request, dag_id: str,
              order_by: str = Query("task_id", description=f"One of {', '.join(TASK_ORDER_KEYS)}; "
                                                             "'-' in front for descending"),
              _user: Any = can("dag", "read")) -> TaskCollectionResponse:
    key = order_by.removeprefix("-")
    if key not in TASK_ORDER_KEYS:
        raise bad_request(f"Ordering with '{key}' is disallowed or the attribute does not exist on the model; "
                          f"use one of: {', '.join(TASK_ORDER_KEYS)}", field="order_by")
    snapshot = _snapshot(request, dag_id)
    tasks = [task_response(t, snapshot) for t in snapshot.tasks.values()]
    tasks.sort(key=lambda t: (getattr(t, key) is None, getattr(t, key), t.task_id or ""),
               reverse=order_by.startswith("-"))
    return TaskCollectionResponse(tasks=tasks, total_entries=len(tasks))


@router.get("/dags/{dag_id}/tasks/{task_id}", response_model=TaskResponse, summary="Get one task of a DAG")
def get_task(request: Request, dag_id: str, task_id: str, _user: Any = can("dag", "read")) -> TaskResponse:
    snapshot = _snapshot(request, dag_id)
    task = snapshot.tasks.get(task_id)
    if task is None:
        raise not_found(f"Task with id {task_id} was not found", title="Task not found")
    return task_response(task, snapshot)
