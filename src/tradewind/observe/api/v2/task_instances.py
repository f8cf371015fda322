"""``/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances``: Airflow 3's task instance reads.

The list (``~`` for every DAG and/or run; Airflow 3's filters, multi-field ``order_by``, offset or
cursor pages), the batch list, one instance (mapped too), the mapped instances of a task, and
why an instance is not running (the scheduler's own checks, read only), extra links (none:
Tradewind operators define none). The list filters are in :mod:`.task_instance_filters`, tries
in :mod:`.task_instance_tries`, writes (state, notes, clear, bulk) in :mod:`.task_instance_actions`.

An instance carries its run's ``logical_date``/``run_after``, the user's note
(``task_instance_note``), its current try's rendered fields, the version it ran with, and the
trigger and triggerer a deferred instance waits on; a page's worth is read in a few queries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor

from tradewind.definition.masking import redact
from tradewind.observe.api.errors import bad_request
from tradewind.observe.api.pagination import Page, paginate_rows
from tradewind.observe.api.routes.common import ALL, can, now, read
from tradewind.observe.api.v2.common import (
    API_V2,
    Model,
    apply_orders,
    cursor_links,
    cursor_window,
    dag_display_names,
    dag_or_404_v2,
    filter_in,
    filter_name,
    order_by_query,
    page_v2,
    row_uuid,
    run_or_404_v2,
    ti_or_404_v2,
)
from tradewind.observe.api.v2.dag_versions import DagVersionResponse, version_responses_by_id
from tradewind.observe.api.v2.jobs import JobResponse
from tradewind.observe.api.v2.task_instance_filters import (
    ORDER_FIELDS,
    CommonFilters,
    Snapshots,
    base_stmt,
    common_filters,
    date_bounds,
    default_executor,
    snapshot_filters,
    ti_order_columns,
    ti_ranges,
    ti_states,
)
from tradewind.persist.models import DagRun, Job, TaskInstance, TaskInstanceNote, TaskInstanceTry, Trigger

router = APIRouter(prefix=API_V2, tags=["Task Instance"])

TIS = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"
TI = TIS + "/{task_id}"


class _MapIndexConvertor(Convertor[int]):
    """A map index in a path: only an integer matches, so ``.../{task_id}/tries`` (or another
    module's ``.../{task_id}/xcomEntries``) is never taken for ``.../{task_id}/{map_index}``."""

    regex = "-?[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("map_index", _MapIndexConvertor())
#: One mapped instance (``{map_index}`` matches integers only).
MAPPED = TI + "/{map_index:map_index}"


# ------------------------------------------------------------------------------------ bodies
class TaskInstanceState(str, Enum):
    REMOVED = "removed"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    RESTARTING = "restarting"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    AWAITING_INPUT = "awaiting_input"


class TriggerResponse(Model):
    id: int
    classpath: str
    kwargs: str
    created_date: datetime
    trigger_id: int | None = None
    queue: str | None = None


class TaskInstanceResponse(Model):
    """Airflow 3's ``TaskInstanceResponse``."""

    id: str
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    logical_date: datetime | None = None
    run_after: datetime
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
    note: str | None = None
    rendered_map_index: str | None = None
    rendered_fields: dict[str, Any] = Field(default_factory=dict)
    trigger: TriggerResponse | None = None
    triggerer_job: JobResponse | None = None
    dag_version: DagVersionResponse | None = None


class TaskInstanceCollectionResponse(Model):
    """Airflow 3's ``TaskInstanceCollectionResponse`` (cursors only for cursor pages)."""

    task_instances: list[TaskInstanceResponse]
    total_entries: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None
    total_entries_limit: int | None = None


class TaskInstancesBatchBody(Model):
    """Airflow 3's ``TaskInstancesBatchBody`` (``POST /dags/~/dagRuns/~/taskInstances/list``)."""

    model_config = {"extra": "forbid"}

    dag_ids: list[str] | None = None
    dag_run_ids: list[str] | None = None
    task_ids: list[str] | None = None
    state: list[TaskInstanceState | None] | None = None
    run_after_gte: datetime | None = None
    run_after_gt: datetime | None = None
    run_after_lte: datetime | None = None
    run_after_lt: datetime | None = None
    logical_date_gte: datetime | None = None
    logical_date_gt: datetime | None = None
    logical_date_lte: datetime | None = None
    logical_date_lt: datetime | None = None
    start_date_gte: datetime | None = None
    start_date_gt: datetime | None = None
    start_date_lte: datetime | None = None
    start_date_lt: datetime | None = None
    end_date_gte: datetime | None = None
    end_date_gt: datetime | None = None
    end_date_lte: datetime | None = None
    end_date_lt: datetime | None = None
    duration_gte: float | None = None
    duration_gt: float | None = None
    duration_lte: float | None = None
    duration_lt: float | None = None
    pool: list[str] | None = None
    queue: list[str] | None = None
    executor: list[str] | None = None
    page_offset: int = Field(0, ge=0)
    page_limit: int = Field(100, ge=0)
    order_by: str | None = None


class TaskDependencyResponse(Model):
    name: str
    reason: str


class TaskDependencyCollectionResponse(Model):
    dependencies: list[TaskDependencyResponse]


# ------------------------------------------------------------------------------------ rows -> bodies
def _state(value: str | None) -> TaskInstanceState | None:
    try:
        return TaskInstanceState(value) if value and value != "none" else None
    except ValueError:
        return None


def _rendered(session: Session, tis: Sequence[TaskInstance]) -> dict[int, dict[str, Any]]:
    """ti id -> rendered fields of its current try."""
    keys = {(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number): ti.id for ti in tis if ti.try_number}
    if not keys:
        return {}
    T = TaskInstanceTry
    rows = session.execute(select(T.dag_id, T.run_id, T.task_id, T.map_index, T.try_number, T.rendered_fields)
                           .where(tuple_(T.dag_id, T.run_id, T.task_id, T.map_index, T.try_number).in_(list(keys))))
    return {keys[(d, r, t, m, n)]: fields or {} for d, r, t, m, n, fields in rows}


def _notes(session: Session, tis: Sequence[TaskInstance]) -> dict[int, str | None]:
    ids = [ti.id for ti in tis]
    if not ids:
        return {}
    return dict(session.execute(select(TaskInstanceNote.ti_id, TaskInstanceNote.content)
                                .where(TaskInstanceNote.ti_id.in_(ids))).all())


def _runs(session: Session, tis: Sequence[TaskInstance]) -> dict[tuple[str, str], DagRun]:
    keys = sorted({(ti.dag_id, ti.run_id) for ti in tis})
    if not keys:
        return {}
    runs = session.scalars(select(DagRun).where(tuple_(DagRun.dag_id, DagRun.run_id).in_(keys)))
    return {(r.dag_id, r.run_id): r for r in runs}


def version_responses(session: Session, ids: Iterable[int | None]) -> dict[int, DagVersionResponse]:
    return version_responses_by_id(session, ids)


def _triggers(session: Session, tis: Sequence[TaskInstance]) -> tuple[dict[int, TriggerResponse], dict[int, JobResponse]]:
    """trigger id -> body, triggerer job id -> body, for the deferred instances among ``tis``."""
    ids = {ti.trigger_id for ti in tis if ti.trigger_id is not None}
    if not ids:
        return {}, {}
    triggers = list(session.scalars(select(Trigger).where(Trigger.id.in_(ids))))
    job_ids = {t.triggerer_id for t in triggers if t.triggerer_id is not None}
    jobs = {j.id: JobResponse(id=j.id, state=j.state, job_type=j.job_type, start_date=j.start_date,
                              end_date=j.end_date, latest_heartbeat=j.latest_heartbeat, hostname=j.hostname)
            for j in (session.scalars(select(Job).where(Job.id.in_(job_ids))) if job_ids else [])}
    return ({t.id: TriggerResponse(id=t.id, classpath=t.classpath, kwargs=json.dumps(redact(t.kwargs or {})),
                                   created_date=t.created_date, trigger_id=t.triggerer_id) for t in triggers},
            {job_id: jobs[job_id] for job_id in jobs})


def ti_responses(request: Request, session: Session, tis: Sequence[TaskInstance],
                 snapshots: Snapshots | None = None) -> list[TaskInstanceResponse]:
    """API bodies of instances of any DAGs and runs; everything they carry read in bulk."""
    snapshots = snapshots or Snapshots(session)
    runs = _runs(session, tis)
    rendered = _rendered(session, tis)
    notes = _notes(session, tis)
    versions = version_responses(session, [ti.dag_version_id for ti in tis])
    names = dag_display_names(session, [ti.dag_id for ti in tis])
    triggers, jobs = _triggers(session, tis)
    executor = default_executor(request)
    out = []
    for ti in tis:
        run = runs.get((ti.dag_id, ti.run_id))
        task = snapshots.task(ti.dag_id, ti.dag_version_id if ti.dag_version_id else getattr(run, "dag_version_id", None),
                              ti.task_id)
        trigger = triggers.get(ti.trigger_id) if ti.trigger_id is not None else None
        out.append(TaskInstanceResponse(
            id=str(row_uuid("task_instance", ti.id)), task_id=ti.task_id, dag_id=ti.dag_id, dag_run_id=ti.run_id,
            map_index=ti.map_index, logical_date=getattr(run, "logical_date", None),
            run_after=run.run_after if run is not None else (ti.queued_dttm or now()),
            start_date=ti.start_date, end_date=ti.end_date, duration=ti.duration, state=_state(ti.state),
            try_number=ti.try_number, max_tries=ti.max_tries,
            task_display_name=(task.task_display_name if task is not None else None) or ti.task_id,
            dag_display_name=names.get(ti.dag_id, ti.dag_id), hostname=ti.hostname, pool=ti.pool,
            pool_slots=ti.pool_slots, queue=ti.queue, priority_weight=ti.priority_weight, operator=ti.operator,
            operator_name=ti.operator, queued_when=ti.queued_dttm, scheduled_when=ti.scheduled_dttm, pid=ti.pid,
            executor=(task.executor if task is not None else None) or executor, executor_config="{}",
            note=notes.get(ti.id), rendered_map_index=ti.rendered_map_index,
            rendered_fields=redact(rendered.get(ti.id, {})), trigger=trigger,
            triggerer_job=jobs.get(trigger.trigger_id) if trigger is not None and trigger.trigger_id else None,
            dag_version=versions.get(ti.dag_version_id) if ti.dag_version_id is not None else None))
    return out


def page_of_tis(request: Request, session: Session, stmt: Select[Any], order_by: Sequence[str] | None, default: str,
                page: Page, cursor: str | None = None) -> TaskInstanceCollectionResponse:
    stmt = apply_orders(stmt, order_by, ti_order_columns(), default, tiebreak=(TaskInstance.id,))
    page = cursor_window(page, cursor)
    if page.limit == 0:
        rows, total = [], int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    else:
        rows, total = paginate_rows(session, stmt, page)
    tis = [row[0] for row in rows]
    return TaskInstanceCollectionResponse(task_instances=ti_responses(request, session, tis), total_entries=total,
                                          **cursor_links(page, cursor, total))


# ------------------------------------------------------------------------------------ read routes
@router.get(TIS, response_model=TaskInstanceCollectionResponse, summary="Get Task Instances",
            operation_id="get_task_instances")
def get_task_instances(
    request: Request, dag_id: str, dag_run_id: str,
    page: Page = Depends(page_v2),
    cursor: str | None = Query(None, description="Opaque page token: '' for the first page, then next_cursor."),
    task_id: str | None = None,
    bounds: dict[str, Any] = Depends(date_bounds),
    task_display_name_pattern: str | None = None, task_display_name_prefix_pattern: str | None = None,
    task_group_id: str | None = None,
    dag_id_pattern: str | None = None, dag_id_prefix_pattern: str | None = None,
    run_id_pattern: str | None = None, run_id_prefix_pattern: str | None = None,
    filters: CommonFilters = Depends(common_filters),
    order_by: list[str] = order_by_query("map_index", ORDER_FIELDS),
    _user: Any = can("task_instance", "read"),
) -> TaskInstanceCollectionResponse:
    with read(request) as session:
        stmt = base_stmt()
        if dag_id != ALL:
            dag_or_404_v2(session, dag_id)
            stmt = stmt.where(TaskInstance.dag_id == dag_id)
        if dag_run_id != ALL:
            if dag_id != ALL:
                run_or_404_v2(session, dag_id, dag_run_id)
            stmt = stmt.where(TaskInstance.run_id == dag_run_id)
        if task_id is not None:
            stmt = stmt.where(TaskInstance.task_id == task_id)
        stmt = ti_ranges(stmt, bounds)
        stmt = filter_name(stmt, TaskInstance.dag_id, dag_id_pattern, dag_id_prefix_pattern)
        stmt = filter_name(stmt, TaskInstance.run_id, run_id_pattern, run_id_prefix_pattern)
        dag_ids = None if dag_id == ALL else [dag_id]
        stmt = snapshot_filters(stmt, request, session, dag_ids, display_pattern=task_display_name_pattern,
                                display_prefix=task_display_name_prefix_pattern, task_group_id=task_group_id)
        stmt = filters.apply(stmt, request, session, dag_ids)
        return page_of_tis(request, session, stmt, order_by, "map_index", page, cursor)


@router.post(TIS + "/list", response_model=TaskInstanceCollectionResponse, summary="Get Task Instances Batch",
             operation_id="get_task_instances_batch")
def get_task_instances_batch(request: Request, dag_id: str, dag_run_id: str, body: TaskInstancesBatchBody,
                             _user: Any = can("task_instance", "read")) -> TaskInstanceCollectionResponse:
    for name, value in (("dag_id", dag_id), ("dag_run_id", dag_run_id)):
        if value != ALL:
            raise bad_request(f"the batch list is served for {name} '~' only, not {value!r}; put the ids in the "
                              f"body's {name}s", field=name)
    config = request.app.state.config
    page = Page(limit=min(body.page_limit, config.getint("api", "maximum_page_limit")), offset=body.page_offset)
    with read(request) as session:
        stmt = filter_in(base_stmt(), TaskInstance.dag_id, body.dag_ids)
        stmt = filter_in(filter_in(stmt, TaskInstance.run_id, body.dag_run_ids), TaskInstance.task_id, body.task_ids)
        stmt = filter_in(filter_in(ti_states(stmt, body.state), TaskInstance.pool, body.pool),
                         TaskInstance.queue, body.queue)
        stmt = ti_ranges(stmt, body.model_dump())
        stmt = snapshot_filters(stmt, request, session, body.dag_ids, executors=body.executor)
        return page_of_tis(request, session, stmt, [body.order_by] if body.order_by else None, "map_index", page)


def one_response(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int
                 ) -> TaskInstanceResponse:
    with read(request) as session:
        return ti_responses(request, session, [ti_or_404_v2(session, dag_id, dag_run_id, task_id, map_index)])[0]


def _dependencies(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int
                  ) -> TaskDependencyCollectionResponse:
    """The scheduler's unmet conditions for the instance to start a try now (nothing is changed)."""
    from tradewind.schedule.deps import failed_deps

    with read(request) as session:
        ti = ti_or_404_v2(session, dag_id, dag_run_id, task_id, map_index)
        run = run_or_404_v2(session, dag_id, dag_run_id)
        snapshot = Snapshots(session).of(dag_id, run.dag_version_id)
        if snapshot is None:
            reasons = [f"DAG {dag_id} has no parsed version"]
        else:
            reasons = failed_deps(session, ti, snapshot, now=now(),
                                  parallelism=request.app.state.config.parallelism, run=run)
    return TaskDependencyCollectionResponse(dependencies=[
        TaskDependencyResponse(name=_dependency_name(reason), reason=reason) for reason in reasons])


#: The scheduler's reasons start with words that say which check failed; Airflow names its deps so.
_DEP_NAMES = (
    ("paused", "Dag Not Paused"), ("run is", "Dagrun Running"), ("dag run", "Dagrun Running"),
    ("trigger rule", "Trigger Rule"), ("upstream", "Trigger Rule"), ("retry", "Not In Retry Period"),
    ("reschedule", "Ready To Reschedule"), ("past", "Previous Dagrun State"), ("pool", "Pool Slots Available"),
    ("max_active_tis_per_dag", "Task Concurrency"), ("concurrency", "Task Concurrency"),
    ("max_active_tasks", "Dag Concurrency"), ("parallelism", "Executor Slots Available"),
    ("state", "Task Instance State"), ("start_date", "Execution Date"), ("end_date", "Execution Date"),
)


def _dependency_name(reason: str) -> str:
    low = reason.lower()
    for needle, name in _DEP_NAMES:
        if needle in low:
            return name
    return "Dependency Not Met"


@router.get(TI, response_model=TaskInstanceResponse, summary="Get Task Instance", operation_id="get_task_instance")
def get_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                      _user: Any = can("task_instance", "read")) -> TaskInstanceResponse:
    return one_response(request, dag_id, dag_run_id, task_id, -1)


