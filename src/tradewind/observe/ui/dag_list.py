"""The DAG list page (``/dags``) and its data endpoints.

The page (``templates/dags.html`` + ``static/dags.js``) shows one page of DAGs with their last
runs as state squares. Everything it lists comes from ONE request to ``/ui/data/dags`` (the
DAGs in the REST API's shape plus ``recent_runs``, the All/Active/Paused tab counts and the
number of files that failed to import), built by :mod:`tradewind.persist.queries.ui_dag_list`
with a constant number of queries whatever the page size. Pausing and triggering go through
the REST API (``PATCH /api/v1/dags/{dag_id}``, ``POST /api/v1/dags/{dag_id}/dagRuns``), so the
UI enforces exactly what the API enforces; ``static/trigger.js`` builds the trigger form from
the DAG's params and is shared with the per-DAG pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.api.errors import bad_request
from tradewind.observe.api.routes.common import iso, read
from tradewind.observe.api.routes.dags import dag_dicts
from tradewind.observe.ui.pages import render_page
from tradewind.persist.queries import ui_dag_list as queries

router = APIRouter(include_in_schema=False)

_PAUSED = {"all": None, "active": False, "paused": True}


@router.get("/dags")
def dags_page(request: Request, principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    page_data = {
        "can_pause": principal.can("dag", "edit"),
        "can_trigger": principal.can("dag_run", "create"),
        "can_read_import_errors": principal.can("import_error", "read"),
        "max_page": queries.MAX_PAGE,
    }
    return render_page(request, principal, "dags.html", title="DAGs", active_nav="dags", page_data=page_data)


def _run_mark(run: Any) -> dict[str, Any]:
    return {"dag_run_id": run.run_id, "state": run.state, "run_type": run.run_type,
            "logical_date": iso(run.logical_date), "run_after": iso(run.run_after),
            "start_date": iso(run.start_date), "end_date": iso(run.end_date)}


@router.get("/ui/data/dags")
def dag_list_data(
    request: Request,
    search: str = Query("", max_length=250, description="Text in the DAG id or display name (any case)."),
    tags: list[str] | None = Query(None, description="Only DAGs with any of these tags."),
    status: str = Query("all", description="all, active (unpaused) or paused."),
    order_by: str = Query("dag_id", description="dag_id, next_dagrun, last_run, owners, last_parsed_time; "
                                                "'-' in front for descending."),
    limit: int = Query(25, ge=1, le=queries.MAX_PAGE),
    offset: int = Query(0, ge=0),
    runs: int = Query(10, ge=0, le=queries.MAX_RECENT_RUNS, description="Recent runs to show per DAG."),
    _user: Principal = Depends(authorize("dag", "read")),
) -> dict[str, Any]:
    """A page of DAGs with their last ``runs`` runs (newest first), tab counts and the import-error count."""
    if status not in _PAUSED:
        raise bad_request(f"status {status!r} is not one of: {', '.join(_PAUSED)}", field="status")
    flt = queries.DagListFilter(search=search, tags=tuple(t for t in (tags or []) if t), paused=_PAUSED[status])
    with read(request) as session:
        try:
            rows, total = queries.dag_page(session, flt, order_by=order_by, limit=limit, offset=offset)
        except queries.DagListError as exc:
            raise bad_request(str(exc), field="order_by") from None
        dags = dag_dicts(session, rows)
        recent = queries.recent_runs(session, [d.dag_id for d in rows], runs)
        for dag in dags:
            dag["recent_runs"] = [_run_mark(r) for r in recent.get(dag["dag_id"], [])]
        return {"dags": dags, "total_entries": total, "counts": queries.tab_counts(session, flt),
                "import_errors": queries.import_error_count(session)}


@router.get("/ui/data/dag-tags")
def dag_tags_data(request: Request, _user: Principal = Depends(authorize("dag", "read"))) -> dict[str, Any]:
    """Every tag of an active DAG, for the tag filter."""
    with read(request) as session:
        return {"tags": queries.known_tags(session)}
