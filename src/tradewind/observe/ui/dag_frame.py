"""The per-DAG page frame: ``/dags/{dag_id}/<view>`` pages share a header and a row of tabs.

A view module renders its page with :func:`render_dag_page`, naming its tab key and a template
that extends ``templates/dag_base.html`` (fill ``{% block dag_content %}``, add scripts in
``{% block dag_scripts %}`` and stylesheets in ``{% block dag_head %}``)::

    @router.get("/dags/{dag_id}/graph")
    def graph_page(request: Request, dag_id: str,
                   principal: Principal = Depends(authorize_page("dag", "read"))):
        return render_dag_page(request, principal, dag_id, "graph", "dag_graph.html")

The header (display name, pause switch, schedule, next run, tags, trigger button) comes from
the DAG row and its latest parsed version; scripts read it as ``tw.pageData().dag``. An unknown
DAG id answers a 404 page instead of the view.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal
from tradewind.observe.ui.pages import STATIC_DIR, render_page
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagModel
from tradewind.persist.queries import dags as dag_queries

#: The tabs of every DAG page, in order: (label, view key). The view key is the last path segment.
DAG_TABS: tuple[tuple[str, str], ...] = (
    ("Grid", "grid"),
    ("Graph", "graph"),
    ("Gantt", "gantt"),
    ("Task Duration", "duration"),
    ("Task Tries", "tries"),
    ("Calendar", "calendar"),
    ("Code", "code"),
    ("Details", "details"),
    ("Runs", "runs"),
    ("Versions", "versions"),
    ("Events", "events"),
)


def dag_header(dag: DagModel, snapshot: DagSnapshot | None, principal: Principal) -> dict[str, Any]:
    """What the header and the page scripts know about the DAG (JSON-safe; shown as text only)."""
    return {
        "dag_id": dag.dag_id,
        "display_name": (snapshot.dag_display_name if snapshot else None) or dag.dag_id,
        "is_paused": bool(dag.is_paused),
        "is_active": bool(dag.is_active),
        "schedule": dag.timetable_summary or "None",
        "next_dagrun": dag.next_dagrun.isoformat() if dag.next_dagrun else None,
        "next_dagrun_create_after": dag.next_dagrun_create_after.isoformat() if dag.next_dagrun_create_after else None,
        # What the header's "Next run" shows: when the next run starts (Airflow 3's run_after),
        # nothing while the DAG is paused (no run will start).
        "next_run_after": (dag.next_dagrun_create_after.isoformat()
                           if dag.next_dagrun_create_after and not dag.is_paused else None),
        "tags": list(dag.tags or []),
        "description": dag.description,
        "params": dict(snapshot.params) if snapshot else {},
        "can_edit_dag": principal.can("dag", "edit"),
        "can_trigger": principal.can("dag_run", "create"),
        "can_edit_runs": principal.can("dag_run", "edit"),
        "can_delete_runs": principal.can("dag_run", "delete"),
        "can_edit_tis": principal.can("task_instance", "edit"),
        "can_read_xcom": principal.can("xcom", "read"),
        "can_read_log": principal.can("task_log", "read"),
    }


def render_dag_page(request: Request, principal: Principal, dag_id: str, view: str, template: str, *,
                    title: str | None = None, page_data: dict[str, Any] | None = None,
                    **context: Any) -> HTMLResponse:
    """Render a DAG view in the frame; ``page_data`` is merged beside ``dag`` (the header facts).

    The template gets ``dag`` (the header dict), ``snapshot`` (the latest parsed
    :class:`DagSnapshot`, or None before the first parse), ``tabs``, ``view`` and ``context``.
    """
    db = request.app.state.db
    with db.read_scope() as session:
        dag = session.get(DagModel, dag_id)
        if dag is None:
            return render_page(request, principal, "dag_missing.html", title="DAG not found", active_nav="dags",
                               status_code=404, dag_id=dag_id)
        latest = dag_queries.latest_snapshot(session, dag_id)
        snapshot = latest[1] if latest else None
        header = dag_header(dag, snapshot, principal)
    label = dict((key, name) for name, key in DAG_TABS).get(view, view)
    data = {"dag": header, "view": view, **(page_data or {})}
    return render_page(request, principal, template, title=title or f"{header['display_name']} · {label}",
                       active_nav="dags", page_data=data, dag=header, snapshot=snapshot, tabs=DAG_TABS,
                       view=view, has_trigger_form=(STATIC_DIR / "trigger.js").is_file(), **context)