@router.get(TI + "/listMapped", response_model=TaskInstanceCollectionResponse, summary="Get Mapped Task Instances",
            operation_id="get_mapped_task_instances")
def get_mapped_task_instances(
    request: Request, dag_id: str, dag_run_id: str, task_id: str,
    bounds: dict[str, Any] = Depends(date_bounds),
    filters: CommonFilters = Depends(common_filters),
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("map_index", ORDER_FIELDS),
    _user: Any = can("task_instance", "read"),
) -> TaskInstanceCollectionResponse:
    with read(request) as session:
        run = run_or_404_v2(session, dag_id, dag_run_id)
        snapshot = Snapshots(session).of(dag_id, run.dag_version_id)
        if snapshot is None or task_id not in snapshot.tasks:
            raise _no_task(dag_id, task_id)
        stmt = base_stmt().where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run_id,
                                 TaskInstance.task_id == task_id, TaskInstance.map_index >= 0)
        stmt = filters.apply(ti_ranges(stmt, bounds), request, session, [dag_id])
        return page_of_tis(request, session, stmt, order_by, "map_index", page)


def _no_task(dag_id: str, task_id: str) -> Exception:
    from tradewind.observe.api.errors import not_found

    return not_found(f"Task id {task_id} not found in dag {dag_id}")


