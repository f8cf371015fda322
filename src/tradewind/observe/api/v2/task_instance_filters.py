"""Filters of Airflow 3's task instance lists (``/api/v2``): date and duration bounds, patterns,
states, and what only the DAG versions know (display names, task groups, executors), plus the
per-request cache of parsed versions (:class:`Snapshots`) the task instance modules share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from fastapi import Query, Request
from sqlalchemy import Select, false, select, tuple_
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import bad_request
from tradewind.observe.api.v2.common import filter_in, filter_name, filter_range
from tradewind.parse.snapshot import DagSnapshot, TaskSnapshot
from tradewind.persist.models import DagRun, DagVersion, TaskInstance
from tradewind.persist.queries import dags as dag_queries


# ------------------------------------------------------------------------------------ snapshots
@dataclass
class Snapshots:
    """Parsed DAG versions read once per request: by version id, and each DAG's latest."""

    session: Session
    by_version: dict[int, DagSnapshot | None] = field(default_factory=dict)
    latest: dict[str, DagSnapshot | None] = field(default_factory=dict)

    def of(self, dag_id: str, version_id: int | None) -> DagSnapshot | None:
        if version_id is not None:
            if version_id not in self.by_version:
                self.by_version[version_id] = dag_queries.snapshot_for_version(self.session, version_id)
            if self.by_version[version_id] is not None:
                return self.by_version[version_id]
        if dag_id not in self.latest:
            found = dag_queries.latest_snapshot(self.session, dag_id)
            self.latest[dag_id] = None if found is None else found[1]
        return self.latest[dag_id]

    def task(self, dag_id: str, version_id: int | None, task_id: str) -> TaskSnapshot | None:
        snapshot = self.of(dag_id, version_id)
        return None if snapshot is None else snapshot.tasks.get(task_id)


def default_executor(request: Request) -> str:
    """The executor a task runs on when it names none ([core] executor)."""
    return str(request.app.state.config.get("core", "executor") or "LocalExecutor")


# ------------------------------------------------------------------------------------ list filters
def ti_order_columns() -> dict[str, Any]:
    """``order_by`` names -> columns (the instance's, or its run's dates)."""
    return {"id": TaskInstance.id, "state": TaskInstance.state, "duration": TaskInstance.duration,
            "start_date": TaskInstance.start_date, "end_date": TaskInstance.end_date,
            "map_index": TaskInstance.map_index, "try_number": TaskInstance.try_number,
            "logical_date": DagRun.logical_date, "run_after": DagRun.run_after,
            "data_interval_start": DagRun.data_interval_start, "data_interval_end": DagRun.data_interval_end,
            "rendered_map_index": TaskInstance.rendered_map_index, "operator": TaskInstance.operator,
            "task_id": TaskInstance.task_id, "dag_id": TaskInstance.dag_id, "run_id": TaskInstance.run_id,
            "dag_run_id": TaskInstance.run_id, "pool": TaskInstance.pool, "queue": TaskInstance.queue,
            "priority_weight": TaskInstance.priority_weight}


ORDER_FIELDS = ("id", "state", "duration", "start_date", "end_date", "map_index", "try_number", "logical_date",
                "run_after", "data_interval_start", "data_interval_end", "rendered_map_index", "operator")


def base_stmt() -> Select[Any]:
    """Instances with their run (the run's dates filter and order them)."""
    return select(TaskInstance).join(
        DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))


def ti_ranges(stmt: Select[Any], bounds: dict[str, Any]) -> Select[Any]:
    """Every given ``<field>_gte/_gt/_lte/_lt`` of ``bounds``; ``updated_at_*`` is a 400."""
    for name, value in bounds.items():
        if name.startswith("updated_at_") and value is not None:
            raise bad_request(f"{name} cannot be applied: Tradewind does not record when a task instance was last "
                              "updated; filter on start_date or end_date instead", field=name)
    columns = {"run_after": DagRun.run_after, "logical_date": DagRun.logical_date,
               "start_date": TaskInstance.start_date, "end_date": TaskInstance.end_date,
               "duration": TaskInstance.duration}
    for name, column in columns.items():
        stmt = filter_range(stmt, column, **{op: bounds.get(f"{name}_{op}") for op in ("gte", "gt", "lte", "lt")})
    return stmt


def ti_states(stmt: Select[Any], states: Sequence[Any] | None) -> Select[Any]:
    """Airflow writes "no state" as ``no_status``, ``none`` or ``null`` (a JSON null in a body); we store ``none``."""
    if not states:
        return stmt
    wanted = []
    for s in states:
        value = s.value if isinstance(s, Enum) else s
        wanted.append("none" if value in (None, "", "none", "null", "no_status") else value)
    return stmt.where(TaskInstance.state.in_(wanted))


def _task_pairs(session: Session, dag_ids: Sequence[str] | None, keep: Any) -> set[tuple[str, str]]:
    """(dag_id, task_id) of the tasks in the DAGs' latest versions for which ``keep(task)`` holds."""
    from tradewind.persist.models import DagModel

    ids = list(dag_ids) if dag_ids else list(session.scalars(select(DagModel.dag_id)))
    snapshots = Snapshots(session)
    pairs = set()
    for dag_id in ids:
        snapshot = snapshots.of(dag_id, None)
        if snapshot is not None:
            pairs |= {(dag_id, t.task_id) for t in snapshot.tasks.values() if keep(t)}
    return pairs


def _by_tasks(stmt: Select[Any], pairs: set[tuple[str, str]]) -> Select[Any]:
    if not pairs:
        return stmt.where(false())
    return stmt.where(tuple_(TaskInstance.dag_id, TaskInstance.task_id).in_(sorted(pairs)))


