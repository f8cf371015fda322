"""``GET /api/v2/dagStats``: how many runs of each DAG are in each run state.

Every DAG listed gets the four states of Airflow 3 (``queued``, ``running``, ``success``,
``failed``), zero counts included, counted in one grouped query.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from tradewind.observe.api.routes.common import can, read
from tradewind.observe.api.v2.common import API_V2, Model
from tradewind.persist.models import DagModel, DagRun, DagVersion

router = APIRouter(prefix=API_V2, tags=["DagStats"])

RUN_STATES = ("queued", "running", "success", "failed")


class DagStatsStateResponse(Model):
    state: Literal["queued", "running", "success", "failed"]
    count: int


class DagStatsResponse(Model):
    dag_id: str
    dag_display_name: str
    stats: list[DagStatsStateResponse]


class DagStatsCollectionResponse(Model):
    dags: list[DagStatsResponse]
    total_entries: int


@router.get("/dagStats", response_model=DagStatsCollectionResponse, summary="Count the runs of DAGs by state")
def get_dag_stats(request: Request,
                  dag_ids: list[str] | None = Query(None, description="These DAGs (default: every non-stale DAG)."),
                  _user: Any = can("dag_run", "read")) -> DagStatsCollectionResponse:
    dags = (select(DagModel.dag_id, func.coalesce(DagVersion.snapshot["dag_display_name"].as_string(), DagModel.dag_id))
            .outerjoin(DagVersion, DagVersion.id == DagModel.latest_version_id).order_by(DagModel.dag_id))
    dags = dags.where(DagModel.dag_id.in_(dag_ids)) if dag_ids else dags.where(DagModel.is_active.is_(True))
    with read(request) as session:
        names = dict(session.execute(dags).all())
        counts: dict[tuple[str, str], int] = {}
        if names:
            for dag_id, state, count in session.execute(
                    select(DagRun.dag_id, DagRun.state, func.count()).where(DagRun.dag_id.in_(list(names)))
                    .group_by(DagRun.dag_id, DagRun.state)):
                counts[(dag_id, state)] = int(count)
    out = [DagStatsResponse(dag_id=dag_id, dag_display_name=name,
                            stats=[DagStatsStateResponse(state=s, count=counts.get((dag_id, s), 0)) for s in RUN_STATES])
           for dag_id, name in names.items()]
    return DagStatsCollectionResponse(dags=out, total_entries=len(out))
