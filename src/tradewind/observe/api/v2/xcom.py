"""XCom entries under ``/api/v2`` (Airflow 3): list (``~`` for any DAG, run or task, with
pattern, range and multi-field order filters), get (stored JSON text, or the value itself with
``deserialize``, as a string with ``stringify``), create, update and delete one entry.

Values are stored as JSON through :mod:`tradewind.persist.queries.xcom`. Read back, values
under secret-looking keys (the entry's key or keys inside the value) are ``***``
(:mod:`tradewind.definition.masking`), as in ``/api/v1``. Writes are audited
(``xcom.create``/``xcom.edit``/``xcom.delete``) and need the Op role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tradewind.definition.masking import mask_value, redact
from tradewind.observe.api.errors import ApiError, conflict, not_found
from tradewind.observe.api.pagination import Page, paginate_rows
from tradewind.observe.api.routes.common import ALL, audit, can, now, read, run_or_404, snapshot_or_404, write
from tradewind.observe.api.v2.common import (
    API_V2,
    Model,
    apply_orders,
    dag_display_names,
    filter_name,
    filter_range,
    page_v2,
    task_display_names,
)
from tradewind.persist.models import DagModel, DagRun, DagVersion, XCom
from tradewind.persist.queries.xcom import (
    XComValueError,
    decode_value,
    delete_xcom,
    encode_value,
    xcom_set,
)

router = APIRouter(prefix=API_V2, tags=["XCom"])

XCOM_PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"
ORDER = {"key": XCom.key, "dag_id": XCom.dag_id, "run_id": XCom.run_id, "task_id": XCom.task_id,
         "map_index": XCom.map_index, "timestamp": XCom.timestamp, "run_after": DagRun.run_after}
DEFAULT_ORDER = ["dag_id", "task_id", "run_id", "map_index", "key"]


class XComResponse(Model):
    key: str
    timestamp: datetime
    logical_date: datetime | None = None
    map_index: int
    task_id: str
    dag_id: str
    run_id: str
    dag_display_name: str
    task_display_name: str
    run_after: datetime


class XComResponseNative(XComResponse):
    value: Any


class XComResponseString(XComResponse):
    value: str | None = None


class XComCollectionResponse(Model):
    xcom_entries: list[XComResponse]
    total_entries: int


class XComCreateBody(Model):
    model_config = ConfigDict(extra="forbid")

    key: str
    value: Any
    map_index: int = -1


class XComUpdateBody(Model):
    model_config = ConfigDict(extra="forbid")

    value: Any
    map_index: int = -1


def _display_name_column() -> Any:
    return func.coalesce(DagVersion.snapshot["dag_display_name"].as_string(), XCom.dag_id)


def _base(dag_id: str, dag_run_id: str, task_id: str) -> Select[Any]:
    """XCom rows with their run's dates; ``~`` in a path segment means any."""
    stmt = select(XCom, DagRun.logical_date, DagRun.run_after).join(
        DagRun, (DagRun.dag_id == XCom.dag_id) & (DagRun.run_id == XCom.run_id))
    for column, wanted in ((XCom.dag_id, dag_id), (XCom.run_id, dag_run_id), (XCom.task_id, task_id)):
        if wanted != ALL:
            stmt = stmt.where(column == wanted)
    return stmt


def _entries(session: Session, rows: list[Any], value: Any = None) -> list[dict[str, Any]]:
    """The response fields of (XCom, logical_date, run_after) rows, with their display names."""
    dag_ids = [r[0].dag_id for r in rows]
    dag_names, task_names = dag_display_names(session, dag_ids), task_display_names(session, dag_ids)
    return [{"key": x.key, "timestamp": x.timestamp, "logical_date": logical_date, "map_index": x.map_index,
             "task_id": x.task_id, "dag_id": x.dag_id, "run_id": x.run_id,
             "dag_display_name": dag_names.get(x.dag_id, x.dag_id),
             "task_display_name": task_names.get((x.dag_id, x.task_id), x.task_id), "run_after": run_after}
            for x, logical_date, run_after in rows]


def _shown(key: str, value: Any) -> Any:
    """The value as the API shows it: secret-looking keys inside it and the entry's own key masked."""
    return mask_value(key, redact(value))


