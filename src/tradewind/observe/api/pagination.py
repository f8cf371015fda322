"""Pagination, ordering and common filters of the REST API's list endpoints.

Lists take Airflow's ``limit`` (default ``[api] fallback_page_limit``, at most ``[api]
maximum_page_limit``, both 100 by default) and ``offset`` and answer with ``total_entries``.
:func:`paginate` runs two queries — a ``COUNT`` and the page with ``LIMIT``/``OFFSET`` — so a
listing never loads a whole table. ``order_by`` takes one field name, ``-`` in front for
descending (Airflow's convention); unknown names are a 400 naming the allowed ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Query, Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import bad_request


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page_params(
    request: Request,
    limit: int | None = Query(None, ge=1, description="Most items to return (at most [api] maximum_page_limit)."),
    offset: int = Query(0, ge=0, description="Number of items to skip before the first returned."),
) -> Page:
    """FastAPI dependency: the page asked for, capped at ``[api] maximum_page_limit``."""
    config = request.app.state.config
    maximum = config.getint("api", "maximum_page_limit")
    fallback = config.getint("api", "fallback_page_limit")
    wanted = fallback if limit is None else limit
    return Page(limit=max(1, min(wanted, maximum)), offset=offset)


def apply_order(stmt: Select[Any], order_by: str | None, columns: Mapping[str, Any], default: str,
                tiebreak: Sequence[Any] = ()) -> Select[Any]:
    """``stmt`` ordered by ``order_by`` (a key of ``columns``, ``-`` prefix = descending), then ``tiebreak``."""
    raw = (order_by or default).strip()
    descending = raw.startswith("-")
    name = raw[1:] if descending else raw
    column = columns.get(name)
    if column is None:
        allowed = ", ".join(sorted(columns))
        raise bad_request(f"order_by {raw!r} is not allowed; use one of: {allowed} (prefix '-' for descending)",
                          field="order_by")
    return stmt.order_by(column.desc() if descending else column.asc(), *tiebreak)


def paginate(session: Session, stmt: Select[Any], page: Page) -> tuple[list[Any], int]:
    """(the page's rows, total number of matching rows): a COUNT and a LIMIT/OFFSET query."""
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = int(session.scalar(count_stmt) or 0)
    if total == 0 or page.offset >= total:
        return [], total
    rows = list(session.scalars(stmt.limit(page.limit).offset(page.offset)))
    return rows, total


def paginate_rows(session: Session, stmt: Select[Any], page: Page) -> tuple[list[Any], int]:
    """As :func:`paginate` for statements of several columns (rows, not scalars)."""
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = int(session.scalar(count_stmt) or 0)
    if total == 0 or page.offset >= total:
        return [], total
    return list(session.execute(stmt.limit(page.limit).offset(page.offset)).all()), total
