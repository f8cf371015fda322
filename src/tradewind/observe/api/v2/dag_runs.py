"""``/api/v2/dags/{dag_id}/dagRuns``: Airflow 3's DAG run routes.

Reads: the list (``~`` for every DAG; Airflow 3's filters, multi-field ``order_by``, offset or
cursor pages), the batch list, one run, the asset events that triggered it, and ``/wait`` (the
run's state as NDJSON lines until it finishes). Writes (trigger, state and note, clear, delete,
bulk) go through :mod:`tradewind.schedule.actions`, as the UI and the CLI do.

Runs carry what Airflow 3 reports and Tradewind keeps: the versions their instances ran
(``dag_versions``), the user's note (``dag_run_note``), the triggering user (the audit log's
``trigger`` entry). Partitions and bundle versions do not exist here: those fields are null and
a filter on them matches no run.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field
from sqlalchemy import String, Select, cast, false, func, or_, select, tuple_
from sqlalchemy.orm import Session

from tradewind.definition.masking import redact
from tradewind.observe.api.errors import ApiError, bad_request
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import ALL, can, read
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
    filter_range,
    order_by_query,
    page_v2,
    run_or_404_v2,
)
from tradewind.observe.api.v2.dag_versions import DagVersionResponse, version_responses_by_id
from tradewind.persist.models import (
    AssetModel,
    AuditLog,
    DagRun,
    DagRunNote,
    DagScheduleAssetReference,
    DagVersion,
    TaskInstance,
    XCom,
)
from tradewind.schedule.actions import TRIGGER_RUN_TYPES

router = APIRouter(prefix=API_V2, tags=["DagRun"])

RUNS = "/dags/{dag_id}/dagRuns"
RUN = RUNS + "/{dag_run_id}"


# ------------------------------------------------------------------------------------ bodies
class DagRunState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class DagRunType(str, Enum):
    BACKFILL = "backfill"
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    OPERATOR_TRIGGERED = "operator_triggered"
    ASSET_TRIGGERED = "asset_triggered"
    ASSET_MATERIALIZATION = "asset_materialization"


class DagRunTriggeredByType(str, Enum):
    CLI = "cli"
    OPERATOR = "operator"
    REST_API = "rest_api"
    UI = "ui"
    TEST = "test"
    TIMETABLE = "timetable"
    ASSET = "asset"
    BACKFILL = "backfill"


class DAGRunResponse(Model):
    """Airflow 3's ``DAGRunResponse``."""

    dag_run_id: str
    dag_id: str
    logical_date: datetime | None = None
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_after: datetime
    last_scheduling_decision: datetime | None = None
    run_type: DagRunType
    state: DagRunState
    triggered_by: DagRunTriggeredByType | None = None
    triggering_user_name: str | None = None
    conf: dict[str, Any] | None = None
    note: str | None = None
    dag_versions: list[DagVersionResponse]
    bundle_version: str | None = None
    dag_display_name: str
    partition_key: str | None = None
    partition_date: datetime | None = None


class DAGRunCollectionResponse(Model):
    """Airflow 3's ``DAGRunCollectionResponse`` (cursors only for cursor pages)."""

    dag_runs: list[DAGRunResponse]
    total_entries: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None
    total_entries_limit: int | None = None


class DAGRunsBatchBody(Model):
    """Airflow 3's ``DAGRunsBatchBody`` (``POST /dags/~/dagRuns/list``)."""

    model_config = {"extra": "forbid"}

    order_by: str | None = None
    page_offset: int = Field(0, ge=0)
    page_limit: int = Field(100, ge=0)
    dag_ids: list[str] | None = None
    states: list[DagRunState | None] | None = None
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
    conf_contains: str | None = None


class DagRunAssetReference(Model):
    """A run an asset event triggered (Airflow 3's ``DagRunAssetReference``)."""

    model_config = {"extra": "forbid"}

    run_id: str
    dag_id: str
    logical_date: datetime | None = None
    start_date: datetime
    end_date: datetime | None = None
    state: str
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    partition_key: str | None = None
    triggering: bool


