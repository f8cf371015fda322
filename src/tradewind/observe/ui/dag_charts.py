"""Per-DAG chart views: Gantt, Task Duration, Task Tries, Calendar, and their data.

Pages (in the DAG frame, see :mod:`tradewind.observe.ui.dag_frame`)::

    /dags/{dag_id}/gantt?run_id=     one bar per task try of a run
    /dags/{dag_id}/duration?runs=25  each task's duration over recent runs
    /dags/{dag_id}/tries?runs=25     each task's number of tries over recent runs
    /dags/{dag_id}/calendar?year=    a year of days coloured by their runs' states

Their data comes from ``/ui/data/dags/{dag_id}/gantt``, ``/durations`` and ``/calendar``.
The Graph view is :mod:`tradewind.observe.ui.dag_graph`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.api.routes.common import dag_or_404, run_or_404, snapshot_or_404
from tradewind.observe.ui.calendar_plan import planned_per_day
from tradewind.observe.ui.dag_frame import render_dag_page
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, DagVersion
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.queries import ui_dag

router = APIRouter(include_in_schema=False)

#: Runs offered by the run pickers and the charts' "runs" choice; the endpoints accept up to MAX_CHART_RUNS.
CHART_RUN_CHOICES = (10, 25, 50, 100, 365)
MAX_CHART_RUNS = 1000
PICKER_RUNS = 50
UNFINISHED_RUN_STATES = frozenset({"queued", "running"})

_read_dag = authorize("dag", "read")
_read_tis = authorize("task_instance", "read")


# ------------------------------------------------------------------------------- pages
@router.get("/dags/{dag_id}/gantt")
def gantt_page(request: Request, dag_id: str, run_id: str | None = None,
               principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "gantt", "dag_gantt.html", page_data={"run_id": run_id})


@router.get("/dags/{dag_id}/duration")
def duration_page(request: Request, dag_id: str, runs: int = Query(25, ge=1, le=MAX_CHART_RUNS),
                  principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "duration", "dag_chart.html",
                           page_data={"runs": runs, "choices": list(CHART_RUN_CHOICES), "metric": "duration"})


@router.get("/dags/{dag_id}/tries")
def tries_page(request: Request, dag_id: str, runs: int = Query(25, ge=1, le=MAX_CHART_RUNS),
               principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "tries", "dag_chart.html",
                           page_data={"runs": runs, "choices": list(CHART_RUN_CHOICES), "metric": "tries"})


@router.get("/dags/{dag_id}/calendar")
def calendar_page(request: Request, dag_id: str, year: int | None = Query(None, ge=1970, le=9999),
                  principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "calendar", "dag_calendar.html", page_data={"year": year})


# ------------------------------------------------------------------------------- helpers
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_dict(run: DagRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "state": run.state, "run_type": run.run_type,
            "logical_date": _iso(run.logical_date), "start_date": _iso(run.start_date),
            "end_date": _iso(run.end_date)}


def picked_run(session: Session, dag_id: str, run_id: str | None) -> DagRun | None:
    """The run asked for (404 if it does not exist), else the latest one (None when there is none)."""
    if run_id:
        return run_or_404(session, dag_id, run_id)
    dag_or_404(session, dag_id)
    return ui_dag.latest_run(session, dag_id)


def snapshot_for_run(session: Session, dag_id: str, run: DagRun | None) -> tuple[str, DagSnapshot]:
    """(snapshot hash, snapshot) of the version a run was created with (else, or without a run, the latest)."""
    version_id = run.dag_version_id if run is not None else None
    snapshot = dag_queries.snapshot_for_version(session, version_id) if version_id is not None else None
    if snapshot is None:
        version_id, snapshot = snapshot_or_404(session, dag_id)
    version = session.get(DagVersion, version_id)  # already in the session: no query
    return (version.snapshot_hash if version is not None else ""), snapshot


def run_picker(session: Session, dag_id: str) -> list[dict[str, Any]]:
    return [run_dict(r) for r in reversed(ui_dag.recent_runs(session, dag_id, PICKER_RUNS))]


def task_label(snapshot: DagSnapshot, task_id: str) -> str:
    """How charts name a task outside the graph: its display name, or its full id when the display
    name is only the part after its group (two groups may both have a task "load")."""
    task = snapshot.tasks.get(task_id)
    name = (task.task_display_name if task is not None else None) or task_id
    return task_id if name == task_id.rsplit(".", 1)[-1] else name


# ------------------------------------------------------------------------------- data: graph
# ------------------------------------------------------------------------------- data: gantt
@router.get("/ui/data/dags/{dag_id}/gantt")
def gantt_data(request: Request, dag_id: str, run_id: str | None = None,
               _user: Principal = Depends(_read_tis)) -> dict[str, Any]:
    """Every try of one run (queued, start, end, state), tasks in graph order; unstarted queued
    instances appear as a try without a start."""
    with request.app.state.db.read_scope() as session:
        run = picked_run(session, dag_id, run_id)
        snapshot = snapshot_for_run(session, dag_id, run)[1]
        runs = run_picker(session, dag_id)
        instances = ui_dag.run_task_instances(session, dag_id, run.run_id) if run is not None else []
        tries = ui_dag.run_tries(session, dag_id, run.run_id) if run is not None else []
    current = {(i.task_id, i.map_index): i for i in instances}
    order = {tid: n for n, tid in enumerate(snapshot.topological_order)}
    bars: list[dict[str, Any]] = []
    seen: set[tuple[str, int, int]] = set()
    for t in tries:
        ti = current.get((t.task_id, t.map_index))
        is_current = ti is not None and ti.try_number == t.try_number
        bars.append({"task_id": t.task_id, "map_index": t.map_index, "try_number": t.try_number,
                     "state": ti.state if is_current and ti.state != "up_for_retry" else t.state,
                     "queued_at": _iso(ti.queued_dttm) if is_current else None,
                     "start_date": _iso(t.start_date), "end_date": _iso(t.end_date), "duration": t.duration})
        seen.add((t.task_id, t.map_index, t.try_number))
    for ti in instances:
        if ti.state in ("queued", "scheduled") and (ti.task_id, ti.map_index, ti.try_number) not in seen:
            bars.append({"task_id": ti.task_id, "map_index": ti.map_index, "try_number": ti.try_number,
                         "state": ti.state, "queued_at": _iso(ti.queued_dttm), "start_date": None,
                         "end_date": None, "duration": None})
    bars.sort(key=lambda b: (order.get(b["task_id"], len(order)), b["task_id"], b["map_index"], b["try_number"]))
    labels = {tid: task_label(snapshot, tid) for tid in snapshot.tasks}
    return {"dag_id": dag_id, "runs": runs, "run": run_dict(run) if run is not None else None,
            "live": run is not None and run.state in UNFINISHED_RUN_STATES, "now": utcnow().isoformat(),
            "tasks": [{"task_id": tid, "label": labels[tid]} for tid in snapshot.topological_order],
            "tries": bars}


# ------------------------------------------------------------------------------- data: durations/tries
@router.get("/ui/data/dags/{dag_id}/durations")
def durations_data(request: Request, dag_id: str, runs: int = Query(25, ge=1, le=MAX_CHART_RUNS),
                   _user: Principal = Depends(_read_tis)) -> dict[str, Any]:
    """Per task, its duration (seconds) and tries in each of the last ``runs`` runs, oldest run first.

    A task's duration is its instance's duration; a mapped task's is the span from its first
    instance's start to its last one's end. ``null`` where the task did not run (or is running).
    """
    with request.app.state.db.read_scope() as session:
        snapshot = snapshot_or_404(session, dag_id)[1]
        recent = ui_dag.recent_runs(session, dag_id, runs)
        stats = ui_dag.task_stats(session, dag_id, [r.run_id for r in recent])
    column = {r.run_id: n for n, r in enumerate(recent)}
    task_ids = list(snapshot.topological_order)
    extra = sorted({s[1] for s in stats} - set(task_ids))  # tasks of older versions that ran
    task_ids.extend(extra)
    durations: dict[str, list[float | None]] = {tid: [None] * len(recent) for tid in task_ids}
    tries: dict[str, list[int | None]] = {tid: [None] * len(recent) for tid in task_ids}
    for run_id, task_id, first_start, last_end, summed, most_tries, count in stats:
        n = column[run_id]
        if count > 1 and first_start is not None and last_end is not None:
            durations[task_id][n] = round((last_end - first_start).total_seconds(), 3)
        elif count == 1 and summed is not None:
            durations[task_id][n] = round(float(summed), 3)
        tries[task_id][n] = int(most_tries) if most_tries else None
    labels = {tid: task_label(snapshot, tid) for tid in task_ids}
    return {"dag_id": dag_id, "runs": [run_dict(r) for r in recent],
            "tasks": [{"task_id": tid, "label": labels[tid]} for tid in task_ids],
            "durations": durations, "tries": tries}


# ------------------------------------------------------------------------------- data: calendar
@router.get("/ui/data/dags/{dag_id}/calendar")
def calendar_data(request: Request, dag_id: str, year: int | None = Query(None, ge=1970, le=9999),
                  _user: Principal = Depends(_read_dag)) -> dict[str, Any]:
    """Runs per UTC day (by logical date) and state for one year, and the planned runs still to come.

    Planned runs are shown for an unpaused DAG with a schedule, from its next run to the end of the
    year, counted per day arithmetically (:mod:`tradewind.observe.ui.calendar_plan`): a few
    queries and no per-run work, whatever the schedule.
    """
    now = utcnow()
    year = year or now.year
    start = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    with request.app.state.db.read_scope() as session:
        dag = dag_or_404(session, dag_id)
        counts = ui_dag.run_day_counts(session, dag_id, start, end)
        first, last = ui_dag.run_year_bounds(session, dag_id)
        planned: dict[str, int] = {}
        truncated = False
        if not dag.is_paused and end > now:
            snapshot = snapshot_or_404(session, dag_id)[1]
            # from the next run the scheduler will create (now, before it has computed one)
            lower = max(start, dag.next_dagrun if dag.next_dagrun is not None else now)
            planned, truncated = planned_per_day(snapshot, lower, end)
    days: dict[str, dict[str, int]] = defaultdict(dict)
    for day, state, n in counts:
        days[day][state] = days[day].get(state, 0) + n
    low = min(first.year if first else now.year, now.year, year)
    high = max(last.year if last else now.year, now.year, year)
    return {"dag_id": dag_id, "year": year, "years": list(range(low, high + 1)), "days": dict(days),
            "planned": planned, "planned_truncated": truncated, "today": now.date().isoformat()}

