"""The cross-DAG graphs (issue 14, area 'graphs').

    /dag-dependencies      every DAG and how they depend on each other: through assets (a task of
                           one produces an asset another is scheduled on), triggers
                           (TriggerDagRunOperator) and sensors/markers (ExternalTask*)
    /assets/graph          assets with the DAGs producing and the DAGs scheduled on them; a user
                           with ``asset: create`` can record an asset event (POST /api/v2/assets/events)

Their data: ``/ui/data/dag-dependencies`` and ``/ui/data/assets/graph`` (nodes and edges; the
browser lays them out, static/graph_view.js).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.ui.dag_graph import dag_links
from tradewind.observe.ui.pages import render_page
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import AssetModel, DagModel, DagVersion
from tradewind.persist.models import DagScheduleAssetReference as ScheduleRow
from tradewind.persist.models import TaskOutletAssetReference as OutletRow

router = APIRouter(include_in_schema=False)


def _assets_and_refs(session: Any) -> tuple[list[AssetModel], list[tuple[int, str]], list[tuple[int, str, str]]]:
    assets = list(session.scalars(select(AssetModel).where(AssetModel.is_active.is_(True)).order_by(AssetModel.name)))
    scheduled = [(r.asset_id, r.dag_id) for r in session.scalars(select(ScheduleRow))]
    produced = [(r.asset_id, r.dag_id, r.task_id) for r in session.scalars(select(OutletRow))]
    return assets, scheduled, produced


def _asset_node(a: AssetModel) -> dict[str, Any]:
    return {"id": f"asset:{a.id}", "kind": "asset", "asset_id": a.id, "label": a.name, "uri": a.uri, "group": a.group}


def _dag_node(dag: DagModel) -> dict[str, Any]:
    return {"id": f"dag:{dag.dag_id}", "kind": "dag", "dag_id": dag.dag_id, "label": dag.dag_id,
            "is_paused": dag.is_paused}


#: Cross-DAG links per DAG version id. A version never changes, so its links are read from its
#: snapshot once (reading 500 snapshots on every request cost ~0.4 s).
_links: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
_links_lock = threading.Lock()
LINKS_CACHE_SIZE = 10_000


def _links_of_latest_versions(session: Any, dags: list[DagModel]) -> dict[str, list[dict[str, Any]]]:
    """dag_id -> the cross-DAG links its latest version declares (see :func:`dag_links`)."""
    wanted = {d.latest_version_id: d.dag_id for d in dags if d.latest_version_id is not None}
    with _links_lock:
        known = {vid: _links[vid] for vid in wanted if vid in _links}
    missing = [vid for vid in wanted if vid not in known]
    if missing:
        for version in session.scalars(select(DagVersion).where(DagVersion.id.in_(missing))):
            try:
                links = dag_links(DagSnapshot.from_dict(version.snapshot))
            except Exception:  # noqa: BLE001 - an unreadable old snapshot has no links to show
                links = []
            known[version.id] = links
        with _links_lock:
            for vid in missing:
                _links[vid] = known.get(vid, [])
            while len(_links) > LINKS_CACHE_SIZE:
                _links.popitem(last=False)
    return {wanted[vid]: known.get(vid, []) for vid in wanted}


@router.get("/dag-dependencies")
def dag_dependencies_page(request: Request, principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_page(request, principal, "dag_dependencies.html", title="DAG dependencies",
                       active_nav="dag-dependencies", page_data={})


@router.get("/ui/data/dag-dependencies")
def dag_dependencies_data(request: Request, _user: Principal = Depends(authorize("dag", "read"))) -> dict[str, Any]:
    """Every active DAG and the dependencies between them: ``asset`` edges go DAG -> asset -> DAG,
    ``trigger``/``marker`` edges from the DAG whose task names the other DAG, ``sensor`` edges
    from the DAG a sensor waits for."""
    with request.app.state.db.read_scope() as session:
        dags = list(session.scalars(select(DagModel).where(DagModel.is_active.is_(True)).order_by(DagModel.dag_id)))
        assets, scheduled, produced = _assets_and_refs(session)
        links_by_dag = _links_of_latest_versions(session, dags)
    nodes = {f"dag:{d.dag_id}": _dag_node(d) for d in dags}
    edges: dict[tuple[str, str], dict[str, Any]] = {}

    def edge(source: str, target: str, kind: str) -> None:
        edges.setdefault((source, target), {"source": source, "target": target, "kind": kind})

    by_id = {a.id: a for a in assets}
    for asset_id, dag_id, _task in produced:
        if asset_id in by_id and f"dag:{dag_id}" in nodes:
            nodes.setdefault(f"asset:{asset_id}", _asset_node(by_id[asset_id]))
            edge(f"dag:{dag_id}", f"asset:{asset_id}", "asset")
    for asset_id, dag_id in scheduled:
        if asset_id in by_id and f"dag:{dag_id}" in nodes:
            nodes.setdefault(f"asset:{asset_id}", _asset_node(by_id[asset_id]))
            edge(f"asset:{asset_id}", f"dag:{dag_id}", "asset")
    for dag_id, links in links_by_dag.items():
        for link in links:
            other = f"dag:{link['dag_id']}"
            nodes.setdefault(other, {"id": other, "kind": "dag", "dag_id": link["dag_id"], "label": link["dag_id"],
                                     "missing": True})
            pair = (other, f"dag:{dag_id}") if link["kind"] == "sensor" else (f"dag:{dag_id}", other)
            edge(pair[0], pair[1], link["kind"])
    return {"nodes": list(nodes.values()), "edges": list(edges.values())}


@router.get("/assets/graph")
def asset_graph_page(request: Request, asset: str | None = None,
                     principal: Principal = Depends(authorize_page("asset", "read"))) -> HTMLResponse:
    return render_page(request, principal, "asset_graph.html", title="Asset graph", active_nav="assets",
                       page_data={"asset": asset, "can_create_event": principal.can("asset", "create")})


@router.get("/ui/data/assets/graph")
def asset_graph_data(request: Request, _user: Principal = Depends(authorize("asset", "read"))) -> dict[str, Any]:
    """Every active asset, the DAGs whose tasks produce it (DAG -> asset, labelled with the tasks)
    and the DAGs scheduled on it (asset -> DAG)."""
    with request.app.state.db.read_scope() as session:
        assets, scheduled, produced = _assets_and_refs(session)
        dag_ids = {d for _, d in scheduled} | {d for _, d, _ in produced}
        dags = list(session.scalars(select(DagModel).where(DagModel.dag_id.in_(dag_ids)))) if dag_ids else []
    nodes = [_asset_node(a) for a in assets] + [_dag_node(d) for d in sorted(dags, key=lambda d: d.dag_id)]
    known = {n["id"] for n in nodes}
    tasks: dict[tuple[str, str], list[str]] = {}
    for asset_id, dag_id, task_id in produced:
        tasks.setdefault((f"dag:{dag_id}", f"asset:{asset_id}"), []).append(task_id)
    edges = [{"source": s, "target": t, "kind": "produces", "tasks": sorted(ts)} for (s, t), ts in tasks.items()
             if s in known and t in known]
    edges += [{"source": f"asset:{a}", "target": f"dag:{d}", "kind": "schedules", "tasks": []} for a, d in scheduled
              if f"asset:{a}" in known and f"dag:{d}" in known]
    return {"nodes": nodes, "edges": edges}
