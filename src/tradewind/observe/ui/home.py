"""The home page (``/``): is everything up, what failed lately, what runs now, how full the pools are.

As Airflow 3's dashboard, for any signed-in user. The page (``templates/home.html`` +
``static/home.js``) reads everything from ONE request to ``/ui/data/home`` and refreshes it
every few seconds:

* ``health``: the metadata database, the scheduler, the DAG processor and the triggerer as
  ``/api/v1/health`` and ``/api/v2/monitor/health`` report them (status, latest heartbeat,
  problems), each with the job rows still marked running (host, pid, heartbeat, alive or not);
  and the workers — the live Celery workers of the broker's registry when the Celery executor is
  configured, otherwise the executor that runs tasks inside the scheduler;
* ``failed_runs`` / ``failed_task_instances``: what failed in the last 24 hours (count + newest);
* ``run_states``: runs per state for the window (finished in it, or queued/running now);
* ``running_runs``, ``queued_runs``, ``running_task_instances``, ``queued_task_instances``;
* ``pools`` (slots running, queued, open) and ``import_errors``, ``dags`` (active/paused counts).

Every query is bounded (:mod:`tradewind.persist.queries.ui_home`); nothing loops over DAGs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.api.health import _SECTIONS, health_status, thresholds_from
from tradewind.observe.api.routes.common import iso, read
from tradewind.observe.ui.pages import render_page
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries import pools as pool_queries
from tradewind.persist.queries import ui_home as queries

router = APIRouter(include_in_schema=False)

#: The window of "lately": failures and run-state history of the last day, as Airflow 3's default.
WINDOW = timedelta(hours=24)


@router.get("/")
def home(request: Request, principal: Principal = Depends(authorize_page("website", "read"))) -> HTMLResponse:
    page_data = {
        "can_read_import_errors": principal.can("import_error", "read"),
        "can_read_pools": principal.can("pool", "read"),
        "window_hours": int(WINDOW.total_seconds() // 3600),
        "list_limit": queries.LIST_LIMIT,
    }
    return render_page(request, principal, "home.html", title="Home", active_nav="home", page_data=page_data)


def _run(run: DagRun) -> dict[str, Any]:
    return {"dag_id": run.dag_id, "run_id": run.run_id, "state": run.state, "run_type": run.run_type,
            "logical_date": iso(run.logical_date), "run_after": iso(run.run_after),
            "queued_at": iso(run.queued_at), "start_date": iso(run.start_date), "end_date": iso(run.end_date)}


def _ti(ti: TaskInstance) -> dict[str, Any]:
    return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": ti.map_index,
            "state": ti.state, "try_number": ti.try_number, "max_tries": ti.max_tries,
            "queued_dttm": iso(ti.queued_dttm), "start_date": iso(ti.start_date), "end_date": iso(ti.end_date),
            "hostname": ti.hostname, "pool": ti.pool, "operator": ti.operator}


def _listing(found: queries.Listing, shape: Any) -> dict[str, Any]:
    return {"total": found.total, "items": [shape(row) for row in found.rows]}


def _component_health(request: Request, session: Any, now: datetime) -> dict[str, Any]:
    """The health document plus, per component, the job rows still marked running."""
    state = request.app.state
    config = getattr(state, "config", None)
    thresholds = thresholds_from(config) if config is not None else {}
    thresholds["scheduler"] = state.health_threshold
    document = health_status(state.db, now=now, threshold=state.health_threshold, thresholds=thresholds)
    for name, (job_types, key, _never) in _SECTIONS.items():
        section = document[name]
        section["latest_heartbeat"] = section.get(key)
        limit = thresholds.get(name, state.health_threshold)
        section["threshold_seconds"] = limit.total_seconds()
        try:
            jobs = queries.running_jobs(session, job_types)
        except Exception:  # noqa: BLE001 - the database part of the document already says it is down
            jobs = []
        section["jobs"] = [{"hostname": job.hostname, "pid": job.pid, "start_date": iso(job.start_date),
                            "latest_heartbeat": iso(job.latest_heartbeat),
                            "alive": job.latest_heartbeat >= now - limit,
                            "problems": [p for p in (job.problems or "").splitlines() if p.strip()]}
                           for job in jobs]
    return document


def _workers(request: Request) -> dict[str, Any]:
    """Who runs the tasks: the live Celery workers from the broker's registry, or the executor that
    runs them in the scheduler's own processes (its health is the scheduler's)."""
    config = getattr(request.app.state, "config", None)
    executor = str(config.get("core", "executor")) if config is not None else ""
    if "celery" not in executor.lower():
        return {"executor": executor or "LocalExecutor", "celery": False, "status": None, "workers": [],
                "error": None}
    from tradewind.execute import celery_app

    try:
        workers = celery_app.live_workers(celery_app.redis_client(config))
    except Exception as exc:  # noqa: BLE001 - the broker is unreachable or not Redis: say so, one line
        message = str(exc) if isinstance(exc, celery_app.CeleryUnavailable) else (
            f"cannot read the worker registry at [celery] broker_url = "
            f"{celery_app.redact_url(celery_app.broker_url(config))}: {exc}")
        return {"executor": executor, "celery": True, "status": "unhealthy", "workers": [], "error": message}
    rows = [{"hostname": w.get("hostname"), "heartbeat": w.get("heartbeat"), "started": w.get("started"),
             "queues": w.get("queues") or [], "concurrency": w.get("concurrency"),
             "running": len(w.get("running") or []), "problems": list(w.get("problems") or [])} for w in workers]
    healthy = any(not w["problems"] for w in rows)
    return {"executor": executor, "celery": True, "status": "healthy" if healthy else "unhealthy",
            "workers": rows, "error": None if rows else "no live Celery worker is registered in the broker"}


@router.get("/ui/data/home")
def home_data(request: Request, _user: Principal = Depends(authorize("website", "read"))) -> dict[str, Any]:
    """Everything the home page shows, in one answer."""
    now = utcnow()
    since = now - WINDOW
    with read(request) as session:
        health = _component_health(request, session, now)
        body: dict[str, Any] = {
            "now": iso(now),
            "since": iso(since),
            "window_hours": int(WINDOW.total_seconds() // 3600),
            "failed_runs": _listing(queries.failed_runs(session, since), _run),
            "failed_task_instances": _listing(queries.failed_task_instances(session, since), _ti),
            "run_states": queries.run_state_counts(session, since),
            "running_runs": _listing(queries.runs_in_state(session, "running"), _run),
            "queued_runs": _listing(queries.runs_in_state(session, "queued"), _run),
            "running_task_instances": _listing(queries.task_instances_in_state(session, "running"), _ti),
            "queued_task_instances": _listing(queries.task_instances_in_state(session, "queued"), _ti),
            "dags": queries.dag_counts(session),
            "import_errors": queries.import_error_count(session),
            "pools": [{"name": p.pool, "slots": p.slots, "running": p.running, "queued": p.queued,
                       "open": p.open_slots} for p in pool_queries.list_pools_with_usage(session)],
        }
    health["workers"] = _workers(request)
    body["health"] = health
    return body
