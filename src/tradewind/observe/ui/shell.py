"""The frame every UI page shares: the search palette's data and the favicon.

``GET /ui/data/search?q=&limit=`` answers the header's search palette (``static/palette.js``,
opened with Ctrl+K / ⌘K): DAGs whose id or display name contains ``q``, tasks whose id or display
name contains it (read from each active DAG's latest snapshot) and runs whose run id contains it,
each group at most ``limit`` long, each entry with the URL the palette opens. Matching ignores case;
entries that start with ``q`` come first. It reads only: three small queries, whatever the number
of runs (the task query looks only at DAGs whose latest snapshot mentions ``q`` at all).

``GET /favicon.ico`` answers with the package's SVG icon (browsers ask for it by that name).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import Text, case, cast, func, or_, select

from tradewind.observe.api.auth import Principal, authorize
from tradewind.observe.api.routes.common import read
from tradewind.observe.ui.pages import STATIC_DIR
from tradewind.persist.models import DagModel, DagRun, DagVersion

router = APIRouter(include_in_schema=False)

#: Most entries per group.
MAX_LIMIT = 50
#: Most DAG snapshots read to find tasks (the task group is cut to ``limit`` anyway).
_TASK_SCAN_DAGS = 50


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _q(part: str) -> str:
    return quote(part, safe="")


def _rank(text: str, q: str) -> tuple[int, str]:
    """Exact match first, then prefix, then anywhere; ties by text."""
    low = text.lower()
    return (0 if low == q else 1 if low.startswith(q) else 2, low)


def _dags(session: Any, q: str, limit: int) -> list[dict[str, Any]]:
    display = DagVersion.snapshot["dag_display_name"].as_string()
    pattern = _like(q)
    starts = _like(q)[1:]  # "q%"
    stmt = (select(DagModel.dag_id, display)
            .outerjoin(DagVersion, DagVersion.id == DagModel.latest_version_id)
            .where(DagModel.is_active.is_(True),
                   or_(func.lower(DagModel.dag_id).like(pattern, escape="\\"),
                       func.lower(display).like(pattern, escape="\\")))
            .order_by(case((func.lower(DagModel.dag_id).like(starts, escape="\\"), 0), else_=1), DagModel.dag_id)
            .limit(limit))
    out = []
    for dag_id, name in session.execute(stmt):
        title = name or dag_id
        out.append({"dag_id": dag_id, "title": title, "detail": dag_id if title != dag_id else "",
                    "url": f"/dags/{_q(dag_id)}/grid"})
    return out


def _tasks(session: Any, q: str, limit: int) -> list[dict[str, Any]]:
    stmt = (select(DagModel.dag_id, DagVersion.snapshot)
            .join(DagVersion, DagVersion.id == DagModel.latest_version_id)
            .where(DagModel.is_active.is_(True),
                   func.lower(cast(DagVersion.snapshot, Text)).like(_like(q), escape="\\"))
            .order_by(DagModel.dag_id)
            .limit(_TASK_SCAN_DAGS))
    found: list[tuple[tuple[int, str], dict[str, Any]]] = []
    for dag_id, snapshot in session.execute(stmt):
        for task in (snapshot or {}).get("tasks") or []:
            task_id = str(task.get("task_id", ""))
            name = str(task.get("task_display_name") or task_id)
            if q in task_id.lower() or q in name.lower():
                found.append((min(_rank(task_id, q), _rank(name, q)), {
                    "dag_id": dag_id, "task_id": task_id, "title": name, "detail": dag_id,
                    "url": f"/dags/{_q(dag_id)}/grid?task_id={_q(task_id)}"}))
    found.sort(key=lambda pair: (pair[0], pair[1]["dag_id"]))
    return [entry for _, entry in found[:limit]]


def _runs(session: Any, q: str, limit: int) -> list[dict[str, Any]]:
    stmt = (select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_type)
            .join(DagModel, DagModel.dag_id == DagRun.dag_id)
            .where(DagModel.is_active.is_(True), func.lower(DagRun.run_id).like(_like(q), escape="\\"))
            .order_by(DagRun.id.desc())
            .limit(limit))
    return [{"dag_id": dag_id, "run_id": run_id, "state": state, "run_type": run_type, "title": run_id,
             "detail": dag_id, "url": f"/dags/{_q(dag_id)}/runs/{_q(run_id)}"}
            for dag_id, run_id, state, run_type in session.execute(stmt)]


@router.get("/ui/data/search")
def search_data(
    request: Request,
    q: str = Query("", max_length=250, description="Text in a DAG id or name, a task id or name, or a run id."),
    limit: int = Query(8, ge=1, le=MAX_LIMIT, description="Most entries per group."),
    principal: Principal = Depends(authorize("dag", "read")),
) -> dict[str, Any]:
    """Groups ``dags``, ``tasks`` and ``runs`` (runs only for roles that may read them), each a list
    of ``{"title", "detail", "url", ...}``; no groups for an empty query."""
    text = q.strip().lower()
    if not text:
        return {"query": q, "groups": []}
    with read(request) as session:
        groups = [{"kind": "dags", "label": "DAGs", "items": _dags(session, text, limit)},
                  {"kind": "tasks", "label": "Tasks", "items": _tasks(session, text, limit)}]
        if principal.can("dag_run", "read"):
            groups.append({"kind": "runs", "label": "Runs", "items": _runs(session, text, limit)})
    return {"query": q, "groups": groups}


@router.get("/favicon.ico")
def favicon() -> Response:
    """The package's icon (SVG) under the name browsers ask for (public, as the login page needs it)."""
    body = (STATIC_DIR / "favicon.svg").read_bytes()
    return Response(body, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
