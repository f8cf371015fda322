"""Per-DAG views: Grid, Runs, Details, Code, Versions and Events (``/dags/{dag_id}/<view>``), and the grid's data.

``/dags/{dag_id}`` opens the grid (Airflow's default view). The Grid and Runs pages fill
themselves from ``/ui/data/dags/{dag_id}/grid`` and the REST API; Details and Code are rendered
on the server from the latest parsed version and the DAG's own file (Markdown through
markdown-it-py with raw HTML disabled, code through Pygments — both escape everything).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from tradewind.definition.masking import redact_json_text
from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.v2.common import BUNDLE_NAME
from tradewind.observe.ui import grid as grid_data
from tradewind.observe.ui.dag_frame import render_dag_page
from tradewind.persist.models import DagModel
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.queries import ui_dag, ui_grid

router = APIRouter(include_in_schema=False)

#: Run counts the grid offers (Airflow's choices); the endpoint accepts up to ui_grid.MAX_GRID_RUNS.
GRID_RUN_LIMITS = (25, 50, 100, 365)
RUN_TYPES = ("scheduled", "manual", "backfill", "asset_triggered", "asset_materialization")
RUN_STATES = ("queued", "running", "success", "failed")


@router.get("/dags/{dag_id}")
def dag_home(dag_id: str, principal: Principal = Depends(authorize_page("dag", "read"))) -> RedirectResponse:
    from urllib.parse import quote

    return RedirectResponse(f"/dags/{quote(dag_id, safe='')}/grid", status_code=303)


@router.get("/dags/{dag_id}/grid")
def grid_page(request: Request, dag_id: str,
              principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "grid", "dag_grid.html", page_data={
        "limits": list(GRID_RUN_LIMITS), "run_types": list(RUN_TYPES), "run_states": list(RUN_STATES)})


@router.get("/dags/{dag_id}/runs")
def runs_page(request: Request, dag_id: str,
              principal: Principal = Depends(authorize_page("dag_run", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "runs", "dag_runs.html", page_data={
        "run_types": list(RUN_TYPES), "run_states": list(RUN_STATES)})


@router.get("/dags/{dag_id}/details")
def details_page(request: Request, dag_id: str,
                 principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    details = None
    with request.app.state.db.read_scope() as session:
        dag = session.get(DagModel, dag_id)
        latest = dag_queries.latest_snapshot(session, dag_id) if dag else None
        if dag is not None and latest is not None:
            version, snapshot = latest
            details = _details(dag, snapshot, version.version_number)
    return render_dag_page(request, principal, dag_id, "details", "dag_details.html", details=details)


@router.get("/dags/{dag_id}/code")
def code_page(request: Request, dag_id: str, version: int | None = Query(None, ge=1),
              principal: Principal = Depends(authorize_page("dag_code", "read"))) -> HTMLResponse:
    """The DAG's code, at its latest version or at ``?version=N`` (each version's code is kept when
    parsed; the same answer as ``GET /api/v2/dagSources/{dag_id}?version_number=N``)."""
    code, error = None, None
    with request.app.state.db.read_scope() as session:
        dag = session.get(DagModel, dag_id)
        fileloc = dag.fileloc if dag else None
        latest_id = dag.latest_version_id if dag else None
        rows = ui_dag.versions_with_run_counts(session, dag_id) if dag else []
        versions = [{"number": v.version_number, "created_at": v.created_at.isoformat(), "latest": v.id == latest_id,
                     "hash": v.snapshot_hash, "fileloc": v.fileloc} for v, _runs in rows]
        shown_row = next((v for v, _runs in rows if v.id == latest_id), None)
        if version is not None:
            shown_row = next((v for v, _runs in rows if v.version_number == version), None)
            if shown_row is None:
                error = f"This DAG has no version {version}."
        if dag is not None and error is None:
            try:
                source = dag_queries.version_code(session, dag, shown_row)
            except dag_queries.CodeNotKept as exc:
                error = f"Cannot show the code: {exc}."
            else:
                code = highlight_python(source)
    shown = next((v for v in versions if shown_row is not None and v["number"] == shown_row.version_number), None)
    return render_dag_page(request, principal, dag_id, "code", "dag_code.html", code=code, code_error=error,
                           fileloc=(shown or {}).get("fileloc") or fileloc, versions=versions, shown=shown,
                           page_data={"version": version})


@router.get("/dags/{dag_id}/versions")
def versions_page(request: Request, dag_id: str,
                  principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    """Every stored version of the DAG (Airflow 3's versions): number, when it was parsed, its
    bundle and hash, and how many runs were created with it."""
    with request.app.state.db.read_scope() as session:
        dag = session.get(DagModel, dag_id)
        latest_id = dag.latest_version_id if dag else None
        rows = [{"number": v.version_number, "created_at": v.created_at.isoformat(), "hash": v.snapshot_hash,
                 "fileloc": v.fileloc, "runs": runs, "latest": v.id == latest_id,
                 "display_name": str((v.snapshot or {}).get("dag_display_name") or dag_id),
                 "tasks": len((v.snapshot or {}).get("tasks") or {})}
                for v, runs in (ui_dag.versions_with_run_counts(session, dag_id) if dag else [])]
    return render_dag_page(request, principal, dag_id, "versions", "dag_versions.html", versions=rows,
                           bundle_name=BUNDLE_NAME)


EVENTS_PAGE_SIZE = 50


@router.get("/dags/{dag_id}/events")
def events_page(request: Request, dag_id: str, page: int = Query(1, ge=1, le=100_000),
                event: str | None = Query(None, max_length=60),
                principal: Principal = Depends(authorize_page("audit_log", "read"))) -> HTMLResponse:
    """The audit log about this DAG, newest first, 50 a page; ``extra`` shown as indented JSON text."""
    with request.app.state.db.read_scope() as session:
        rows, total = ui_dag.dag_events(session, dag_id, limit=EVENTS_PAGE_SIZE,
                                        offset=(page - 1) * EVENTS_PAGE_SIZE, event=event or None)
        names = ui_dag.dag_event_names(session, dag_id)
        events = [{"when": r.dttm.isoformat(), "event": r.event, "owner": r.owner or "", "run_id": r.run_id or "",
                   "task_id": r.task_id or "", "map_index": r.map_index, "try_number": r.try_number,
                   "extra": format_extra(r.extra)} for r in rows]
    pages = max(1, -(-total // EVENTS_PAGE_SIZE))
    return render_dag_page(request, principal, dag_id, "events", "dag_events.html", events=events, total=total,
                           page=page, pages=pages, event_names=names, event_filter=event or "")


def format_extra(extra: str | None) -> str:
    """An audit entry's ``extra`` as text, secrets hidden: JSON indented (strings inside stay as
    written), else as is."""
    extra = redact_json_text(extra)
    if not extra:
        return ""
    try:
        value = json.loads(extra)
    except ValueError:
        return extra
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@router.get("/ui/data/dags/{dag_id}/grid")
def grid_endpoint(
    request: Request,
    dag_id: str,
    limit: int = Query(25, ge=1, le=ui_grid.MAX_GRID_RUNS),
    run_type: list[str] | None = Query(None),
    state: list[str] | None = Query(None),
    _principal: Principal = Depends(authorize("dag_run", "read")),
) -> Response:
    """The grid's data (see :mod:`tradewind.observe.ui.grid`), with an ETag: unchanged data answers 304."""
    with request.app.state.db.read_scope() as session:
        latest = dag_queries.latest_snapshot(session, dag_id)
        if latest is None:
            raise not_found(f"DAG with dag_id: '{dag_id}' not found or not parsed yet", title="DAG not found")
        snapshot = latest[1]
        which = {"limit": limit, "run_types": run_type or (), "states": state or ()}
        runs = ui_grid.grid_runs(session, dag_id, **which)
        instances = ui_grid.grid_instances(session, dag_id, **which)
    body, etag = grid_data.encode(grid_data.build_grid(snapshot, runs, instances))
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


