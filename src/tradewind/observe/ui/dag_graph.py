"""The DAG's Graph view and its data.

    /dags/{dag_id}/graph?run_id=     the graph coloured by one run's states (default: latest)

Its data comes from ``/ui/data/dags/{dag_id}/graph`` (structure + states; ``/graph/states`` for
polling). The server sends nodes, edges, task groups, assets and linked DAGs; the browser
measures the labels and lays the graph out (dagre, static/graph_view.js).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict, defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.api.routes.common import run_or_404
from tradewind.observe.ui.dag_charts import UNFINISHED_RUN_STATES, picked_run, run_picker, run_dict, snapshot_for_run
from tradewind.observe.ui.dag_frame import render_dag_page
from tradewind.observe.ui.grid import summary_state
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagModel, DagRun, DagVersion
from tradewind.persist.queries import ui_dag

router = APIRouter(include_in_schema=False)
_read_tis = authorize("task_instance", "read")


@router.get("/dags/{dag_id}/graph")
def graph_page(request: Request, dag_id: str, run_id: str | None = None,
               principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_dag_page(request, principal, dag_id, "graph", "dag_graph.html", page_data={"run_id": run_id})


_versions: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_versions_lock = threading.Lock()
VERSION_CACHE_SIZE = 64


def _version_hash(session: Session, dag_id: str, run: DagRun | None) -> str | None:
    """The content hash of the version the run was created with (else the DAG's latest), read
    without loading the snapshot itself (a 10,000-task snapshot takes seconds to parse)."""
    version_id = run.dag_version_id if run is not None else None
    found = session.scalar(select(DagVersion.snapshot_hash).where(DagVersion.id == version_id)) if version_id else None
    if found is None:
        latest = session.scalar(select(DagModel.latest_version_id).where(DagModel.dag_id == dag_id))
        found = session.scalar(select(DagVersion.snapshot_hash).where(DagVersion.id == latest)) if latest else None
    return found


def version_graph(session: Session, dag_id: str, run: DagRun | None) -> dict[str, Any]:
    """The graph of one DAG version: ``structure`` (what the browser draws), ``mapped`` (task ids
    of mapped tasks) and ``groups`` (group id -> its tasks). A version's content never changes (its
    hash names it), so this is kept (least recently used out): switching runs, reopening the page
    or polling states neither loads nor parses the snapshot again."""
    snapshot_hash = _version_hash(session, dag_id, run)
    key = (dag_id, snapshot_hash or "")
    if snapshot_hash:
        with _versions_lock:
            if key in _versions:
                _versions.move_to_end(key)
                return _versions[key]
    snapshot_hash, snapshot = snapshot_for_run(session, dag_id, run)
    structure = graph_structure(snapshot)
    entry = {"structure": structure, "structure_json": json.dumps(structure, separators=(",", ":"))[1:-1],
             "groups": _groups_of(snapshot),
             "tasks": {tid: bool(t.extra.get("is_mapped")) for tid, t in snapshot.tasks.items()}}
    if snapshot_hash:
        with _versions_lock:
            _versions[(dag_id, snapshot_hash)] = entry
            while len(_versions) > VERSION_CACHE_SIZE:
                _versions.popitem(last=False)
    return entry


def _group_tree(snapshot: DagSnapshot) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """(groups, task id -> its innermost group): groups outer first, each with its parent."""
    groups: list[dict[str, Any]] = []
    group_of: dict[str, str | None] = {}

    def walk(node: dict[str, Any], parent: str | None) -> None:
        gid = node.get("group_id")
        if gid is not None:
            groups.append({"id": gid, "label": _short(gid, parent), "parent": parent,
                           "tooltip": str(node.get("tooltip") or "")})
        for child in node.get("children") or []:
            if isinstance(child, dict):
                walk(child, gid)
            elif child in snapshot.tasks:
                group_of[child] = gid

    if snapshot.task_group:
        walk(snapshot.task_group, None)
    for tid in snapshot.tasks:
        group_of.setdefault(tid, None)
    return groups, group_of


def _short(name: str, group_id: str | None) -> str:
    """A name inside its group: without the group's prefix."""
    return name[len(group_id) + 1:] if group_id and name.startswith(group_id + ".") else name


