"""``GET /api/v2/dagSources/{dag_id}``: the code of a DAG's file, now or at one of its versions.

Each version's code is kept when it is parsed (``dag_code``, see
:func:`tradewind.persist.queries.dags.version_code`); without ``version_number`` the answer is the
latest version's. A version stored before code was kept answers a 404 saying so (the latest one
falls back to its file on disk). JSON by default, the bare text for ``Accept: text/plain``
(Airflow 3's two answers).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from tradewind.observe.api.errors import not_found
from tradewind.observe.api.routes.common import can, read
from tradewind.observe.api.routes.dag_sources import wants_text
from tradewind.observe.api.v2.common import API_V2, Model
from tradewind.observe.api.v2.dag_versions import dag_v2_or_404
from tradewind.persist.models import DagVersion
from tradewind.persist.queries.dags import CodeNotKept, version_code

router = APIRouter(prefix=API_V2, tags=["DagSource"])


class DAGSourceResponse(Model):
    content: str | None = None
    dag_id: str
    version_number: int | None = None
    dag_display_name: str


def _version(session: Any, dag_id: str, version_number: int | None, latest_id: int | None) -> DagVersion | None:
    """The version asked for (None: the latest); a 404 for a number the DAG never had."""
    if version_number is None:
        return session.get(DagVersion, latest_id) if latest_id is not None else None
    version = session.scalar(select(DagVersion).where(DagVersion.dag_id == dag_id,
                                                      DagVersion.version_number == version_number))
    if version is None:
        raise not_found(f"The source code of Dag {dag_id}, version number {version_number} was not found",
                        title="DAG source not found")
    return version


@router.get("/dagSources/{dag_id}", response_model=DAGSourceResponse, summary="Get the source code of a DAG",
            responses={200: {"content": {"application/json": {}, "text/plain": {"schema": {"type": "string"}}}}})
def get_dag_source(request: Request, dag_id: str, version_number: int | None = None,
                   _user: Any = can("dag_code", "read")) -> Any:
    with read(request) as session:
        dag = dag_v2_or_404(session, dag_id)
        version = _version(session, dag_id, version_number, dag.latest_version_id)
        number = version.version_number if version is not None else None
        name = str((version.snapshot or {}).get("dag_display_name") or dag_id) if version is not None else dag_id
        try:
            content = version_code(session, dag, version)
        except CodeNotKept as exc:
            raise not_found(f"The source code of Dag {dag_id}: {exc}", title="DAG source not found") from None
    if wants_text(request):
        return PlainTextResponse(content)
    return DAGSourceResponse(content=content, dag_id=dag_id, version_number=number, dag_display_name=name)



