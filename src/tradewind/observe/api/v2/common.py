"""What every ``/api/v2`` resource module shares: the prefix, Airflow 3's list parameters
(``limit``/``offset``, multi-field ``order_by``, ``*_pattern`` and ``*_gte/_gt/_lte/_lt`` filters)
and its collection bodies.

Sessions, lookups that 404, audit and waking the scheduler are those of ``/api/v1``
(:mod:`tradewind.observe.api.routes.common`): both versions read the same rows the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, false, or_

from tradewind.observe.api.errors import bad_request
from tradewind.observe.api.pagination import Page

API_V2 = "/api/v2"


class Model(BaseModel):
    """Base of v2 bodies: attributes of ORM rows read directly; unknown request fields refused
    only where a module says so (Airflow 3 ignores them in most bodies)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


def page_v2(
    request: Request,
    limit: int | None = Query(None, ge=0, description="Most items to return (default [api] fallback_page_limit, "
                                                       "at most [api] maximum_page_limit)."),
    offset: int = Query(0, ge=0, description="Number of items to skip before the first returned."),
) -> Page:
    """FastAPI dependency: Airflow 3's ``limit``/``offset`` (``limit=0`` answers only ``total_entries``)."""
    config = request.app.state.config
    maximum = config.getint("api", "maximum_page_limit")
    wanted = config.getint("api", "fallback_page_limit") if limit is None else limit
    return Page(limit=max(0, min(wanted, maximum)), offset=offset)


def order_by_query(default: str, allowed: Sequence[str]) -> Any:
    """A ``order_by`` query parameter (repeatable: several fields, ``-`` in front for descending)."""
    return Query([default], description="Attributes to order by, several allowed; prefix '-' for descending. "
                                        f"Supported: {', '.join(allowed)}")


def apply_orders(stmt: Select[Any], order_by: Sequence[str] | None, columns: Mapping[str, Any], default: str,
                 tiebreak: Sequence[Any] = ()) -> Select[Any]:
    """``stmt`` ordered by every field of ``order_by`` in turn (keys of ``columns``), then ``tiebreak``.
    An unknown field is a 400 naming the allowed ones."""
    clauses = []
    fields = [f for value in (order_by or [default]) for f in str(value).split(",") if f.strip()] or [default]
    for raw in fields:
        raw = raw.strip()
        descending = raw.startswith("-")
        name = raw[1:] if descending else raw
        column = columns.get(name)
        if column is None:
            raise bad_request(f"Ordering with '{name}' is disallowed or the attribute does not exist on the model; "
                              f"use one of: {', '.join(sorted(columns))} (prefix '-' for descending)",
                              field="order_by")
        clauses.append(column.desc() if descending else column.asc())
    return stmt.order_by(*clauses, *tiebreak)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_pattern(stmt: Select[Any], column: Any, pattern: str | None) -> Select[Any]:
    """Airflow 3's ``*_pattern``: case-insensitive substring (``%``/``_`` wildcards as SQL's),
    ``|`` between alternatives, ``~`` for everything."""
    if pattern is None or pattern == "" or pattern == "~":
        return stmt
    terms = [t for t in pattern.split("|") if t != ""]
    if not terms:
        return stmt
    if "~" in terms:
        return stmt
    return stmt.where(or_(*(column.ilike(f"%{t}%") for t in terms)))


def filter_prefix(stmt: Select[Any], column: Any, pattern: str | None) -> Select[Any]:
    """Airflow 3's ``*_prefix_pattern``: the value starts with the term (case-sensitive, ``%``
    and ``_`` literal, trailing non-alphanumerics dropped), ``|`` between alternatives."""
    if pattern is None or pattern == "" or pattern == "~":
        return stmt
    terms = []
    for term in pattern.split("|"):
        term = term.rstrip()
        while term and not term[-1].isalnum():
            term = term[:-1]
        if term == "~":
            return stmt
        if term:
            terms.append(term)
    if not terms:
        return stmt.where(false())
    return stmt.where(or_(*(column.like(f"{_like_escape(t)}%", escape="\\") for t in terms)))


def filter_range(stmt: Select[Any], column: Any, *, gte: datetime | float | None = None,
                 gt: datetime | float | None = None, lte: datetime | float | None = None,
                 lt: datetime | float | None = None) -> Select[Any]:
    """Airflow 3's ``<field>_gte``/``_gt``/``_lte``/``_lt`` bounds on one column."""
    if gte is not None:
        stmt = stmt.where(column >= gte)
    if gt is not None:
        stmt = stmt.where(column > gt)
    if lte is not None:
        stmt = stmt.where(column <= lte)
    if lt is not None:
        stmt = stmt.where(column < lt)
    return stmt


def filter_in(stmt: Select[Any], column: Any, values: Sequence[Any] | None) -> Select[Any]:
    """Only rows whose ``column`` is one of ``values`` (no filter when none are given)."""
    if not values:
        return stmt
    return stmt.where(column.in_(list(values)))