def asset_refs(value: Any) -> list[dict[str, Any]]:
    """Every asset named in a (nested) schedule condition or asset list: ``{"name", "uri"}`` each."""
    found: list[dict[str, Any]] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if "uri" in item and "name" in item and isinstance(item.get("uri"), str):
                found.append({"name": str(item["name"]), "uri": item["uri"]})
                return
            for sub in item.values():
                walk(sub)
        elif isinstance(item, list | tuple):
            for sub in item:
                walk(sub)

    walk(value)
    return found


def dag_links(snapshot: DagSnapshot) -> list[dict[str, Any]]:
    """Cross-DAG dependencies a DAG's tasks declare: ``{"task_id", "dag_id", "kind"}`` where kind is
    ``trigger`` (TriggerDagRunOperator: this task -> that DAG), ``sensor`` (ExternalTaskSensor:
    that DAG -> this task) or ``marker`` (ExternalTaskMarker: this task -> that DAG)."""
    out = []
    for tid, task in snapshot.tasks.items():
        extra = task.extra or {}
        if "trigger_dag_id" not in extra and "external_dag_id" not in extra:
            continue
        target = extra.get("trigger_dag_id")
        if isinstance(target, str) and target and "{{" not in target:
            out.append({"task_id": tid, "dag_id": target, "kind": "trigger"})
        external = extra.get("external_dag_id")
        if isinstance(external, str) and external and "{{" not in external:
            kind = "marker" if task.operator.endswith("Marker") else "sensor"
            out.append({"task_id": tid, "dag_id": external, "kind": kind})
    return out


def asset_key(ref: dict[str, Any]) -> str:
    return f"asset:{ref['name']}\x00{ref['uri']}"


def graph_structure(snapshot: DagSnapshot) -> dict[str, Any]:
    """What the browser lays out: tasks, task groups, edges (with labels and setup/teardown
    marks), the DAG's assets (schedule, inlets, outlets) and the DAGs its tasks trigger or wait
    for. No coordinates: the browser measures the labels and lays the graph out."""
    groups, group_of = _group_tree(snapshot)
    counts: Counter[str] = Counter()
    parent_of = {g["id"]: g["parent"] for g in groups}
    for gid in group_of.values():
        while gid is not None:
            counts[gid] += 1
            gid = parent_of.get(gid)
    for g in groups:
        g["task_count"] = counts[g["id"]]
    nodes = []
    for tid, task in snapshot.tasks.items():
        nodes.append({"id": tid, "kind": "task", "label": _short(task.task_display_name or tid, group_of[tid]),
                      "group": group_of[tid], "operator": task.operator, "is_setup": task.is_setup,
                      "is_teardown": task.is_teardown, "is_mapped": bool(task.extra.get("is_mapped"))})
    edges = []
    for tid, task in snapshot.tasks.items():
        for down in task.downstream:
            if down not in snapshot.tasks:
                continue
            label = (snapshot.edge_info.get(tid, {}).get(down) or {}).get("label")
            edges.append({"source": tid, "target": down, "label": str(label) if label else None,
                          "setup_teardown": bool(task.is_setup and snapshot.tasks[down].is_teardown)})
    assets: dict[str, dict[str, Any]] = {}
    external: list[dict[str, Any]] = []

    def asset_node(ref: dict[str, Any]) -> str:
        key = asset_key(ref)
        assets.setdefault(key, {"id": key, "kind": "asset", "label": ref["name"], "uri": ref["uri"], "group": None})
        return key

    roots = [t for t, task in snapshot.tasks.items() if not task.upstream]
    if (snapshot.timetable or {}).get("__type") in ("asset", "asset_or_time"):
        for ref in asset_refs(snapshot.timetable):
            key = asset_node(ref)
            external.extend({"source": key, "target": r, "kind": "schedule"} for r in roots)
    for tid, task in snapshot.tasks.items():
        inlets = task.extra.get("inlets")
        for ref in asset_refs(list(inlets)) if inlets else ():
            external.append({"source": asset_node(ref), "target": tid, "kind": "inlet"})
        for ref in asset_refs(list(task.outlets)) if task.outlets else ():
            external.append({"source": tid, "target": asset_node(ref), "kind": "outlet"})
    dags: dict[str, dict[str, Any]] = {}
    for link in dag_links(snapshot):
        key = f"dag:{link['dag_id']}"
        dags.setdefault(key, {"id": key, "kind": "dag", "label": link["dag_id"], "dag_id": link["dag_id"], "group": None})
        pair = (key, link["task_id"]) if link["kind"] == "sensor" else (link["task_id"], key)
        external.append({"source": pair[0], "target": pair[1], "kind": link["kind"]})
    return {"nodes": nodes, "groups": groups, "edges": edges, "assets": list(assets.values()),
            "dags": list(dags.values()), "links": external}


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