def _one_row(session: Session, dag_id: str, run_id: str, task_id: str, key: str, map_index: int) -> Any:
    stmt = _base(dag_id, run_id, task_id).where(XCom.key == key, XCom.map_index == map_index).limit(1)
    return session.execute(stmt).first()


def _missing(key: str, map_index: int) -> ApiError:
    return not_found(f"The XCom with key: `{key}` with mapped index: {map_index} was not found",
                     title="XCom entry not found")


def _native(session: Session, found: Any) -> XComResponseNative:
    entry = _entries(session, [found])[0]
    return XComResponseNative(**entry, value=_shown(found[0].key, decode_value(found[0].value)))


def _check_task(session: Session, dag_id: str, run_id: str, task_id: str) -> None:
    """404 unless the DAG, its task and the run exist (Airflow 3 checks all three before a write)."""
    _, snapshot = snapshot_or_404(session, dag_id)
    if task_id not in snapshot.tasks:
        raise not_found(f"Task with ID: `{task_id}` not found in DAG: `{dag_id}`", title="Task not found")
    run_or_404(session, dag_id, run_id)


def _bad_value(exc: XComValueError) -> ApiError:
    return ApiError(400, str(exc), field="value")


@router.get(XCOM_PATH, response_model=XComCollectionResponse, summary="Get Xcom Entries")
def get_xcom_entries(
    request: Request,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    xcom_key: str | None = Query(None, description="Only entries with exactly this key."),
    map_index: int | None = Query(None, ge=-1, description="Only entries of this map index."),
    page: Page = Depends(page_v2),
    xcom_key_pattern: str | None = Query(None), xcom_key_prefix_pattern: str | None = Query(None),
    dag_display_name_pattern: str | None = Query(None), dag_display_name_prefix_pattern: str | None = Query(None),
    run_id_pattern: str | None = Query(None), run_id_prefix_pattern: str | None = Query(None),
    task_id_pattern: str | None = Query(None), task_id_prefix_pattern: str | None = Query(None),
    map_index_filter: int | None = Query(None),
    logical_date_gte: datetime | None = None, logical_date_gt: datetime | None = None,
    logical_date_lte: datetime | None = None, logical_date_lt: datetime | None = None,
    run_after_gte: datetime | None = None, run_after_gt: datetime | None = None,
    run_after_lte: datetime | None = None, run_after_lt: datetime | None = None,
    order_by: list[str] = Query(DEFAULT_ORDER, description="Attributes to order by, several allowed; prefix '-' "
                                                           f"for descending. Supported: {', '.join(ORDER)}"),
    _user: Any = can("xcom", "read"),
) -> XComCollectionResponse:
    stmt = _base(dag_id, dag_run_id, task_id)
    if xcom_key is not None:
        stmt = stmt.where(XCom.key == xcom_key)
    for wanted in (map_index, map_index_filter):
        if wanted is not None:
            stmt = stmt.where(XCom.map_index == wanted)
    for column, pattern, prefix in ((XCom.key, xcom_key_pattern, xcom_key_prefix_pattern),
                                    (XCom.run_id, run_id_pattern, run_id_prefix_pattern),
                                    (XCom.task_id, task_id_pattern, task_id_prefix_pattern)):
        stmt = filter_name(stmt, column, pattern, prefix)
    if dag_display_name_pattern or dag_display_name_prefix_pattern:
        stmt = stmt.join(DagModel, DagModel.dag_id == XCom.dag_id, isouter=True).join(
            DagVersion, DagVersion.id == DagModel.latest_version_id, isouter=True)
        stmt = filter_name(stmt, _display_name_column(), dag_display_name_pattern, dag_display_name_prefix_pattern)
    stmt = filter_range(stmt, DagRun.logical_date, gte=logical_date_gte, gt=logical_date_gt, lte=logical_date_lte,
                        lt=logical_date_lt)
    stmt = filter_range(stmt, DagRun.run_after, gte=run_after_gte, gt=run_after_gt, lte=run_after_lte,
                        lt=run_after_lt)
    stmt = apply_orders(stmt, order_by, ORDER, "dag_id", tiebreak=(XCom.id,))
    with read(request) as session:
        rows, total = paginate_rows(session, stmt, page)
        return XComCollectionResponse(xcom_entries=[XComResponse(**e) for e in _entries(session, rows)],
                                      total_entries=total)