class AssetEventResponse(Model):
    """Airflow 3's ``AssetEventResponse``."""

    id: int
    asset_id: int
    uri: str | None = None
    name: str | None = None
    group: str | None = None
    extra: dict[str, Any] | None = None
    source_task_id: str | None = None
    source_dag_id: str | None = None
    source_run_id: str | None = None
    source_map_index: int
    created_dagruns: list[DagRunAssetReference]
    timestamp: datetime
    partition_key: str | None = None


class AssetEventCollectionResponse(Model):
    asset_events: list[AssetEventResponse]
    total_entries: int


# ------------------------------------------------------------------------------------ rows -> bodies
def _duration(run: DagRun) -> float | None:
    if run.start_date is None or run.end_date is None:
        return None
    return (run.end_date - run.start_date).total_seconds()


def _triggered_by(value: str | None) -> DagRunTriggeredByType | None:
    """Ours when Airflow 3 has the same origin; "manual" (the API, UI or CLI alike) is unknown."""
    try:
        return DagRunTriggeredByType(value) if value else None
    except ValueError:
        return None


def _versions_by_run(session: Session, runs: Sequence[DagRun]) -> dict[int, list[DagVersionResponse]]:
    """run id -> the versions its run and its task instances were created with, oldest first."""
    wanted: dict[int, set[int]] = defaultdict(set)
    for run in runs:
        if run.dag_version_id is not None:
            wanted[run.id].add(run.dag_version_id)
    keys = {(r.dag_id, r.run_id): r.id for r in runs}
    if keys:
        rows = session.execute(select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.dag_version_id)
                               .where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(list(keys)),
                                      TaskInstance.dag_version_id.is_not(None)).distinct())
        for dag_id, run_id, version_id in rows:
            wanted[keys[(dag_id, run_id)]].add(version_id)
    bodies = version_responses_by_id(session, {v for versions in wanted.values() for v in versions})
    return {run_id: [bodies[v] for v in sorted(ids_) if v in bodies] for run_id, ids_ in wanted.items()}


def _notes(session: Session, runs: Sequence[DagRun]) -> dict[int, str | None]:
    ids = [r.id for r in runs]
    if not ids:
        return {}
    return dict(session.execute(select(DagRunNote.dag_run_id, DagRunNote.content)
                                .where(DagRunNote.dag_run_id.in_(ids))).all())


#: The interface a manual run was triggered through (the ``trigger`` audit entry's ``source``),
#: as Airflow 3's ``triggered_by``.
_VIA = {"api": DagRunTriggeredByType.REST_API, "ui": DagRunTriggeredByType.UI, "cli": DagRunTriggeredByType.CLI}


def _triggers(session: Session, runs: Sequence[DagRun]) -> dict[tuple[str, str], tuple[str | None, Any]]:
    """(dag_id, run_id) -> (who triggered the manual or materializing run, through which
    interface), from the audit log's ``trigger`` entry."""
    keys = [(r.dag_id, r.run_id) for r in runs if r.run_type in TRIGGER_RUN_TYPES]
    if not keys:
        return {}
    rows = session.execute(select(AuditLog.dag_id, AuditLog.run_id, AuditLog.owner, AuditLog.extra)
                           .where(AuditLog.event == "trigger", tuple_(AuditLog.dag_id, AuditLog.run_id).in_(keys))
                           .order_by(AuditLog.id.desc()))
    out: dict[tuple[str, str], tuple[str | None, Any]] = {}
    for dag_id, run_id, owner, extra in rows:
        try:
            source = (json.loads(extra) or {}).get("source") if extra else None
        except (ValueError, AttributeError):
            source = None
        out[(dag_id, run_id)] = (owner, _VIA.get(source))
    return out


