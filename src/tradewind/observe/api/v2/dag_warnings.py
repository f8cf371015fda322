"""``GET /api/v2/dagWarnings``: problems of DAGs that parse but will not run as written.

Tradewind keeps no warning table: the warnings are worked out when asked, from the DAGs'
latest snapshots. The one kind found today is Airflow's ``non-existent pool``: a task names a
pool that does not exist (its instances would wait for it forever). ``timestamp`` is when the
DAG was last parsed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from tradewind.observe.api.errors import bad_request
from tradewind.observe.api.pagination import Page
from tradewind.observe.api.routes.common import can, now, read
from tradewind.observe.api.v2.common import API_V2, Model, order_by_query, page_v2
from tradewind.persist.models import DagModel, Pool
from tradewind.persist.queries import dags as dag_queries

router = APIRouter(prefix=API_V2, tags=["DagWarning"])

WarningType = Literal["asset conflict", "non-existent pool", "runtime varying value"]
ORDER_KEYS = ("dag_id", "warning_type", "message", "timestamp")


class DAGWarningResponse(Model):
    dag_id: str
    warning_type: WarningType
    message: str
    timestamp: datetime
    dag_display_name: str


class DAGWarningCollectionResponse(Model):
    dag_warnings: list[DAGWarningResponse]
    total_entries: int


def pool_warnings(session: Any, dag_id: str | None) -> list[DAGWarningResponse]:
    """One ``non-existent pool`` warning per active DAG whose tasks name pools that do not exist."""
    pools = set(session.scalars(select(Pool.pool)))
    stmt = select(DagModel).where(DagModel.is_active.is_(True), DagModel.latest_version_id.is_not(None))
    if dag_id is not None:
        stmt = stmt.where(DagModel.dag_id == dag_id)
    out = []
    for dag in session.scalars(stmt.order_by(DagModel.dag_id)):
        snapshot = dag_queries.snapshot_for_version(session, dag.latest_version_id)
        if snapshot is None:
            continue
        missing = sorted({t.pool for t in snapshot.tasks.values() if t.pool not in pools})
        if missing:
            out.append(DAGWarningResponse(
                dag_id=dag.dag_id, warning_type="non-existent pool",
                message=f"Dag '{dag.dag_id}' references non-existent pools: {missing!r}",
                timestamp=dag.last_parsed_time or now(), dag_display_name=snapshot.dag_display_name or dag.dag_id))
    return out


def _ordered(warnings: list[DAGWarningResponse], order_by: list[str]) -> list[DAGWarningResponse]:
    fields = [f.strip() for value in order_by for f in value.split(",") if f.strip()] or ["dag_id"]
    for field in reversed(fields):  # stable sorts, last key first
        key = field.removeprefix("-")
        if key not in ORDER_KEYS:
            raise bad_request(f"Ordering with '{key}' is disallowed or the attribute does not exist on the model; "
                              f"use one of: {', '.join(ORDER_KEYS)} (prefix '-' for descending)", field="order_by")
        warnings = sorted(warnings, key=lambda w: getattr(w, key), reverse=field.startswith("-"))
    return warnings


@router.get("/dagWarnings", response_model=DAGWarningCollectionResponse, summary="List DAG warnings")
def list_dag_warnings(request: Request, dag_id: str | None = None, warning_type: WarningType | None = None,
                      page: Page = Depends(page_v2), order_by: list[str] = order_by_query("dag_id", ORDER_KEYS),
                      _user: Any = can("dag", "read")) -> DAGWarningCollectionResponse:
    with read(request) as session:
        found = pool_warnings(session, dag_id) if warning_type in (None, "non-existent pool") else []
    found = _ordered(found, order_by)
    return DAGWarningCollectionResponse(dag_warnings=found[page.offset:page.offset + page.limit],
                                        total_entries=len(found))
