"""``/api/v2/dags``, ``/dagTags`` and ``/parseDagFile``: Airflow 3's DAG resource.

Lists take Airflow 3's filters (tags with ``tags_match_mode``, owners, id/display-name patterns,
the last run's state, ranges on runs' dates, asset dependencies...) and multi-field ``order_by``;
``PATCH /dags`` pauses or unpauses every DAG a filter matches. Pausing and deleting are the
manual actions of :mod:`tradewind.schedule.actions` (the same as the UI's and the CLI's).

Values come from the DAG row and its latest stored snapshot: the display name, timetable facts
(periodic, backfillable), concurrency limits. ``file_token`` is the DAG file's path, URL-safe
base64 encoded: ``PUT /parseDagFile/{file_token}`` accepts it back and only ever acts on a
file the database knows (a token naming any other path is a 404).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict
from sqlalchemy import Select, Text, and_, cast, exists, false, func, or_, select
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import bad_request, not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import audit, can, now, read, write
from tradewind.observe.api.schemas import _param_dict
from tradewind.observe.api.v2.common import (
    API_V2,
    BUNDLE_NAME,
    NULL_BODY,
    Model,
    acting,
    apply_orders,
    filter_name,
    filter_range,
    order_by_query,
    page_v2,
)
from tradewind.observe.api.v2.dag_versions import DagVersionResponse, dag_v2_or_404, version_response
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import (
    AssetModel,
    DagModel,
    DagRun,
    DagScheduleAssetAliasReference,
    DagScheduleAssetReference,
    DagVersion,
    ImportError_,
    ParsedFile,
    TaskOutletAssetReference,
)
from tradewind.persist.queries import dags as dag_queries
from tradewind.schedule import actions

router = APIRouter(prefix=API_V2, tags=["DAG"])

RunType = Literal["backfill", "scheduled", "manual", "operator_triggered", "asset_triggered",
                  "asset_materialization"]


# ------------------------------------------------------------------------ bodies
class DagTagResponse(Model):
    name: str
    dag_id: str
    dag_display_name: str


class DAGResponse(Model):
    """A DAG in lists and after a pause (Airflow 3's ``DAGResponse``)."""

    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_stale: bool
    last_parsed_time: datetime | None = None
    last_parse_duration: float | None = None
    last_expired: datetime | None = None
    bundle_name: str | None = None
    bundle_version: str | None = None
    relative_fileloc: str | None = None
    fileloc: str
    description: str | None = None
    timetable_summary: str | None = None
    timetable_description: str | None = None
    timetable_partitioned: bool
    timetable_periodic: bool
    tags: list[DagTagResponse]
    max_active_tasks: int
    max_active_runs: int | None = None
    max_consecutive_failed_dag_runs: int
    has_task_concurrency_limits: bool
    has_import_errors: bool
    next_dagrun_logical_date: datetime | None = None
    next_dagrun_data_interval_start: datetime | None = None
    next_dagrun_data_interval_end: datetime | None = None
    next_dagrun_run_after: datetime | None = None
    allowed_run_types: list[RunType] | None = None
    owners: list[str]
    is_backfillable: bool
    file_token: str


class DAGCollectionResponse(Model):
    dags: list[DAGResponse]
    total_entries: int


class DAGDetailsResponse(DAGResponse):
    """``GET /dags/{dag_id}/details``: the DAG with its schedule, params and latest version."""

    catchup: bool
    dag_run_timeout: timedelta | None = None
    asset_expression: dict[str, Any] | None = None
    doc_md: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    is_paused_upon_creation: bool | None = None
    params: dict[str, Any] | None = None
    render_template_as_native_obj: bool
    template_search_path: list[str] | None = None
    timezone: str | None = None
    last_parsed: datetime | None = None
    default_args: dict[str, Any] | None = None
    owner_links: dict[str, str] | None = None
    is_favorite: bool = False
    active_runs_count: int = 0
    rerun_with_latest_version: bool | None = None
    latest_dag_version: DagVersionResponse | None = None
    concurrency: int


class DAGPatchBody(Model):
    model_config = ConfigDict(extra="forbid")
    is_paused: bool


class DAGTagCollectionResponse(Model):
    tags: list[str]
    total_entries: int


# ------------------------------------------------------------------------ file tokens
def file_token(fileloc: str) -> str:
    """The opaque token of a DAG file (URL-safe base64 of its path, no padding)."""
    return base64.urlsafe_b64encode(fileloc.encode("utf-8")).decode("ascii").rstrip("=")


def fileloc_of_token(token: str) -> str | None:
    """The path a token encodes, or None when it is not one of ours."""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


# ------------------------------------------------------------------------ building responses
def _timetable_facts(snapshot: DagSnapshot | None) -> dict[str, Any]:
    """periodic / backfillable / description of the DAG's timetable (all False for an unreadable one)."""
    facts = {"timetable_periodic": False, "is_backfillable": False, "timetable_description": None}
    if snapshot is None:
        return facts
    from tradewind.definition.timetables import timetable_from_dict

    try:
        timetable = timetable_from_dict(dict(snapshot.timetable))
    except Exception:  # noqa: BLE001 - a timetable this version cannot rebuild still lists its DAG
        return facts
    periodic = bool(getattr(timetable, "periodic", False))
    facts["timetable_periodic"] = periodic
    facts["is_backfillable"] = periodic and bool(getattr(timetable, "can_be_scheduled", False))
    facts["timetable_description"] = getattr(timetable, "description", None) or snapshot.timetable_summary
    return facts


def _relative_fileloc(request: Request, fileloc: str) -> str:
    folder = str(request.app.state.config.dags_folder)
    try:
        relative = os.path.relpath(fileloc, folder)
    except ValueError:
        return os.path.basename(fileloc)
    return os.path.basename(fileloc) if relative.startswith("..") else relative


def _concurrency_limited(snapshot: DagSnapshot | None) -> bool:
    return snapshot is not None and any(
        t.max_active_tis_per_dag is not None or t.max_active_tis_per_dagrun is not None
        for t in snapshot.tasks.values())


def _snapshots(session: Session, dags: Sequence[DagModel]) -> dict[str, DagSnapshot]:
    """dag_id -> latest snapshot (from the snapshot cache) for a page of DAGs, in one or two queries."""
    found = dag_queries.snapshots_for_versions(session, [d.latest_version_id for d in dags])
    return {d.dag_id: found[d.latest_version_id] for d in dags if d.latest_version_id in found}


def dag_responses(request: Request, session: Session, dags: Sequence[DagModel]) -> list[DAGResponse]:
    """Airflow 3 bodies of a page of DAGs (snapshots, import errors and parse durations read once)."""
    snapshots = _snapshots(session, dags)
    files = sorted({d.fileloc for d in dags})
    broken = set(session.scalars(select(ImportError_.filename).where(ImportError_.filename.in_(files)))) \
        if files else set()
    durations = dict(session.execute(select(ParsedFile.fileloc, ParsedFile.parse_duration)
                                     .where(ParsedFile.fileloc.in_(files))).all()) if files else {}
    return [DAGResponse(**_dag_fields(request, d, snapshots.get(d.dag_id), d.fileloc in broken,
                                      durations.get(d.fileloc))) for d in dags]


def _dag_fields(request: Request, dag: DagModel, snapshot: DagSnapshot | None, broken: bool,
                parse_duration: float | None) -> dict[str, Any]:
    name = (snapshot.dag_display_name if snapshot is not None else None) or dag.dag_id
    return {
        "dag_id": dag.dag_id, "dag_display_name": name, "is_paused": dag.is_paused, "is_stale": not dag.is_active,
        "last_parsed_time": dag.last_parsed_time, "last_parse_duration": parse_duration, "last_expired": None,
        "bundle_name": BUNDLE_NAME, "bundle_version": None,
        "relative_fileloc": _relative_fileloc(request, dag.fileloc), "fileloc": dag.fileloc,
        "description": dag.description, "timetable_summary": dag.timetable_summary,
        "timetable_partitioned": False,
        "tags": [DagTagResponse(name=t, dag_id=dag.dag_id, dag_display_name=name) for t in sorted(dag.tags or [])],
        "max_active_tasks": dag.max_active_tasks if dag.max_active_tasks is not None
        else (snapshot.max_active_tasks if snapshot is not None else 16),
        "max_active_runs": dag.max_active_runs,
        "max_consecutive_failed_dag_runs": snapshot.max_consecutive_failed_dag_runs if snapshot is not None else 0,
        "has_task_concurrency_limits": _concurrency_limited(snapshot), "has_import_errors": broken,
        "next_dagrun_logical_date": dag.next_dagrun,
        "next_dagrun_data_interval_start": dag.next_dagrun_data_interval_start,
        "next_dagrun_data_interval_end": dag.next_dagrun_data_interval_end,
        "next_dagrun_run_after": dag.next_dagrun_create_after,
        "owners": [o.strip() for o in (dag.owners or "").split(",") if o.strip()],
        "file_token": file_token(dag.fileloc),
        **_timetable_facts(snapshot),
    }


def _details(request: Request, session: Session, dag: DagModel) -> DAGDetailsResponse:
    base = dag_responses(request, session, [dag])[0].model_dump()
    latest = session.get(DagVersion, dag.latest_version_id) if dag.latest_version_id is not None else None
    snapshot = _snapshots(session, [dag]).get(dag.dag_id)
    active = session.scalar(select(func.count()).select_from(DagRun).where(
        DagRun.dag_id == dag.dag_id, DagRun.state == "running")) or 0
    extra: dict[str, Any] = {
        "catchup": bool(snapshot.catchup) if snapshot else False,
        "dag_run_timeout": timedelta(seconds=snapshot.dagrun_timeout)
        if snapshot is not None and snapshot.dagrun_timeout is not None else None,
        "asset_expression": _asset_expression(snapshot),
        "doc_md": snapshot.doc_md if snapshot else None,
        "start_date": snapshot.start_date if snapshot else None,
        "end_date": snapshot.end_date if snapshot else None,
        "is_paused_upon_creation": snapshot.is_paused_upon_creation if snapshot else None,
        "params": {name: _param_dict(p) for name, p in snapshot.params.items()} if snapshot else None,
        "render_template_as_native_obj": False,
        "timezone": snapshot.timezone if snapshot else None,
        "last_parsed": dag.last_parsed_time,
        "active_runs_count": int(active),
        "latest_dag_version": version_response(latest) if latest is not None else None,
        "concurrency": base["max_active_tasks"],
    }
    return DAGDetailsResponse(**base, **extra)


def _asset_expression(snapshot: DagSnapshot | None) -> dict[str, Any] | None:
    """The asset condition an asset-scheduled DAG waits for (as stored with its timetable)."""
    if snapshot is None:
        return None
    condition = snapshot.timetable.get("condition")
    return condition if isinstance(condition, dict) else None


# ------------------------------------------------------------------------ filters
def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _display_name_column() -> Any:
    return func.coalesce(DagVersion.snapshot["dag_display_name"].as_string(), DagModel.dag_id)


def _last_run(column: Any) -> Any:
    """A column of each DAG's latest run (by ``run_after``), as a correlated scalar subquery."""
    return (select(column).where(DagRun.dag_id == DagModel.dag_id)
            .order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(1).correlate(DagModel).scalar_subquery())


DAG_ORDER = {
    "dag_id": DagModel.dag_id, "dag_display_name": _display_name_column(), "next_dagrun": DagModel.next_dagrun,
    "state": _last_run(DagRun.state), "last_run_state": _last_run(DagRun.state),
    "start_date": _last_run(DagRun.start_date), "last_run_start_date": _last_run(DagRun.start_date),
}


def filter_tags(stmt: Select[Any], tags: Sequence[str] | None, mode: str | None) -> Select[Any]:
    """DAGs with any (default) or all of ``tags``: each tag's exact JSON text inside the stored list."""
    if not tags:
        return stmt
    text = cast(DagModel.tags, Text)
    clauses = [text.like(f"%{_escape(json.dumps(t))}%", escape="\\") for t in tags]
    return stmt.where(and_(*clauses) if mode == "all" else or_(*clauses))


def filter_owners(stmt: Select[Any], owners: Sequence[str] | None) -> Select[Any]:
    """DAGs one of whose owners (stored ``"a, b"``) is in ``owners``."""
    if not owners:
        return stmt
    clauses = []
    for owner in owners:
        o = _escape(owner)
        clauses += [DagModel.owners == owner, DagModel.owners.like(f"{o}, %", escape="\\"),
                    DagModel.owners.like(f"%, {o}", escape="\\"), DagModel.owners.like(f"%, {o}, %", escape="\\")]
    return stmt.where(or_(*clauses))


def _common_filters(stmt: Select[Any], *, tags: Sequence[str] | None, tags_match_mode: str | None,
                    owners: Sequence[str] | None, dag_id_pattern: str | None, dag_id_prefix_pattern: str | None,
                    exclude_stale: bool, paused: bool | None) -> Select[Any]:
    """The filters ``GET /dags`` and ``PATCH /dags`` share."""
    stmt = filter_tags(stmt, tags, tags_match_mode)
    stmt = filter_owners(stmt, owners)
    stmt = filter_name(stmt, DagModel.dag_id, dag_id_pattern, dag_id_prefix_pattern)
    if exclude_stale:
        stmt = stmt.where(DagModel.is_active.is_(True))
    if paused is not None:
        stmt = stmt.where(DagModel.is_paused.is_(paused))
    return stmt


def _asset_filters(stmt: Select[Any], has_asset_schedule: bool | None, asset_dependency: str | None) -> Select[Any]:
    if has_asset_schedule is not None:
        scheduled = or_(
            exists(select(DagScheduleAssetReference.asset_id).where(DagScheduleAssetReference.dag_id == DagModel.dag_id)),
            exists(select(DagScheduleAssetAliasReference.alias_id)
                   .where(DagScheduleAssetAliasReference.dag_id == DagModel.dag_id)))
        stmt = stmt.where(scheduled if has_asset_schedule else ~scheduled)
    if asset_dependency:
        term = f"%{_escape(asset_dependency)}%"
        matches = or_(AssetModel.name.ilike(term, escape="\\"), AssetModel.uri.ilike(term, escape="\\"))
        stmt = stmt.where(or_(
            exists(select(AssetModel.id).join(DagScheduleAssetReference, DagScheduleAssetReference.asset_id == AssetModel.id)
                   .where(DagScheduleAssetReference.dag_id == DagModel.dag_id, matches)),
            exists(select(AssetModel.id).join(TaskOutletAssetReference, TaskOutletAssetReference.asset_id == AssetModel.id)
                   .where(TaskOutletAssetReference.dag_id == DagModel.dag_id, matches))))
    return stmt


def _run_filters(stmt: Select[Any], states: Sequence[str] | None, start: dict[str, datetime | None],
                 end: dict[str, datetime | None]) -> Select[Any]:
    """DAGs having a run in one of ``states`` whose start/end dates are within the bounds."""
    if not states and not any(start.values()) and not any(end.values()):
        return stmt
    runs = select(DagRun.id).where(DagRun.dag_id == DagModel.dag_id)
    if states:
        runs = runs.where(DagRun.state.in_(list(states)))
    runs = filter_range(runs, DagRun.start_date, **start)
    runs = filter_range(runs, DagRun.end_date, **end)
    return stmt.where(exists(runs))


# ------------------------------------------------------------------------ routes
@router.get("/dags", response_model=DAGCollectionResponse, summary="List DAGs")
def get_dags(
    request: Request,
    page: Page = Depends(page_v2),
    tags: list[str] | None = Query(None, description="Only DAGs with these tags (see tags_match_mode)."),
    tags_match_mode: Literal["any", "all"] | None = Query(None, description="any (default) or all of the tags."),
    owners: list[str] | None = Query(None, description="Only DAGs one of whose owners is listed."),
    dag_id_pattern: str | None = None,
    dag_id_prefix_pattern: str | None = None,
    dag_display_name_pattern: str | None = None,
    dag_display_name_prefix_pattern: str | None = None,
    exclude_stale: bool = Query(True, description="Leave out DAGs whose file no longer defines them."),
    paused: bool | None = None,
    has_import_errors: bool | None = Query(None, description="Only DAGs whose file has (true) / has no import error."),
    last_dag_run_state: Literal["queued", "running", "success", "failed"] | None = None,
    bundle_name: str | None = Query(None, description="Only DAGs of this bundle ('dags-folder' holds them all)."),
    bundle_version: str | None = Query(None, description="Only DAGs of this bundle version (none have one)."),
    has_asset_schedule: bool | None = Query(None, description="Only DAGs scheduled (true) / not scheduled on assets."),
    asset_dependency: str | None = Query(None, description="Only DAGs scheduled on or producing an asset whose "
                                                           "name or URI contains this text."),
    dag_run_start_date_gte: datetime | None = None, dag_run_start_date_gt: datetime | None = None,
    dag_run_start_date_lte: datetime | None = None, dag_run_start_date_lt: datetime | None = None,
    dag_run_end_date_gte: datetime | None = None, dag_run_end_date_gt: datetime | None = None,
    dag_run_end_date_lte: datetime | None = None, dag_run_end_date_lt: datetime | None = None,
    dag_run_state: list[str] | None = Query(None, description="Only DAGs having a run in one of these states."),
    order_by: list[str] = order_by_query("dag_id", list(DAG_ORDER)),
    is_favorite: bool | None = Query(None, description="Favorites are not kept: true matches no DAG."),
    timetable_type: list[str] | None = Query(None, description="Only DAGs whose timetable's serialized type "
                                                               "(e.g. cron, cron_trigger, null) is listed."),
    _user: Any = can("dag", "read"),
) -> DAGCollectionResponse:
    stmt = select(DagModel).outerjoin(DagVersion, DagVersion.id == DagModel.latest_version_id)
    stmt = _common_filters(stmt, tags=tags, tags_match_mode=tags_match_mode, owners=owners,
                           dag_id_pattern=dag_id_pattern, dag_id_prefix_pattern=dag_id_prefix_pattern,
                           exclude_stale=exclude_stale, paused=paused)
    stmt = filter_name(stmt, _display_name_column(), dag_display_name_pattern, dag_display_name_prefix_pattern)
    if has_import_errors is not None:
        broken = DagModel.fileloc.in_(select(ImportError_.filename))
        stmt = stmt.where(broken if has_import_errors else ~broken)
    if last_dag_run_state is not None:
        stmt = stmt.where(_last_run(DagRun.state) == last_dag_run_state)
    if (bundle_name is not None and bundle_name != BUNDLE_NAME) or bundle_version is not None or is_favorite:
        stmt = stmt.where(false())
    if timetable_type:
        stmt = stmt.where(DagVersion.snapshot[("timetable", "__type")].as_string().in_(timetable_type))
    stmt = _asset_filters(stmt, has_asset_schedule, asset_dependency)
    stmt = _run_filters(stmt, dag_run_state,
                        {"gte": dag_run_start_date_gte, "gt": dag_run_start_date_gt,
                         "lte": dag_run_start_date_lte, "lt": dag_run_start_date_lt},
                        {"gte": dag_run_end_date_gte, "gt": dag_run_end_date_gt,
                         "lte": dag_run_end_date_lte, "lt": dag_run_end_date_lt})
    stmt = apply_orders(stmt, order_by, DAG_ORDER, "dag_id", tiebreak=(DagModel.dag_id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return DAGCollectionResponse(dags=dag_responses(request, session, rows), total_entries=total)


def _paused_fields(update_mask: list[str] | None) -> None:
    if update_mask and any(f != "is_paused" for f in update_mask):
        raise bad_request("Only `is_paused` field can be updated through the REST API", field="update_mask")


@router.patch("/dags", response_model=DAGCollectionResponse,
              summary="Pause or unpause every DAG a filter matches (a page of them)")
def patch_dags(
    request: Request,
    body: DAGPatchBody,
    update_mask: list[str] | None = Query(None, description="Fields to update; only is_paused may be."),
    page: Page = Depends(page_v2),
    tags: list[str] | None = Query(None), tags_match_mode: Literal["any", "all"] | None = None,
    owners: list[str] | None = Query(None), dag_id_pattern: str | None = None,
    dag_id_prefix_pattern: str | None = None, exclude_stale: bool = True, paused: bool | None = None,
    principal: Any = can("dag", "edit"),
) -> DAGCollectionResponse:
    _paused_fields(update_mask)
    stmt = _common_filters(select(DagModel), tags=tags, tags_match_mode=tags_match_mode, owners=owners,
                           dag_id_pattern=dag_id_pattern, dag_id_prefix_pattern=dag_id_prefix_pattern,
                           exclude_stale=exclude_stale, paused=paused).order_by(DagModel.dag_id)
    with acting(request, principal) as (session, actor):
        rows, total = paginate(session, stmt, page)
        for dag in rows:
            actions.set_paused(session, actor, dag.dag_id, body.is_paused, now=now())
        out = DAGCollectionResponse(dags=dag_responses(request, session, rows), total_entries=total)
    return out


@router.get("/dags/{dag_id}", response_model=DAGResponse, summary="Get a DAG")
def get_dag(request: Request, dag_id: str, _user: Any = can("dag", "read")) -> DAGResponse:
    with read(request) as session:
        return dag_responses(request, session, [dag_v2_or_404(session, dag_id)])[0]


@router.patch("/dags/{dag_id}", response_model=DAGResponse, summary="Pause or unpause a DAG")
def patch_dag(request: Request, dag_id: str, body: DAGPatchBody,
              update_mask: list[str] | None = Query(None, description="Fields to update; only is_paused may be."),
              principal: Any = can("dag", "edit")) -> DAGResponse:
    _paused_fields(update_mask)
    with acting(request, principal) as (session, actor):
        dag = dag_v2_or_404(session, dag_id)
        actions.set_paused(session, actor, dag_id, body.is_paused, now=now())
        out = dag_responses(request, session, [dag])[0]
    return out


class DAGDeletedResponse(Model):
    """What ``DELETE /dags/{dag_id}`` removed (Airflow 3 documents no body; its clients ignore it)."""

    dag_id: str
    deleted_rows: int


@router.delete("/dags/{dag_id}", response_model=DAGDeletedResponse,
               summary="Delete a DAG's rows (it returns on its file's next parse)")
def delete_dag(request: Request, dag_id: str, principal: Any = can("dag", "delete")) -> DAGDeletedResponse:
    with acting(request, principal) as (session, actor):
        dag_v2_or_404(session, dag_id)
        rows = actions.delete_dag(session, actor, dag_id, now=now())
    return DAGDeletedResponse(dag_id=dag_id, deleted_rows=rows)


@router.get("/dags/{dag_id}/details", response_model=DAGDetailsResponse,
            summary="Get a DAG with its schedule, params and latest version")
def get_dag_details(request: Request, dag_id: str, _user: Any = can("dag", "read")) -> DAGDetailsResponse:
    with read(request) as session:
        return _details(request, session, dag_v2_or_404(session, dag_id))


# ------------------------------------------------------------------------ tags
def _like_to_regex(term: str) -> str:
    """SQL LIKE wildcards (``%``, ``_``) of a pattern term as a regular expression."""
    import re

    return "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in term)


def _tag_matches(tag: str, pattern: str | None, prefix: str | None) -> bool:
    import re

    if pattern and pattern != "~":
        terms = [t for t in pattern.split("|") if t]
        if "~" not in terms and terms and not any(re.search(_like_to_regex(t), tag, re.IGNORECASE) for t in terms):
            return False
    if prefix and prefix != "~":
        terms = [t.rstrip() for t in prefix.split("|") if t.strip()]
        if "~" not in terms and not any(tag.startswith(t) for t in terms):
            return False
    return True


@router.get("/dagTags", response_model=DAGTagCollectionResponse, summary="List the tags DAGs carry")
def get_dag_tags(
    request: Request,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("name", ["name"]),
    tag_name_pattern: str | None = None,
    tag_name_prefix_pattern: str | None = None,
    _user: Any = can("dag", "read"),
) -> DAGTagCollectionResponse:
    fields = [f.strip() for value in order_by for f in value.split(",") if f.strip()] or ["name"]
    for field in fields:
        if field.lstrip("-") != "name":
            raise bad_request(f"Ordering with '{field.lstrip('-')}' is disallowed or the attribute does not exist "
                              "on the model; use one of: name (prefix '-' for descending)", field="order_by")
    with read(request) as session:
        stored = session.scalars(select(DagModel.tags))
        names = {str(t) for tags in stored for t in (tags or [])}
    wanted = sorted((t for t in names if _tag_matches(t, tag_name_pattern, tag_name_prefix_pattern)),
                    reverse=fields[0].startswith("-"))
    return DAGTagCollectionResponse(tags=wanted[page.offset:page.offset + page.limit], total_entries=len(wanted))


# ------------------------------------------------------------------------ parse request
@router.put("/parseDagFile/{file_token}", status_code=201, response_model=None, responses={201: NULL_BODY},
            summary="Ask the DAG processor to parse a DAG file again")
def reparse_dag_file(request: Request, file_token: str, principal: Any = can("dag", "edit")) -> JSONResponse:
    """Mark the file's parse record out of date (no content hash, an impossible mtime): the DAG
    processor's next listing (every ``[scheduler] dag_dir_list_interval`` seconds) sees its bytes
    as changed and parses it first. The record itself stays, so the file keeps its DAG ids."""
    fileloc = fileloc_of_token(file_token)
    with write(request) as session:
        if fileloc is None or not dag_queries.request_reparse(session, fileloc):
            raise not_found("No DAG file found for this file token", title="DAG file not found")
        audit(session, principal, "reparse_dag_file", extra={"fileloc": fileloc})
    return JSONResponse(None, status_code=201)
