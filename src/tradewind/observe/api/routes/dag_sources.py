"""``GET /api/v1/dagSources/{dag_id}``: the text of a DAG's file.

Only the file the parser recorded for a known DAG is read — the path never comes from the
request, so nothing else on disk can be reached. The DAG id doubles as Airflow 2's
``file_token`` (our DAG objects carry ``file_token == dag_id``). JSON by default
(``{"content", "dag_id", "version_number"}``), the bare text for ``Accept: text/plain``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.routes.common import API, can, dag_or_404, read
from tradewind.persist.models import DagVersion

router = APIRouter(prefix=API, tags=["DagSource"])


def wants_text(request: Request) -> bool:
    """True when the client prefers ``text/plain`` to JSON."""
    accept = request.headers.get("accept", "")
    return "text/plain" in accept and "application/json" not in accept


@router.get("/dagSources/{dag_id}", summary="Get the source code of a DAG's file",
            responses=m.text_or_json(m.DagSourceOut))
def get_dag_source(request: Request, dag_id: str, _user: Any = can("dag_code", "read")) -> Response:
    with read(request) as session:
        dag = dag_or_404(session, dag_id)
        fileloc = dag.fileloc
        version = session.get(DagVersion, dag.latest_version_id) if dag.latest_version_id else None
        version_number = version.version_number if version else None
    try:
        with open(fileloc, encoding="utf-8", errors="replace") as handle:
            content = handle.read()
    except OSError:
        raise not_found(f"the file of DAG '{dag_id}' ({fileloc}) cannot be read any more",
                        title="DAG source not found") from None
    if wants_text(request):
        return PlainTextResponse(content)
    return JSONResponse({"content": content, "dag_id": dag_id, "version_number": version_number})
