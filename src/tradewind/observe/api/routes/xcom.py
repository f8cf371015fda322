"""XCom entries of a task instance: list and get by key (``~`` for any DAG, run or task)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from tradewind.definition.masking import mask_value, redact
from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import not_found
from tradewind.observe.api.pagination import Page, page_params, paginate_rows
from tradewind.observe.api.routes.common import ALL, API, can, iso, read
from tradewind.persist.models import DagRun, XCom
from tradewind.persist.queries.xcom import decode_value, encode_value

router = APIRouter(prefix=API, tags=["XCom"])

XCOM_PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"


def _stmt(dag_id: str, dag_run_id: str, task_id: str, key: str | None, map_index: int | None) -> Any:
    stmt = select(XCom, DagRun.logical_date).join(
        DagRun, (DagRun.dag_id == XCom.dag_id) & (DagRun.run_id == XCom.run_id), isouter=True)
    for column, wanted in ((XCom.dag_id, dag_id), (XCom.run_id, dag_run_id), (XCom.task_id, task_id)):
        if wanted != ALL:
            stmt = stmt.where(column == wanted)
    if key is not None:
        stmt = stmt.where(XCom.key == key)
    if map_index is not None:
        stmt = stmt.where(XCom.map_index == map_index)
    return stmt


def _entry(row: XCom, logical_date: Any) -> dict[str, Any]:
    return {"key": row.key, "timestamp": iso(row.timestamp), "logical_date": iso(logical_date),
            "execution_date": iso(logical_date), "map_index": row.map_index, "task_id": row.task_id,
            "dag_id": row.dag_id, "dag_run_id": row.run_id}


@router.get(XCOM_PATH, summary="List XCom entries ('~' for any DAG, run or task)", response_model=m.XComCollection)
def list_xcom_entries(
    request: Request,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    page: Page = Depends(page_params),
    map_index: int | None = Query(None),
    xcom_key: str | None = Query(None),
    _user: Any = can("xcom", "read"),
) -> dict[str, Any]:
    stmt = _stmt(dag_id, dag_run_id, task_id, xcom_key, map_index).order_by(
        XCom.dag_id, XCom.run_id, XCom.task_id, XCom.map_index, XCom.key)
    with read(request) as session:
        rows, total = paginate_rows(session, stmt, page)
    return {"xcom_entries": [_entry(x, ld) for x, ld in rows], "total_entries": total}


@router.get(XCOM_PATH + "/{xcom_key}", summary="Get one XCom entry with its value",
            response_model=m.XComEntryWithValue)
def get_xcom_entry(
    request: Request,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    xcom_key: str,
    map_index: int = Query(-1),
    deserialize: bool = Query(False, description="Return the value itself instead of its stored JSON text."),
    stringify: bool = Query(True, description="With deserialize: the value as a string (Airflow's default)."),
    _user: Any = can("xcom", "read"),
) -> dict[str, Any]:
    with read(request) as session:
        found = session.execute(_stmt(dag_id, dag_run_id, task_id, xcom_key, map_index).limit(1)).first()
    if found is None:
        raise not_found(f"XCom entry '{xcom_key}' of task '{task_id}' (map index {map_index}) in run "
                        f"'{dag_run_id}' of DAG '{dag_id}' not found", title="XCom entry not found")
    row, logical_date = found
    decoded = redact(decode_value(row.value))  # secret-looking keys inside the value too
    value: Any = (str(decoded) if stringify else decoded) if deserialize else encode_value(decoded)
    value = mask_value(row.key, value)
    return {**_entry(row, logical_date), "value": value}