def run_responses(session: Session, runs: Sequence[DagRun]) -> list[DAGRunResponse]:
    """API bodies of runs (of any DAGs); versions, notes, users and names read in bulk."""
    versions = _versions_by_run(session, runs)
    notes = _notes(session, runs)
    triggers = _triggers(session, runs)
    names = dag_display_names(session, [r.dag_id for r in runs])
    out = []
    for r in runs:
        who, via = triggers.get((r.dag_id, r.run_id), (None, None))
        out.append(DAGRunResponse(
            dag_run_id=r.run_id, dag_id=r.dag_id, logical_date=r.logical_date, queued_at=r.queued_at,
            start_date=r.start_date, end_date=r.end_date, duration=_duration(r),
            data_interval_start=r.data_interval_start, data_interval_end=r.data_interval_end, run_after=r.run_after,
            last_scheduling_decision=r.last_scheduling_decision, run_type=DagRunType(r.run_type),
            state=DagRunState(r.state), triggered_by=via or _triggered_by(r.triggered_by), triggering_user_name=who,
            conf=redact(r.conf or {}), note=notes.get(r.id), dag_versions=versions.get(r.id, []),
            dag_display_name=names.get(r.dag_id, r.dag_id)))
    return out


def run_response(session: Session, run: DagRun) -> DAGRunResponse:
    return run_responses(session, [run])[0]