@router.get(XCOM_PATH + "/{xcom_key}", response_model=XComResponseNative | XComResponseString,
            summary="Get Xcom Entry")
def get_xcom_entry(
    request: Request,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    xcom_key: str,
    map_index: int = Query(-1, ge=-1),
    deserialize: bool = Query(False, description="The value itself instead of its stored JSON text."),
    stringify: bool = Query(False, description="With deserialize: the value as a string."),
    _user: Any = can("xcom", "read"),
) -> XComResponseNative | XComResponseString:
    with read(request) as session:
        found = _one_row(session, dag_id, dag_run_id, task_id, xcom_key, map_index)
        if found is None:
            raise not_found(f"XCom entry with key: `{xcom_key}` not found", title="XCom entry not found")
        entry = _entries(session, [found])[0]
    shown = _shown(xcom_key, decode_value(found[0].value))
    if not deserialize:
        return XComResponseString(**entry, value=encode_value(shown))
    if stringify:
        return XComResponseString(**entry, value=str(shown))
    return XComResponseNative(**entry, value=shown)


@router.post(XCOM_PATH, status_code=201, response_model=XComResponseNative, summary="Create Xcom Entry")
def create_xcom_entry(request: Request, dag_id: str, dag_run_id: str, task_id: str, body: XComCreateBody,
                      principal: Any = can("xcom", "create")) -> XComResponseNative:
    with write(request) as session:
        _check_task(session, dag_id, dag_run_id, task_id)
        if _one_row(session, dag_id, dag_run_id, task_id, body.key, body.map_index) is not None:
            raise conflict(f"The XCom with key: `{body.key}` with mapped index: {body.map_index} already exist.",
                           title="XCom entry already exists")
        try:
            xcom_set(session, dag_id, dag_run_id, task_id, body.map_index, body.key, body.value, now())
        except XComValueError as exc:
            raise _bad_value(exc) from None
        audit(session, principal, "xcom.create", dag_id=dag_id, run_id=dag_run_id, task_id=task_id,
              map_index=body.map_index, extra={"key": body.key})
        return _native(session, _one_row(session, dag_id, dag_run_id, task_id, body.key, body.map_index))


@router.patch(XCOM_PATH + "/{xcom_key}", response_model=XComResponseNative, summary="Update Xcom Entry")
def update_xcom_entry(request: Request, dag_id: str, dag_run_id: str, task_id: str, xcom_key: str,
                      body: XComUpdateBody, principal: Any = can("xcom", "edit")) -> XComResponseNative:
    with write(request) as session:
        if _one_row(session, dag_id, dag_run_id, task_id, xcom_key, body.map_index) is None:
            raise _missing(xcom_key, body.map_index)
        try:
            xcom_set(session, dag_id, dag_run_id, task_id, body.map_index, xcom_key, body.value, now())
        except XComValueError as exc:
            raise _bad_value(exc) from None
        audit(session, principal, "xcom.edit", dag_id=dag_id, run_id=dag_run_id, task_id=task_id,
              map_index=body.map_index, extra={"key": xcom_key})
        return _native(session, _one_row(session, dag_id, dag_run_id, task_id, xcom_key, body.map_index))


@router.delete(XCOM_PATH + "/{xcom_key}", status_code=204, response_class=Response, summary="Delete Xcom Entry")
def delete_xcom_entry(request: Request, dag_id: str, dag_run_id: str, task_id: str, xcom_key: str,
                      map_index: int = Query(-1, ge=-1), principal: Any = can("xcom", "delete")) -> Response:
    with write(request) as session:
        if not delete_xcom(session, dag_id, dag_run_id, task_id, map_index, xcom_key):
            raise _missing(xcom_key, map_index)
        audit(session, principal, "xcom.delete", dag_id=dag_id, run_id=dag_run_id, task_id=task_id,
              map_index=map_index, extra={"key": xcom_key})
    return Response(status_code=204)