def _matches(text: str, pattern: str | None, prefix: str | None) -> bool:
    """Python twin of :func:`filter_pattern` + :func:`filter_prefix` for names only the snapshots hold."""
    ok = True
    if pattern not in (None, "", "~"):
        terms = [t for t in pattern.split("|") if t]
        ok = "~" in terms or any(t.lower().replace("%", "") in text.lower() for t in terms)
    if ok and prefix not in (None, "", "~"):
        terms = [t.rstrip() for t in prefix.split("|")]
        ok = any(text.startswith(t) for t in terms if t)
    return ok


def snapshot_filters(stmt: Select[Any], request: Request, session: Session, dag_ids: Sequence[str] | None, *,
                     display_pattern: str | None = None, display_prefix: str | None = None,
                     task_group_id: str | None = None, executors: Sequence[str] | None = None) -> Select[Any]:
    """Filters on what only the DAG versions know: display names, task groups, executors."""
    if any(v not in (None, "", "~") for v in (display_pattern, display_prefix)):
        stmt = _by_tasks(stmt, _task_pairs(session, dag_ids, lambda t: _matches(
            t.task_display_name or t.task_id, display_pattern, display_prefix)))
    if task_group_id:
        stmt = _by_tasks(stmt, _task_pairs(session, dag_ids, lambda t: bool(t.task_group) and (
            t.task_group == task_group_id or t.task_group.startswith(task_group_id + "."))))
    if executors:
        default = default_executor(request)
        stmt = _by_tasks(stmt, _task_pairs(session, dag_ids, lambda t: (t.executor or default) in executors))
    return stmt


def _versions(stmt: Select[Any], numbers: list[int] | None) -> Select[Any]:
    if not numbers:
        return stmt
    ids = select(DagVersion.id).where(DagVersion.dag_id == TaskInstance.dag_id, DagVersion.version_number.in_(numbers))
    return stmt.where(TaskInstance.dag_version_id.in_(ids))


@dataclass
class CommonFilters:
    """The filters the list and ``listMapped`` share (Airflow 3's query names)."""

    state: list[str]
    pool: list[str]
    pool_name_pattern: str | None
    pool_name_prefix_pattern: str | None
    queue: list[str]
    queue_name_pattern: str | None
    queue_name_prefix_pattern: str | None
    executor: list[str]
    version_number: list[int]
    try_number: list[int]
    operator: list[str]
    operator_name_pattern: str | None
    operator_name_prefix_pattern: str | None
    map_index: list[int]
    rendered_map_index_pattern: str | None
    rendered_map_index_prefix_pattern: str | None

    def apply(self, stmt: Select[Any], request: Request, session: Session, dag_ids: Sequence[str] | None
              ) -> Select[Any]:
        T = TaskInstance
        stmt = ti_states(stmt, self.state)
        stmt = filter_in(filter_in(stmt, T.pool, self.pool), T.queue, self.queue)
        stmt = filter_name(stmt, T.pool, self.pool_name_pattern, self.pool_name_prefix_pattern)
        stmt = filter_name(stmt, T.queue, self.queue_name_pattern, self.queue_name_prefix_pattern)
        stmt = filter_in(filter_in(stmt, T.try_number, self.try_number), T.operator, self.operator)
        stmt = filter_name(stmt, T.operator, self.operator_name_pattern, self.operator_name_prefix_pattern)
        stmt = filter_in(stmt, T.map_index, self.map_index)
        stmt = filter_name(stmt, T.rendered_map_index, self.rendered_map_index_pattern, self.rendered_map_index_prefix_pattern)
        stmt = _versions(stmt, self.version_number)
        return snapshot_filters(stmt, request, session, dag_ids, executors=self.executor)


def common_filters(
    state: list[str] = Query([]), pool: list[str] = Query([]),
    pool_name_pattern: str | None = None, pool_name_prefix_pattern: str | None = None,
    queue: list[str] = Query([]), queue_name_pattern: str | None = None, queue_name_prefix_pattern: str | None = None,
    executor: list[str] = Query([]), version_number: list[int] = Query([]), try_number: list[int] = Query([]),
    operator: list[str] = Query([]), operator_name_pattern: str | None = None,
    operator_name_prefix_pattern: str | None = None, map_index: list[int] = Query([]),
    rendered_map_index_pattern: str | None = None, rendered_map_index_prefix_pattern: str | None = None,
) -> CommonFilters:
    """FastAPI dependency: the shared filters of the list routes."""
    return CommonFilters(**{k: v for k, v in locals().items()})


def date_bounds(
    run_after_gte: datetime | None = None, run_after_gt: datetime | None = None,
    run_after_lte: datetime | None = None, run_after_lt: datetime | None = None,
    logical_date_gte: datetime | None = None, logical_date_gt: datetime | None = None,
    logical_date_lte: datetime | None = None, logical_date_lt: datetime | None = None,
    start_date_gte: datetime | None = None, start_date_gt: datetime | None = None,
    start_date_lte: datetime | None = None, start_date_lt: datetime | None = None,
    end_date_gte: datetime | None = None, end_date_gt: datetime | None = None,
    end_date_lte: datetime | None = None, end_date_lt: datetime | None = None,
    updated_at_gte: datetime | None = None, updated_at_gt: datetime | None = None,
    updated_at_lte: datetime | None = None, updated_at_lt: datetime | None = None,
    duration_gte: float | None = None, duration_gt: float | None = None,
    duration_lte: float | None = None, duration_lt: float | None = None,
) -> dict[str, Any]:
    """FastAPI dependency: Airflow 3's date and duration bounds, by query name."""
    return dict(locals())