# ------------------------------------------------------------------------------------ list filters
def run_duration(session: Session) -> Any:
    """SQL for a run's duration in seconds (null until it ended), in the session's dialect."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(DagRun.end_date) - func.julianday(DagRun.start_date)) * 86400.0
    return func.extract("epoch", DagRun.end_date - DagRun.start_date)


def _order_columns(session: Session) -> dict[str, Any]:
    return {"id": DagRun.id, "state": DagRun.state, "dag_id": DagRun.dag_id, "run_id": DagRun.run_id,
            "dag_run_id": DagRun.run_id, "logical_date": DagRun.logical_date, "run_after": DagRun.run_after,
            "start_date": DagRun.start_date, "end_date": DagRun.end_date, "conf": cast(DagRun.conf, String),
            "duration": run_duration(session), "run_type": DagRun.run_type, "queued_at": DagRun.queued_at}


def _ranges(stmt: Select[Any], session: Session, bounds: dict[str, Any]) -> Select[Any]:
    """Apply every given ``<field>_gte/_gt/_lte/_lt`` of ``bounds`` (keys as the query names them)."""
    columns = {"run_after": DagRun.run_after, "logical_date": DagRun.logical_date, "start_date": DagRun.start_date,
               "end_date": DagRun.end_date, "duration": run_duration(session)}
    for name, column in columns.items():
        stmt = filter_range(stmt, column, **{op: bounds.get(f"{name}_{op}") for op in ("gte", "gt", "lte", "lt")})
    return stmt


def _conf_contains(stmt: Select[Any], text: str | None) -> Select[Any]:
    if not text:
        return stmt
    return stmt.where(cast(DagRun.conf, String).contains(text, autoescape=True))


def _consuming_asset(stmt: Select[Any], text: str | None) -> Select[Any]:
    """Runs of DAGs scheduled on an asset whose name or URI holds ``text`` (literally)."""
    if not text:
        return stmt
    dags = (select(DagScheduleAssetReference.dag_id).join(AssetModel, AssetModel.id == DagScheduleAssetReference.asset_id)
            .where(or_(AssetModel.name.icontains(text, autoescape=True), AssetModel.uri.icontains(text, autoescape=True))))
    return stmt.where(DagRun.dag_id.in_(dags))


def _triggering_user(stmt: Select[Any], pattern: str | None, prefix: str | None) -> Select[Any]:
    if pattern in (None, "", "~") and prefix in (None, "", "~"):
        return stmt
    users = select(AuditLog.dag_id, AuditLog.run_id).where(AuditLog.event == "trigger")
    users = filter_name(users, AuditLog.owner, pattern, prefix)
    return stmt.where(tuple_(DagRun.dag_id, DagRun.run_id).in_(users))


def _versions(stmt: Select[Any], numbers: list[int] | None) -> Select[Any]:
    if not numbers:
        return stmt
    ids = select(DagVersion.id).where(DagVersion.dag_id == DagRun.dag_id, DagVersion.version_number.in_(numbers))
    return stmt.where(DagRun.dag_version_id.in_(ids))


def _no_partitions(stmt: Select[Any], **given: Any) -> Select[Any]:
    """Tradewind runs have no partition and no bundle version: asking for one matches nothing."""
    if any(v not in (None, "", "~") for v in given.values()):
        return stmt.where(false())
    return stmt


def _states(values: Sequence[Any] | None) -> list[str] | None:
    if not values:
        return None
    return [v.value if isinstance(v, Enum) else v for v in values if v is not None] or None


def _page_of_runs(session: Session, stmt: Select[Any], order_by: Sequence[str] | None, page: Page,
                  cursor: str | None = None) -> DAGRunCollectionResponse:
    stmt = apply_orders(stmt, order_by, _order_columns(session), "id", tiebreak=(DagRun.id,))
    page = cursor_window(page, cursor)
    if page.limit == 0:
        rows, total = [], int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    else:
        rows, total = paginate(session, stmt, page)
    return DAGRunCollectionResponse(dag_runs=run_responses(session, rows), total_entries=total,
                                    **cursor_links(page, cursor, total))


# ------------------------------------------------------------------------------------ read routes
@router.get(RUNS, response_model=DAGRunCollectionResponse, response_model_exclude_unset=False,
            summary="Get Dag Runs", operation_id="get_dag_runs")
def get_dag_runs(
    request: Request,
    dag_id: str,
    page: Page = Depends(page_v2),
    cursor: str | None = Query(None, description="Opaque page token: '' for the first page, then next_cursor."),
    run_after_gte: datetime | None = None, run_after_gt: datetime | None = None,
    run_after_lte: datetime | None = None, run_after_lt: datetime | None = None,
    logical_date_gte: datetime | None = None, logical_date_gt: datetime | None = None,
    logical_date_lte: datetime | None = None, logical_date_lt: datetime | None = None,
    start_date_gte: datetime | None = None, start_date_gt: datetime | None = None,
    start_date_lte: datetime | None = None, start_date_lt: datetime | None = None,
    end_date_gte: datetime | None = None, end_date_gt: datetime | None = None,
    end_date_lte: datetime | None = None, end_date_lt: datetime | None = None,
    duration_gte: float | None = None, duration_gt: float | None = None,
    duration_lte: float | None = None, duration_lt: float | None = None,
    updated_at_gte: datetime | None = None, updated_at_gt: datetime | None = None,
    updated_at_lte: datetime | None = None, updated_at_lt: datetime | None = None,
    conf_contains: str | None = None,
    run_type: list[str] = Query([]),
    state: list[str] = Query([]),
    dag_version: list[int] = Query([]),
    bundle_version: str | None = None,
    partition_key_pattern: str | None = None, partition_key_prefix_pattern: str | None = None,
    partition_date_gte: str | None = None, partition_date_lte: str | None = None,
    order_by: list[str] = order_by_query("id", ("id", "state", "dag_id", "run_id", "logical_date", "run_after",
                                                "start_date", "end_date", "conf", "duration", "dag_run_id")),
    run_id_pattern: str | None = None, run_id_prefix_pattern: str | None = None,
    triggering_user_name_pattern: str | None = None, triggering_user_name_prefix_pattern: str | None = None,
    dag_id_pattern: str | None = None, dag_id_prefix_pattern: str | None = None,
    consuming_asset_pattern: str | None = None,
    _user: Any = can("dag_run", "read"),
) -> DAGRunCollectionResponse:
    bounds = {k: v for k, v in locals().items() if k.split("_")[-1] in ("gte", "gt", "lte", "lt")}
    _refuse_updated_at(bounds)
    with read(request) as session:
        stmt = select(DagRun)
        if dag_id != ALL:
            dag_or_404_v2(session, dag_id)
            stmt = stmt.where(DagRun.dag_id == dag_id)
        stmt = _ranges(stmt, session, bounds)
        stmt = filter_in(filter_in(stmt, DagRun.run_type, run_type), DagRun.state, state)
        stmt = _versions(_conf_contains(stmt, conf_contains), dag_version)
        stmt = filter_name(stmt, DagRun.run_id, run_id_pattern, run_id_prefix_pattern)
        stmt = filter_name(stmt, DagRun.dag_id, dag_id_pattern, dag_id_prefix_pattern)
        stmt = _triggering_user(stmt, triggering_user_name_pattern, triggering_user_name_prefix_pattern)
        stmt = _consuming_asset(stmt, consuming_asset_pattern)
        stmt = _no_partitions(stmt, bundle_version=bundle_version, partition_key_pattern=partition_key_pattern,
                              partition_key_prefix_pattern=partition_key_prefix_pattern,
                              partition_date_gte=partition_date_gte, partition_date_lte=partition_date_lte)
        return _page_of_runs(session, stmt, order_by, page, cursor)


def _refuse_updated_at(bounds: dict[str, Any]) -> None:
    """Tradewind does not record when a run last changed: an ``updated_at_*`` bound is a 400."""
    for name, value in bounds.items():
        if name.startswith("updated_at_") and value is not None:
            raise bad_request(f"{name} cannot be applied: Tradewind does not record when a run was last updated; "
                              "filter on start_date, end_date or run_after instead", field=name)


@router.post(RUNS + "/list", response_model=DAGRunCollectionResponse, summary="Get List Dag Runs Batch",
             operation_id="get_list_dag_runs_batch")
def get_list_dag_runs_batch(request: Request, dag_id: str, body: DAGRunsBatchBody,
                            _user: Any = can("dag_run", "read")) -> DAGRunCollectionResponse:
    if dag_id != ALL:
        raise bad_request(f"the batch list is served for dag_id '~' only, not {dag_id!r}; put the DAG ids in "
                          "the body's dag_ids", field="dag_id")
    config = request.app.state.config
    page = Page(limit=min(body.page_limit, config.getint("api", "maximum_page_limit")), offset=body.page_offset)
    with read(request) as session:
        stmt = filter_in(select(DagRun), DagRun.dag_id, body.dag_ids)
        stmt = filter_in(stmt, DagRun.state, _states(body.states))
        stmt = _conf_contains(_ranges(stmt, session, body.model_dump()), body.conf_contains)
        return _page_of_runs(session, stmt, [body.order_by] if body.order_by else None, page)


@router.get(RUN, response_model=DAGRunResponse, summary="Get Dag Run", operation_id="get_dag_run")
def get_dag_run(request: Request, dag_id: str, dag_run_id: str,
                _user: Any = can("dag_run", "read")) -> DAGRunResponse:
    with read(request) as session:
        return run_response(session, run_or_404_v2(session, dag_id, dag_run_id))


@router.get(RUN + "/upstreamAssetEvents", response_model=AssetEventCollectionResponse,
            summary="Get Upstream Asset Events", operation_id="get_upstream_asset_events")
def get_upstream_asset_events(request: Request, dag_id: str, dag_run_id: str,
                              _user: Any = can("asset", "read")) -> AssetEventCollectionResponse:
    from tradewind.persist.models import AssetEvent, DagRunAssetEvent

    with read(request) as session:
        run = run_or_404_v2(session, dag_id, dag_run_id)
        rows = session.execute(
            select(AssetEvent, AssetModel).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .join(DagRunAssetEvent, DagRunAssetEvent.event_id == AssetEvent.id)
            .where(DagRunAssetEvent.dag_run_id == run.id).order_by(AssetEvent.timestamp, AssetEvent.id)).all()
        created = runs_created_by(session, [event.id for event, _ in rows])
        events = [AssetEventResponse(
            id=event.id, asset_id=asset.id, uri=asset.uri, name=asset.name, group=asset.group,
            extra=redact(event.extra or {}), source_task_id=event.source_task_id, source_dag_id=event.source_dag_id,
            source_run_id=event.source_run_id,
            source_map_index=-1 if event.source_map_index is None else event.source_map_index,
            created_dagruns=created.get(event.id, []), timestamp=event.timestamp) for event, asset in rows]
    return AssetEventCollectionResponse(asset_events=events, total_entries=len(events))


def runs_created_by(session: Session, event_ids: list[int]) -> dict[int, list[DagRunAssetReference]]:
    """event id -> the runs it triggered (every run here consumed its events: ``triggering``)."""
    from tradewind.persist.models import DagRunAssetEvent

    if not event_ids:
        return {}
    out: dict[int, list[DagRunAssetReference]] = defaultdict(list)
    rows = session.execute(select(DagRunAssetEvent.event_id, DagRun).join(DagRun, DagRun.id == DagRunAssetEvent.dag_run_id)
                           .where(DagRunAssetEvent.event_id.in_(event_ids)).order_by(DagRun.id))
    for event_id, run in rows:
        out[event_id].append(DagRunAssetReference(
            run_id=run.run_id, dag_id=run.dag_id, logical_date=run.logical_date,
            start_date=run.start_date or run.queued_at or run.run_after, end_date=run.end_date, state=run.state,
            data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end, triggering=True))
    return out


# ------------------------------------------------------------------------------------ wait
FINISHED_RUN_STATES = ("success", "failed")


class RunWaitLine(Model):
    """One line of ``/wait``: the run's state, and once it finished the ``result`` tasks' return
    values (the whole answer for a client that accepts only JSON)."""

    state: DagRunState
    results: dict[str, Any] | None = None


def _wait_line(request: Request, dag_id: str, run_id: str, result: list[str] | None) -> tuple[str, bool]:
    """One NDJSON line of the run's state (with the ``result`` tasks' return values once it
    finished) and whether it finished."""
    with read(request) as session:
        run = run_or_404_v2(session, dag_id, run_id)
        line: dict[str, Any] = {"state": run.state}
        finished = run.state in FINISHED_RUN_STATES
        if finished and result:
            line["results"] = _return_values(session, dag_id, run_id, result)
    return json.dumps(line) + "\n", finished


def _return_values(session: Session, dag_id: str, run_id: str, task_ids: list[str]) -> dict[str, Any]:
    """task id -> its ``return_value`` XCom in the run (a list for a mapped task, by map index)."""
    rows = session.execute(select(XCom.task_id, XCom.map_index, XCom.value).where(
        XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.task_id.in_(task_ids), XCom.key == "return_value")
        .order_by(XCom.task_id, XCom.map_index))
    values: dict[str, Any] = {}
    for task_id, map_index, value in rows:
        decoded = json.loads(value)
        if map_index >= 0:
            values.setdefault(task_id, []).append(decoded)
        else:
            values[task_id] = decoded
    return values


def _streams(request: Request) -> bool:
    """NDJSON lines unless the client asks for JSON only (the official client's ``Accept``)."""
    accept = request.headers.get("accept", "")
    return "application/x-ndjson" in accept or "application/json" not in accept


async def _lines(request: Request, dag_id: str, run_id: str, interval: float, result: list[str] | None,
                 first: str, finished: bool) -> AsyncIterator[str]:
    """The state lines until the run finished (or the client went away, or the run was deleted)."""
    line, done = first, finished
    yield line
    while not done:
        await asyncio.sleep(interval)
        if await request.is_disconnected():
            return
        try:
            line, done = await run_in_threadpool(_wait_line, request, dag_id, run_id, result)
        except ApiError as exc:  # deleted while waited on: say so and end the stream
            yield json.dumps({"state": None, "error": exc.detail}) + "\n"
            return
        yield line


@router.get(RUN + "/wait", summary="Experimental: Wait for a dag run to complete, and return task results if requested.",
            operation_id="wait_dag_run_until_finished",
            responses={200: {"model": RunWaitLine,
                             "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})
async def wait_dag_run_until_finished(
    request: Request, dag_id: str, dag_run_id: str,
    interval: float = Query(..., gt=0, description="Seconds to wait between dag run state checks"),
    result: list[str] | None = Query(None, description="Collect result XCom from task. Can be set multiple times."),
    _user: Any = can("dag_run", "read"),
) -> Response:
    """The run's state every ``interval`` seconds as NDJSON lines until it finished (the last line
    has the ``result`` tasks' return values); a client accepting only JSON gets that last line."""
    first, finished = await run_in_threadpool(_wait_line, request, dag_id, dag_run_id, result)  # 404 first
    lines = _lines(request, dag_id, dag_run_id, interval, result, first, finished)
    if _streams(request):
        return StreamingResponse(lines, media_type="application/x-ndjson")
    last = first
    async for line in lines:
        last = line
    return JSONResponse(json.loads(last))
