"""XCom: small JSON values tasks push and pull, keyed by (dag, run, task, map index, key).

Values are stored as JSON text, so every JSON value — including ``null`` —
round-trips exactly. A value that is not JSON-serialisable raises
:class:`XComValueError` (a ``TypeError``) naming the task and key; the runner
turns it into the task's failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, bindparam, case, cast, delete, func, select
from sqlalchemy.orm import Session

from tradewind.definition.xcom_serde import TYPE_KEY
from tradewind.persist.models import XCom

RETURN_KEY = "return_value"
_MISSING: Any = object()


class XComValueError(TypeError):
    """An XCom value that cannot be stored as JSON."""


def _check_map_index(map_index: Any) -> None:
    # Catches swapped positional arguments (key where map_index belongs) early.
    if isinstance(map_index, bool) or not isinstance(map_index, int):
        raise TypeError(f"map_index must be an int (-1 for unmapped tasks), got {map_index!r}")


def encode_value(value: Any, *, where: str = "XCom value") -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise XComValueError(f"{where} is not JSON-serialisable ({type(value).__name__}): {exc}") from None


def decode_value(text: str) -> Any:
    return json.loads(text)


def xcom_set(
    session: Session,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    key: str,
    value: Any,
    now: datetime,
) -> XCom:
    """Store ``value`` under the key, replacing an earlier value for the same key."""
    _check_map_index(map_index)
    text = encode_value(value, where=f"XCom {key!r} of task {task_id!r} (run {run_id!r}, map index {map_index})")
    row = session.scalars(
        select(XCom).where(
            XCom.dag_id == dag_id,
            XCom.run_id == run_id,
            XCom.task_id == task_id,
            XCom.map_index == map_index,
            XCom.key == key,
        )
    ).first()
    if row is None:
        row = XCom(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, key=key, value=text, timestamp=now)
        session.add(row)
    else:
        row.value = text
        row.timestamp = now
    session.flush()
    return row


def xcom_get(
    session: Session,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int = -1,
    key: str = RETURN_KEY,
    *,
    default: Any = None,
) -> Any:
    """The decoded value, or ``default`` when nothing was pushed under that key.

    Arguments are in the same order as :func:`xcom_set`.
    """
    _check_map_index(map_index)
    text = session.scalar(
        select(XCom.value).where(
            XCom.dag_id == dag_id,
            XCom.run_id == run_id,
            XCom.task_id == task_id,
            XCom.map_index == map_index,
            XCom.key == key,
        )
    )
    return default if text is None else decode_value(text)


def xcom_get_many(
    session: Session,
    dag_id: str,
    run_id: str,
    task_ids: Sequence[str],
    key: str = RETURN_KEY,
    map_indexes: int | Iterable[int] | None = None,
) -> dict[tuple[str, int], Any]:
    """Values of several tasks as ``{(task_id, map_index): value}``.

    Ordered by the position of the task in ``task_ids``, then by map index.
    ``map_indexes`` None means every map index; an int or iterable selects some.
    Missing entries are simply absent.
    """
    task_ids = list(task_ids)
    if not task_ids:
        return {}
    query = select(XCom.task_id, XCom.map_index, XCom.value).where(
        XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.task_id.in_(task_ids), XCom.key == key
    )
    if map_indexes is not None:
        wanted = [map_indexes] if isinstance(map_indexes, int) else list(map_indexes)
        query = query.where(XCom.map_index.in_(wanted))
    position = {tid: i for i, tid in enumerate(task_ids)}
    rows = sorted(session.execute(query), key=lambda r: (position[r.task_id], r.map_index))
    return {(r.task_id, r.map_index): decode_value(r.value) for r in rows}


def xcom_clear(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int | None = None) -> int:
    """Delete a task's XComs in a run (all map indexes unless one is given); returns how many."""
    params = {"p_dag_id": dag_id, "p_run_id": run_id, "p_task_id": task_id, "p_map_index": map_index}
    result = session.execute(_clear_stmt(map_index is not None), params)
    return int(result.rowcount or 0)


def delete_xcom(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int, key: str) -> int:
    """Delete one XCom entry (the API's delete); returns how many rows went (0 when there was none)."""
    _check_map_index(map_index)
    result = session.execute(delete(XCom).where(XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.task_id == task_id,
                                                XCom.map_index == map_index, XCom.key == key))
    return int(result.rowcount or 0)


@cache
def _clear_stmt(one_map_index: bool) -> Any:
    """Built once: every try clears its XComs when it starts (a Core DELETE on the table)."""
    table = XCom.__table__
    stmt = delete(table).where(table.c.dag_id == bindparam("p_dag_id"), table.c.run_id == bindparam("p_run_id"),
                               table.c.task_id == bindparam("p_task_id"))
    if one_map_index:
        stmt = stmt.where(table.c.map_index == bindparam("p_map_index"))
    return stmt


def xcom_list(
    session: Session,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    key: str | None = None,
    map_index: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[XCom]:
    """XCom rows matching the filters, ordered by dag, run, task, map index, key.

    ``row.value`` is JSON text; use :func:`decode_value` for the Python value.
    """
    query = select(XCom)
    for column, wanted in ((XCom.dag_id, dag_id), (XCom.run_id, run_id), (XCom.task_id, task_id), (XCom.key, key),
                           (XCom.map_index, map_index)):
        if wanted is not None:
            query = query.where(column == wanted)
    query = query.order_by(XCom.dag_id, XCom.run_id, XCom.task_id, XCom.map_index, XCom.key).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


# ------------------------------------------------------------------ counting without loading
def xcom_count(session: Session, dag_id: str, run_id: str, task_id: str, key: str) -> int:
    """How many instances of the task (every map index) pushed ``key`` in the run."""
    return int(session.scalar(select(func.count()).select_from(XCom).where(
        XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.task_id == task_id, XCom.key == key)) or 0)


def xcom_items(session: Session, dag_id: str, run_id: str, task_id: str, key: str) -> tuple[int | None, Any] | None:
    """The unmapped instance's value of ``key``: ``(items, None)`` for a pushed list or dict,
    counted by the database where it can (the value is not loaded); ``(None, value)`` for
    anything else (decoded: a scalar, or a typed envelope such as a tuple); None when nothing
    was pushed."""
    where = (XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.task_id == task_id,
             XCom.map_index == -1, XCom.key == key)
    counted = _json_count_columns(session)
    if counted is not None:
        row = session.execute(select(*counted).where(*where)).first()
        if row is None:
            return None
        kind, length, is_envelope = row
        if kind in ("array", "object") and not is_envelope:
            return int(length), None
    text = session.scalar(select(XCom.value).where(*where))
    return None if text is None else (None, decode_value(text))


def _json_count_columns(session: Session) -> tuple[Any, Any, Any] | None:
    """SQL for (JSON type, items of an array or object, is a typed envelope) of ``xcom.value`` on
    this database; None where it has no JSON functions we use (the value is decoded instead)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        value = XCom.value
        kind = func.json_type(value)
        each = select(func.count()).select_from(func.json_each(value).table_valued("key")).scalar_subquery()
        is_envelope = func.json_type(value, f"$.{TYPE_KEY}").is_not(None)
    elif dialect == "postgresql":
        value = cast(XCom.value, JSON)
        kind = func.json_typeof(value)
        keys = select(func.count()).select_from(func.json_object_keys(value).table_valued("key")).scalar_subquery()
        each = case((kind == "array", func.json_array_length(value)), (kind == "object", keys), else_=0)
        is_envelope = case((kind == "object", value.op("->")(TYPE_KEY).is_not(None)), else_=False)
    else:
        return None
    return kind, each, is_envelope
