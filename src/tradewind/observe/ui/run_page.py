"""The run page (``/dags/{dag_id}/runs/{run_id}``) and, mounted here, the log viewer's data route.

The page is a DAG frame view (tab "Runs"); ``static/dag_run.js`` fills it from the REST API:
``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}`` (details, conf, versions, note),
``GET /api/v1/dags/{dag_id}/dagRuns/{run_id}/taskInstances`` (the instances table), the note is
saved with ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}`` (``update_mask=note``) and the actions
(clear, mark, delete) go through ``static/run_actions.js``. An unknown run answers a 404 page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize_page
from tradewind.observe.api.routes.common import read
from tradewind.observe.ui import log_data
from tradewind.observe.ui.dag_frame import render_dag_page
from tradewind.persist.models import DagRun

router = APIRouter(include_in_schema=False)
router.include_router(log_data.router)


def _run_exists(request: Request, dag_id: str, run_id: str) -> bool:
    from sqlalchemy import select

    with read(request) as session:
        found = session.execute(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
    return found is not None


@router.get("/dags/{dag_id}/runs/{run_id}")
def run_page(request: Request, dag_id: str, run_id: str,
             principal: Principal = Depends(authorize_page("dag_run", "read"))) -> HTMLResponse:
    """The run's page in the DAG frame; a 404 page naming the run when the DAG has no such run."""
    exists = _run_exists(request, dag_id, run_id)
    response = render_dag_page(
        request, principal, dag_id, "runs", "dag_run.html", title=f"Run {run_id}",
        page_data={"run_id": run_id, "missing": not exists,
                   "can_edit_note": principal.can("dag_run", "edit"),
                   "can_read_log": principal.can("task_log", "read")},
        run_id=run_id, missing=not exists)
    if not exists and response.status_code == 200:
        response.status_code = 404
    return response
