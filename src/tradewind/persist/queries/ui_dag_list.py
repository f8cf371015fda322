"""Queries of the UI's DAG list: one page of DAGs with their latest runs, tab counts, known tags.

The DAG list must stay fast with many DAGs and many runs, so:

* a page is a ``COUNT`` plus a ``LIMIT``/``OFFSET`` query (never the whole table);
* searching the display name reads it from the DAG's latest version (a join on its primary key);
* the last runs of every DAG on the page come from ONE statement — a ``UNION ALL`` of one
  ``ORDER BY logical_date DESC LIMIT n`` branch per DAG, each served by the
  ``(dag_id, logical_date)`` index of ``dag_run`` — instead of one request per DAG.

None of these functions writes; the caller owns the session.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, case, cast, func, or_, select, union_all
from sqlalchemy.orm import Session

from tradewind.persist.models import DagModel, DagRun, DagVersion, ImportError_

#: Most DAGs on one page; the last-runs statement has one UNION branch per DAG (SQLite allows 500).
MAX_PAGE = 100
#: Most recent runs shown per DAG.
MAX_RECENT_RUNS = 25

#: Sort keys of the list -> a column or expression. ``next_dagrun`` sorts by when the next run
#: starts (its run-after time, what the "Next run" column shows); ``last_run`` is the newest run's
#: logical date (a correlated MAX over the ``(dag_id, logical_date)`` index).
_LAST_RUN = (select(func.max(DagRun.logical_date)).where(DagRun.dag_id == DagModel.dag_id)
             .correlate(DagModel).scalar_subquery())
SORT_KEYS: dict[str, Any] = {
    "dag_id": DagModel.dag_id,
    "next_dagrun": DagModel.next_dagrun_create_after,
    "last_run": _LAST_RUN,
    "owners": DagModel.owners,
    "last_parsed_time": DagModel.last_parsed_time,
}


class DagListError(ValueError):
    """A filter or sort of the DAG list is not one we know; the message names the allowed ones."""


@dataclass(frozen=True)
class DagListFilter:
    """What the user narrowed the list to. ``paused``: None = all, False = active, True = paused."""

    search: str = ""
    tags: tuple[str, ...] = ()
    paused: bool | None = None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _display_name() -> Any:
    return DagVersion.snapshot["dag_display_name"].as_string()


def _filtered(stmt: Select[Any], flt: DagListFilter, *, with_paused: bool = True) -> Select[Any]:
    """Apply the search, tag and paused filters to a statement over ``dag`` (active DAGs only)."""
    stmt = stmt.where(DagModel.is_active.is_(True))
    search = flt.search.strip()
    if search:
        pattern = f"%{_like_escape(search.lower())}%"
        stmt = stmt.outerjoin(DagVersion, DagVersion.id == DagModel.latest_version_id).where(or_(
            func.lower(DagModel.dag_id).like(pattern, escape="\\"),
            func.lower(_display_name()).like(pattern, escape="\\"),
        ))
    if flt.tags:
        # Tags are stored as a JSON list: match each tag's exact JSON encoding in the text (portable).
        tag_text = cast(DagModel.tags, Text)
        stmt = stmt.where(or_(*(tag_text.like(f"%{_like_escape(json.dumps(t))}%", escape="\\") for t in flt.tags)))
    if with_paused and flt.paused is not None:
        stmt = stmt.where(DagModel.is_paused.is_(flt.paused))
    return stmt


def dag_page(session: Session, flt: DagListFilter, *, order_by: str = "dag_id", limit: int = 25,
             offset: int = 0) -> tuple[list[DagModel], int]:
    """(one page of active DAGs matching ``flt``, how many match in all)."""
    descending = order_by.startswith("-")
    key = order_by.lstrip("-")
    column = SORT_KEYS.get(key)
    if column is None:
        raise DagListError(f"cannot sort the DAG list by {order_by!r}; use one of: {', '.join(SORT_KEYS)} "
                           f"(prefix '-' for descending)")
    limit = max(1, min(limit, MAX_PAGE))
    stmt = _filtered(select(DagModel), flt)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    if total == 0 or offset >= total:
        return [], total
    # NULLs (never run / no next run) last either way, then the id so pages are stable.
    ordered = stmt.order_by(column.is_(None), column.desc() if descending else column.asc(), DagModel.dag_id)
    return list(session.scalars(ordered.limit(limit).offset(offset))), total


def tab_counts(session: Session, flt: DagListFilter) -> dict[str, int]:
    """How many DAGs the All / Active / Paused tabs hold under the search and tag filters (one query)."""
    stmt = _filtered(select(func.count(), func.sum(case((DagModel.is_paused.is_(True), 1), else_=0))), flt,
                     with_paused=False).select_from(DagModel)
    every, paused = session.execute(stmt).one()
    every, paused = int(every or 0), int(paused or 0)
    return {"all": every, "active": every - paused, "paused": paused}


def recent_runs(session: Session, dag_ids: Sequence[str], per_dag: int) -> dict[str, list[DagRun]]:
    """dag_id -> its newest ``per_dag`` runs (newest first), for every DAG of a page in one statement."""
    per_dag = max(0, min(per_dag, MAX_RECENT_RUNS))
    ids = list(dict.fromkeys(dag_ids))[:MAX_PAGE]
    out: dict[str, list[DagRun]] = defaultdict(list)
    if not ids or per_dag == 0:
        return out
    branches = [
        select(DagRun.id).where(DagRun.dag_id == dag_id)
        .order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(per_dag).subquery().select()
        for dag_id in ids
    ]
    wanted = union_all(*branches).subquery() if len(branches) > 1 else branches[0].subquery()
    rows = session.scalars(select(DagRun).where(DagRun.id.in_(select(wanted.c.id)))
                           .order_by(DagRun.dag_id, DagRun.logical_date.desc(), DagRun.id.desc()))
    for run in rows:
        out[run.dag_id].append(run)
    return out


def import_error_count(session: Session) -> int:
    """How many DAG files failed to import (one row per file and error)."""
    return int(session.scalar(select(func.count(func.distinct(ImportError_.filename)))) or 0)


def known_tags(session: Session) -> list[str]:
    """Every tag of an active DAG, sorted (reads only the ``tags`` column)."""
    found: set[str] = set()
    for tags in session.scalars(select(DagModel.tags).where(DagModel.is_active.is_(True))):
        found.update(t for t in (tags or []) if isinstance(t, str))
    return sorted(found)
