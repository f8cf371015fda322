"""``/api/v2/dags/{dag_id}/dagVersions``: the stored versions of a DAG (one per distinct snapshot).

Airflow 3 identifies a version by a UUID; ours have integer ids, so :func:`version_uuid` maps
an id to the UUID whose integer value it is (``00000000-0000-0000-0000-000000000007`` for 7),
the same for every resource that names a version (runs, task instances, DAG details). All
DAGs come from the configured DAGs folder: Airflow 3 calls that bundle ``dags-folder`` and it
has no versions of its own (``bundle_version`` is null).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import false, select
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import can, read
from tradewind.observe.api.v2.common import API_V2, BUNDLE_NAME, Model, apply_orders, order_by_query, page_v2
from tradewind.persist.models import DagModel, DagVersion

router = APIRouter(prefix=API_V2, tags=["DagVersion"])


class DagVersionResponse(Model):
    """One stored version of a DAG (Airflow 3's ``DagVersionResponse``)."""

    id: UUID
    version_number: int
    dag_id: str
    bundle_name: str | None = None
    bundle_version: str | None = None
    created_at: datetime
    dag_display_name: str
    bundle_url: str | None = None


class DAGVersionCollectionResponse(Model):
    dag_versions: list[DagVersionResponse]
    total_entries: int


def version_uuid(version_id: int) -> UUID:
    """The UUID Airflow 3 clients see for our integer version id (its integer value)."""
    return UUID(int=version_id)


def version_response(version: DagVersion, display_name: str | None = None) -> DagVersionResponse:
    """A version row as Airflow 3's body; the display name is the one that version was parsed with
    (``display_name`` when the caller read it already, else from the row's snapshot)."""
    if display_name is None:
        snapshot: dict[str, Any] = version.snapshot or {}
        display_name = snapshot.get("dag_display_name")
    return DagVersionResponse(
        id=version_uuid(version.id), version_number=version.version_number, dag_id=version.dag_id,
        bundle_name=BUNDLE_NAME, bundle_version=None, created_at=version.created_at,
        dag_display_name=str(display_name or version.dag_id), bundle_url=None)


def version_responses_by_id(session: Session, version_ids: Iterable[int | None]) -> dict[int, DagVersionResponse]:
    """version id -> body, for many versions in two small queries: rows without their snapshot
    JSON, and display names read once per version (lists of runs and instances carry them)."""
    from tradewind.persist.queries import dags as dag_queries

    versions = dag_queries.versions_without_snapshots(session, version_ids)
    names = dag_queries.version_display_names(session, [(v.id, v.snapshot_hash) for v in versions])
    return {v.id: version_response(v, names.get(v.id) or v.dag_id) for v in versions}


def dag_v2_or_404(session: Session, dag_id: str) -> DagModel:
    """The DAG row, else Airflow 3's 404 (``Dag with id x was not found``)."""
    dag = session.get(DagModel, dag_id)
    if dag is None:
        raise not_found(f"Dag with id {dag_id} was not found", title="Dag not found")
    return dag


#: Every version has the same bundle (and no bundle version): ordering by them keeps the order.
_SAME_FOR_ALL = DagVersion.id * 0
VERSION_ORDER = {"id": DagVersion.id, "version_number": DagVersion.version_number,
                 "bundle_name": _SAME_FOR_ALL, "bundle_version": _SAME_FOR_ALL}


@router.get("/dags/{dag_id}/dagVersions", response_model=DAGVersionCollectionResponse,
            summary="List a DAG's versions (dag_id '~': every DAG's)")
def get_dag_versions(
    request: Request,
    dag_id: str,
    page: Page = Depends(page_v2),
    version_number: int | None = Query(None, description="Only this version number."),
    bundle_name: str | None = Query(None, description="Only versions of this bundle ('dags-folder')."),
    bundle_version: str | None = Query(None, description="Only versions of this bundle version (none have one)."),
    order_by: list[str] = order_by_query("id", list(VERSION_ORDER)),
    _user: Any = can("dag", "read"),
) -> DAGVersionCollectionResponse:
    stmt = select(DagVersion)
    if dag_id != "~":
        stmt = stmt.where(DagVersion.dag_id == dag_id)
    if version_number is not None:
        stmt = stmt.where(DagVersion.version_number == version_number)
    if (bundle_name is not None and bundle_name != BUNDLE_NAME) or bundle_version is not None:
        stmt = stmt.where(false())
    stmt = apply_orders(stmt, order_by, VERSION_ORDER, "id", tiebreak=(DagVersion.id,))
    with read(request) as session:
        if dag_id != "~":
            dag_v2_or_404(session, dag_id)
        rows, total = paginate(session, stmt, page)
        return DAGVersionCollectionResponse(dag_versions=[version_response(v) for v in rows], total_entries=total)


@router.get("/dags/{dag_id}/dagVersions/{version_number}", response_model=DagVersionResponse,
            summary="Get one version of a DAG")
def get_dag_version(request: Request, dag_id: str, version_number: int = Path(...),
                    _user: Any = can("dag", "read")) -> DagVersionResponse:
    with read(request) as session:
        version = session.scalar(select(DagVersion).where(DagVersion.dag_id == dag_id,
                                                          DagVersion.version_number == version_number))
        if version is None:
            raise not_found(f"The DagVersion with dag_id: `{dag_id}` and version_number: `{version_number}` "
                            "was not found", title="DagVersion not found")
        return version_response(version)
