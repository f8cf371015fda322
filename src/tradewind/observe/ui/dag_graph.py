"""The DAG's Graph view and its data.

    /dags/{dag_id}/graph?run_id=     the graph coloured by one run's states (default: latest)

Its data comes from ``/ui/data/dags/{dag_id}/graph`` (layout + states; ``/graph/states`` for
polling). The layout is computed here (:mod:`tradewind.observe.ui.graph_layout`).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.api.routes.common import run_or_404, run_snapshot
from tradewind.observe.ui.dag_charts import UNFINISHED_RUN_STATES, picked_run, run_picker, run_dict, snapshot_for_run
from tradewind.observe.ui.dag_frame import render_dag_page
from tradewind.observe.ui.graph_layout import layout_dag
from tradewind.observe.ui.grid import summary_state
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun
from tradewind.persist.queries import ui_dag

router = APIRouter(include_in_schema=False)
_read_tis = authorize("task_instance", "read")


@router.get("/dags/{dag_id}/graph")
def graph_page(request: Request, dag_id: str, run_id: str | None = None,
               principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "graph", "dag_graph.html", page_data={"run_id": run_id})


_layouts: OrderedDict[tuple[str, str, tuple[str, ...]], dict[str, Any]] = OrderedDict()
_layouts_lock = threading.Lock()
LAYOUT_CACHE_SIZE = 64


def cached_layout(snapshot_hash: str, snapshot: DagSnapshot, expanded: list[str]) -> dict[str, Any]:
    """The graph layout of one DAG version with these groups open. A version's content never
    changes (its hash names it), so layouts are kept (least recently used out): switching runs
    or reopening the page costs no layout."""
    key = (snapshot.dag_id, snapshot_hash, tuple(sorted(set(expanded))))
    with _layouts_lock:
        if key in _layouts:
            _layouts.move_to_end(key)
            return _layouts[key]
    layout = layout_dag(snapshot, key[2])
    with _layouts_lock:
        _layouts[key] = layout
        while len(_layouts) > LAYOUT_CACHE_SIZE:
            _layouts.popitem(last=False)
    return layout


def _groups_of(snapshot: DagSnapshot) -> dict[str, list[str]]:
    """Group id -> every task inside it (nested groups included)."""
    out: dict[str, list[str]] = {}

    def walk(node: dict[str, Any]) -> list[str]:
        tasks: list[str] = []
        for child in node.get("children") or []:
            tasks.extend(walk(child) if isinstance(child, dict) else [child])
        if node.get("group_id") is not None:
            out[node["group_id"]] = tasks
        return tasks

    if snapshot.task_group:
        walk(snapshot.task_group)
    return out


def node_states(snapshot: DagSnapshot, instances: list[Any]) -> dict[str, dict[str, Any]]:
    """State per task and per task group for one run.

    A task: its state and try number; a mapped task also the number of instances and a count
    per state (its state is the summary). A group: the summary of all its tasks' instances and
    the count per state. A task without an instance yet counts as ``none``.
    """
    by_task: dict[str, list[Any]] = defaultdict(list)
    for row in instances:
        by_task[row.task_id].append(row)
    out: dict[str, dict[str, Any]] = {}
    for tid, task in snapshot.tasks.items():
        rows = by_task.get(tid, [])
        mapped = bool(task.extra.get("is_mapped"))
        expanded = [r for r in rows if r.map_index >= 0]
        if mapped and expanded:
            counts = Counter(r.state for r in expanded)
            out[tid] = {"state": summary_state(list(counts)), "try_number": max(r.try_number for r in expanded),
                        "map_count": len(expanded), "counts": dict(counts)}
        elif rows:
            row = rows[0]
            out[tid] = {"state": row.state, "try_number": row.try_number,
                        "map_count": 0 if mapped else None, "counts": None}
        else:
            out[tid] = {"state": "none", "try_number": 0, "map_count": None, "counts": None}
    for gid, tasks in _groups_of(snapshot).items():
        counts = Counter()
        for tid in tasks:
            counts.update(out[tid]["counts"] or {out[tid]["state"]: 1})
        out[gid] = {"state": summary_state(list(counts)) if counts else "none", "try_number": None,
                    "map_count": None, "counts": dict(counts)}
    return out


def _states_payload(session: Session, dag_id: str, run: DagRun | None, snapshot: DagSnapshot) -> dict[str, Any]:
    instances = ui_dag.run_task_instances(session, dag_id, run.run_id) if run is not None else []
    return {"run": run_dict(run) if run is not None else None,
            "live": run is not None and run.state in UNFINISHED_RUN_STATES,
            "states": node_states(snapshot, instances)}


@router.get("/ui/data/dags/{dag_id}/graph")
def graph_data(request: Request, dag_id: str, run_id: str | None = None,
               expanded: list[str] = Query([], description="Task groups to show open."),
               _user: Principal = Depends(_read_tis)) -> dict[str, Any]:
    """The layout of the DAG (of the picked run's version) and that run's states."""
    with request.app.state.db.read_scope() as session:
        run = picked_run(session, dag_id, run_id)
        snapshot_hash, snapshot = snapshot_for_run(session, dag_id, run)
        payload = _states_payload(session, dag_id, run, snapshot)
        runs = run_picker(session, dag_id)
    layout = cached_layout(snapshot_hash, snapshot, expanded)
    groups = sorted(_groups_of(snapshot))
    return {"dag_id": dag_id, "runs": runs, "all_groups": groups, "expanded": [g for g in expanded if g in groups],
            **layout, **payload}


@router.get("/ui/data/dags/{dag_id}/graph/states")
def graph_states(request: Request, dag_id: str, run_id: str, _user: Principal = Depends(_read_tis)) -> dict[str, Any]:
    """Only the states of one run (what the graph polls while the run is unfinished)."""
    with request.app.state.db.read_scope() as session:
        run = run_or_404(session, dag_id, run_id)
        return _states_payload(session, dag_id, run, run_snapshot(session, run))
