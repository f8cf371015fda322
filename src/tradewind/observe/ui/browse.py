"""The Browse pages: all DAG runs, all task instances, the audit log, import errors and assets.

Each page is ``templates/listing.html`` plus ``static/browse.js``, which configures the shared
filtered/paginated table of ``static/listing.js`` over one REST list endpoint (``/api/v1/dags/~/
dagRuns``, ``.../~/dagRuns/~/taskInstances``, ``/eventLogs``, ``/importErrors``, ``/assets`` and
``/assets/events``): no UI-only queries, the API's filters, pagination and permissions apply.
Each page needs the ``read`` permission of what it lists, as the API does.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize_page
from tradewind.observe.ui.pages import render_page

router = APIRouter(include_in_schema=False)

#: Run states and types offered by the filters (Airflow's names).
RUN_STATES = ("queued", "running", "success", "failed")
RUN_TYPES = ("manual", "scheduled", "backfill", "asset_triggered", "asset_materialization")
TI_STATES = ("none", "scheduled", "queued", "running", "success", "failed", "up_for_retry", "up_for_reschedule",
             "upstream_failed", "skipped", "deferred", "removed", "restarting")


def _listing(request: Request, principal: Principal, view: str, title: str, nav: str, **extra: object) -> HTMLResponse:
    data = {"view": view, "run_states": RUN_STATES, "run_types": RUN_TYPES, "ti_states": TI_STATES}
    return render_page(request, principal, "listing.html", title=title, active_nav=nav, page_data=data,
                       script="browse.js", intro=extra.get("intro", ""), second_title=extra.get("second_title", ""))


@router.get("/runs")
def runs_page(request: Request, principal: Principal = Depends(authorize_page("dag_run", "read"))) -> HTMLResponse:
    return _listing(request, principal, "runs", "DAG runs", "runs")


@router.get("/task-instances")
def task_instances_page(request: Request,
                        principal: Principal = Depends(authorize_page("task_instance", "read"))) -> HTMLResponse:
    return _listing(request, principal, "task_instances", "Task instances", "task_instances")


@router.get("/audit-log")
def audit_log_page(request: Request, principal: Principal = Depends(authorize_page("audit_log", "read"))) -> HTMLResponse:
    return _listing(request, principal, "audit_log", "Audit log", "audit_log",
                    intro="Every manual action (trigger, pause, clear, mark, edits) with who did it.")


@router.get("/import-errors")
def import_errors_page(request: Request,
                       principal: Principal = Depends(authorize_page("import_error", "read"))) -> HTMLResponse:
    return _listing(request, principal, "import_errors", "Import errors", "import_errors",
                    intro="DAG files that failed to import at their last parse.")


@router.get("/assets")
def assets_page(request: Request, principal: Principal = Depends(authorize_page("asset", "read"))) -> HTMLResponse:
    return _listing(request, principal, "assets", "Assets", "assets", second_title="Recent asset events")