@router.get(TI + "/dependencies", response_model=TaskDependencyCollectionResponse,
            summary="Get Task Instance Dependencies", operation_id="get_task_instance_dependencies")
def get_task_instance_dependencies(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int = -1,
                                   _user: Any = can("task_instance", "read")) -> TaskDependencyCollectionResponse:
    return _dependencies(request, dag_id, dag_run_id, task_id, map_index)


class ExtraLinkCollectionResponse(Model):
    """Airflow 3's ``ExtraLinkCollectionResponse``: link name -> URL."""

    extra_links: dict[str, str | None]
    total_entries: int


@router.get(TI + "/links", response_model=ExtraLinkCollectionResponse, summary="Get Extra Links",
            operation_id="get_extra_links")
def get_extra_links(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int = -1,
                    try_number: int | None = None,
                    _user: Any = can("task_instance", "read")) -> ExtraLinkCollectionResponse:
    """Tradewind operators define no extra links (tasks list none), so an existing instance has none."""
    with read(request) as session:
        ti_or_404_v2(session, dag_id, dag_run_id, task_id, map_index)
    return ExtraLinkCollectionResponse(extra_links={}, total_entries=0)


@router.get(MAPPED, response_model=TaskInstanceResponse, summary="Get Mapped Task Instance",
            operation_id="get_mapped_task_instance")
def get_mapped_task_instance(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                             _user: Any = can("task_instance", "read")) -> TaskInstanceResponse:
    return one_response(request, dag_id, dag_run_id, task_id, map_index)


@router.get(MAPPED + "/dependencies", response_model=TaskDependencyCollectionResponse,
            summary="Get Task Instance Dependencies By Map Index",
            operation_id="get_task_instance_dependencies_by_map_index")
def get_task_instance_dependencies_by_map_index(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                                                map_index: int, _user: Any = can("task_instance", "read")
                                                ) -> TaskDependencyCollectionResponse:
    return _dependencies(request, dag_id, dag_run_id, task_id, map_index)