def node_states(tasks: dict[str, bool], groups: dict[str, list[str]], instances: list[Any]) -> dict[str, dict[str, Any]]:
    """State per task and per task group for one run (``tasks``: task id -> is mapped).

    A task: its state and try number; a mapped task also the number of instances and a count
    per state (its state is the summary). A group: the summary of all its tasks' instances and
    the count per state. A task without an instance yet counts as ``none``.
    """
    by_task: dict[str, list[Any]] = defaultdict(list)
    for row in instances:
        by_task[row.task_id].append(row)
    out: dict[str, dict[str, Any]] = {}
    for tid, mapped in tasks.items():
        rows = by_task.get(tid, [])
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
    for gid, members in groups.items():
        counts: dict[str, int] = {}
        for tid in members:
            entry = out[tid]
            if entry["counts"]:
                for key, n in entry["counts"].items():
                    counts[key] = counts.get(key, 0) + n
            else:
                counts[entry["state"]] = counts.get(entry["state"], 0) + 1
        out[gid] = {"state": summary_state(list(counts)) if counts else "none", "try_number": None,
                    "map_count": None, "counts": dict(counts)}
    return out


def _states_payload(session: Session, dag_id: str, run: DagRun | None, graph: dict[str, Any]) -> dict[str, Any]:
    instances = ui_dag.run_task_instances(session, dag_id, run.run_id) if run is not None else []
    return {"run": run_dict(run) if run is not None else None,
            "live": run is not None and run.state in UNFINISHED_RUN_STATES,
            "states": node_states(graph["tasks"], graph["groups"], instances)}


def _json(payload: dict[str, Any]) -> Response:
    """Plain JSON (the payload is JSON types already: no per-item encoder pass over 10,000 nodes)."""
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


@router.get("/ui/data/dags/{dag_id}/graph")
def graph_data(request: Request, dag_id: str, run_id: str | None = None,
               _user: Principal = Depends(_read_tis)) -> Response:
    """The structure of the DAG (of the picked run's version) and that run's states."""
    with request.app.state.db.read_scope() as session:
        run = picked_run(session, dag_id, run_id)
        graph = version_graph(session, dag_id, run)
        payload = _states_payload(session, dag_id, run, graph)
        runs = run_picker(session, dag_id)
    head = json.dumps({"dag_id": dag_id, "runs": runs, **payload}, separators=(",", ":"))
    # the structure's JSON is kept with it: a request encodes only the run's states
    return Response(f"{head[:-1]},{graph['structure_json']}}}", media_type="application/json")


@router.get("/ui/data/dags/{dag_id}/graph/states")
def graph_states(request: Request, dag_id: str, run_id: str, _user: Principal = Depends(_read_tis)) -> Response:
    """Only the states of one run (what the graph polls while the run is unfinished)."""
    with request.app.state.db.read_scope() as session:
        run = run_or_404(session, dag_id, run_id)
        return _json(_states_payload(session, dag_id, run, version_graph(session, dag_id, run)))