# ------------------------------------------------------------------------------- details
def _details(dag: DagModel, snapshot: Any, version_number: int) -> dict[str, Any]:
    """The Details tab's rows: (label, text) pairs plus params and the rendered doc_md."""
    def dur(seconds: float | None) -> str:
        return "" if seconds is None else f"{seconds:g} s"

    missed = snapshot.missed_runs
    if missed is None:
        missed_text = "all (catchup)" if snapshot.catchup else "latest (no catchup)"
    elif isinstance(missed, dict) and "window" in missed:
        missed_text = f"window of {missed['window']:g} s"
    else:
        missed_text = str(missed)
    attributes = [
        ("DAG id", dag.dag_id),
        ("Display name", snapshot.dag_display_name or dag.dag_id),
        ("Description", dag.description or ""),
        ("Schedule", dag.timetable_summary or "None"),
        ("Timetable", snapshot.timetable.get("type") or snapshot.timetable.get("__type") or
         json.dumps(snapshot.timetable, sort_keys=True)),
        ("Time zone", snapshot.timezone),
        ("Start date", snapshot.start_date or ""),
        ("End date", snapshot.end_date or ""),
        ("Catchup", "yes" if snapshot.catchup else "no"),
        ("Missed-run policy", missed_text),
        ("Max active runs", str(snapshot.max_active_runs)),
        ("Max active tasks", str(snapshot.max_active_tasks)),
        ("Max consecutive failed runs", str(snapshot.max_consecutive_failed_dag_runs or "default")),
        ("Run timeout", dur(snapshot.dagrun_timeout)),
        ("Owners", ", ".join(snapshot.owners)),
        ("Tags", ", ".join(snapshot.tags)),
        ("Paused", "yes" if dag.is_paused else "no"),
        ("Paused upon creation", "" if snapshot.is_paused_upon_creation is None
         else ("yes" if snapshot.is_paused_upon_creation else "no")),
        ("File", dag.fileloc),
        ("Version", str(version_number)),
        ("Tasks", str(len(snapshot.tasks))),
        ("Callbacks", ", ".join(snapshot.callbacks)),
    ]
    params = [{"name": name, "default": json.dumps(p.get("default"), indent=1, default=str),
               "description": p.get("description") or "",
               "schema": json.dumps(p.get("schema") or {}, indent=1, sort_keys=True, default=str)}
              for name, p in snapshot.params.items()]
    return {"attributes": attributes, "params": params, "doc_md": render_markdown(snapshot.doc_md)}


def render_markdown(text: str | None) -> Markup | None:
    """A DAG's ``doc_md`` as HTML: CommonMark with raw HTML off (tags show as text) and unsafe
    link schemes (``javascript:``, ``data:`` ...) refused by markdown-it's link validation."""
    if not text:
        return None
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    return Markup(md.render(text))


def highlight_python(source: str) -> Markup:
    """The file as highlighted HTML with line numbers (Pygments escapes the text; anchors ``#L-<n>``)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    formatter = HtmlFormatter(linenos="table", lineanchors="L", anchorlinenos=True, cssclass="highlight", wrapcode=True)
    return Markup(highlight(source, PythonLexer(), formatter))
