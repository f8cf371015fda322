"""What a manual "clear" clears: shared by ``tradewind tasks clear`` and the REST API.

:func:`instances_for` makes the whole selection of a :class:`ClearRequest`:
:func:`select_task_ids` picks tasks (regex, with upstream/downstream), :func:`find_tis_to_clear`
the matching instances over runs in a logical-date range (only failed / only running on request),
:func:`follow_external_markers` adds what ExternalTaskMarker tasks among them point at, and
:func:`clear` resets them all through :func:`tradewind.schedule.transitions.clear_task_instances`
(runs go back to queued, retries are available again).

ExternalTaskMarker (Airflow semantics): clearing a marker instance also clears the marker's
``external_task_id`` and everything downstream of it in ``external_dag_id``'s run with the
marker's ``logical_date`` (a template rendered with the marker's run dates; by default the same
logical date). Markers met there are followed too, at most ``recursion_depth`` levels deep
(the depth of the first marker met); deeper means a cycle or a mistake and is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.queries.task_instances import list_tis
from tradewind.schedule import transitions
from tradewind.schedule.setup_teardown import with_setups_and_teardowns
from tradewind.states import DagRunState, TaskInstanceState

TI = TaskInstanceState
ONLY_FAILED_STATES = (TI.FAILED.value, TI.UPSTREAM_FAILED.value)
ONLY_RUNNING_STATES = (TI.RUNNING.value,)
#: Snapshot ``extra`` keys that make a task an ExternalTaskMarker.
MARKER_KEYS = ("external_dag_id", "external_task_id", "recursion_depth")


class ClearError(ValueError):
    """The clear request cannot be done as asked; the message says why."""


def select_task_ids(snapshot: DagSnapshot, pattern: str | None, *, upstream: bool = False,
                    downstream: bool = False) -> set[str]:
    """Task ids whose id matches ``pattern`` (all tasks without one), plus their up/downstream."""
    if pattern is None:
        return set(snapshot.tasks)
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ClearError(f"task regex {pattern!r} is not a valid regular expression: {exc}") from None
    chosen = {tid for tid in snapshot.tasks if regex.search(tid)}
    if not chosen:
        raise ClearError(f"no task of DAG {snapshot.dag_id} matches the task regex {pattern!r}")
    extra: set[str] = set()
    for tid in chosen:
        if upstream:
            extra |= snapshot.all_upstream(tid)
        if downstream:
            extra |= snapshot.all_downstream(tid)
    return chosen | extra


def find_tis_to_clear(session: Session, dag_id: str, task_ids: Iterable[str], *, start: datetime | None = None,
                      end: datetime | None = None, run_id: str | None = None, only_failed: bool = False,
                      only_running: bool = False) -> list[TaskInstance]:
    """Instances of ``task_ids`` in the DAG's runs with a logical date in ``[start, end]`` (or in ``run_id``)."""
    if only_failed and only_running:
        raise ClearError("only_failed and only_running exclude each other; choose one")
    q = select(DagRun.run_id).where(DagRun.dag_id == dag_id)
    if run_id is not None:
        q = q.where(DagRun.run_id == run_id)
    if start is not None:
        q = q.where(DagRun.logical_date >= start)
    if end is not None:
        q = q.where(DagRun.logical_date <= end)
    run_ids = list(session.scalars(q.order_by(DagRun.logical_date, DagRun.id)))
    states = ONLY_FAILED_STATES if only_failed else ONLY_RUNNING_STATES if only_running else None
    wanted = sorted(task_ids)
    tis: list[TaskInstance] = []
    for rid in run_ids:
        tis += list_tis(session, dag_id, rid, task_ids=wanted, state=states)
    return tis


@dataclass
class _Snapshots:
    """Latest snapshot per DAG id, read once per clear."""

    session: Session
    cache: dict[str, DagSnapshot | None] = field(default_factory=dict)

    def get(self, dag_id: str) -> DagSnapshot | None:
        if dag_id not in self.cache:
            latest = dag_queries.latest_snapshot(self.session, dag_id)
            self.cache[dag_id] = latest[1] if latest is not None else None
        return self.cache[dag_id]


def _marker_target_date(task: Any, run: DagRun) -> datetime | None:
    """The logical date the marker points at: its ``logical_date`` template rendered with the run's dates."""
    template = task.extra.get("logical_date")
    if run.logical_date is None:
        return None
    if not template:
        return run.logical_date
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from tradewind.definition import macros
    from tradewind.definition.timezone import to_utc

    ld = run.logical_date
    context = {"logical_date": ld, "ds": ld.strftime("%Y-%m-%d"), "ds_nodash": ld.strftime("%Y%m%d"),
               "ts": ld.isoformat(), "data_interval_start": run.data_interval_start,
               "data_interval_end": run.data_interval_end, "macros": macros, "run_id": run.run_id}
    try:
        text = SandboxedEnvironment(undefined=StrictUndefined).from_string(str(template)).render(context)
        return to_utc(text.strip())
    except Exception as exc:  # noqa: BLE001 - any template or date error is the user's to fix
        raise ClearError(f"ExternalTaskMarker {run.dag_id}.{task.task_id}: logical_date {template!r} "
                         f"did not give a date for run {run.run_id}: {exc}") from None


def follow_external_markers(session: Session, tis: list[TaskInstance]) -> list[TaskInstance]:
    """``tis`` plus the instances ExternalTaskMarker tasks among them point at (recursively).

    Raises :class:`ClearError` when following markers goes deeper than the first marker's
    ``recursion_depth`` (a cycle between DAGs, or too much to clear).
    """
    snapshots = _Snapshots(session)
    result = list(tis)
    seen = {ti.id for ti in tis}
    level = list(tis)
    depth = 0
    limit: int | None = None
    while level:
        found: list[TaskInstance] = []
        for ti in level:
            snap = snapshots.get(ti.dag_id)
            task = snap.tasks.get(ti.task_id) if snap is not None else None
            if task is None or not all(k in task.extra for k in MARKER_KEYS):
                continue
            if limit is None:
                limit = int(task.extra["recursion_depth"])
            if depth >= limit:
                raise ClearError(
                    f"maximum recursion depth {limit} reached following ExternalTaskMarker {ti.dag_id}.{ti.task_id}: "
                    "too many tasks to clear, or the markers form a cycle between DAGs")
            found += _marker_targets(session, snapshots, ti, task)
        depth += 1
        level = [t for t in found if t.id not in seen]
        seen.update(t.id for t in level)
        result += level
    return result


def _marker_targets(session: Session, snapshots: _Snapshots, ti: TaskInstance, task: Any) -> list[TaskInstance]:
    run = session.scalars(select(DagRun).where(DagRun.dag_id == ti.dag_id, DagRun.run_id == ti.run_id)).one_or_none()
    if run is None:
        return []
    target_date = _marker_target_date(task, run)
    ext_dag, ext_task = task.extra["external_dag_id"], task.extra["external_task_id"]
    ext_snap = snapshots.get(ext_dag)
    if target_date is None or ext_snap is None or ext_task not in ext_snap.tasks:
        return []  # nothing there to clear (Airflow clears what exists)
    ext_run = session.scalars(
        select(DagRun).where(DagRun.dag_id == ext_dag, DagRun.logical_date == target_date).order_by(DagRun.id.desc())
    ).first()
    if ext_run is None:
        return []
    task_ids = {ext_task} | ext_snap.all_downstream(ext_task)
    return list_tis(session, ext_dag, ext_run.run_id, task_ids=sorted(task_ids))


@dataclass(frozen=True)
class ClearRequest:
    """One "clear" as the CLI and the API express it."""

    dag_id: str
    task_regex: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    run_id: str | None = None
    upstream: bool = False
    downstream: bool = False
    only_failed: bool = False
    only_running: bool = False


def instances_for(session: Session, snapshot: DagSnapshot, request: ClearRequest) -> list[TaskInstance]:
    """Every instance the request clears: the chosen tasks' instances in the chosen runs, then
    what ExternalTaskMarkers among them point at. The one place a clear's selection is made."""
    task_ids = select_task_ids(snapshot, request.task_regex, upstream=request.upstream, downstream=request.downstream)
    task_ids = with_setups_and_teardowns(snapshot, task_ids)
    tis = find_tis_to_clear(session, request.dag_id, task_ids, start=request.start, end=request.end,
                            run_id=request.run_id, only_failed=request.only_failed, only_running=request.only_running)
    return follow_external_markers(session, tis)


def clear(session: Session, tis: list[TaskInstance], *, now: datetime,
          dag_run_state: DagRunState | str = DagRunState.QUEUED) -> int:
    """Clear the instances (of any DAGs) so the scheduler runs them again; each task gets its
    retries back from its DAG's latest snapshot. Their runs go to ``dag_run_state``."""
    snapshots = _Snapshots(session)
    by_dag: dict[str, list[TaskInstance]] = {}
    for ti in tis:
        by_dag.setdefault(ti.dag_id, []).append(ti)
    count = 0
    for dag_id, dag_tis in by_dag.items():
        snap = snapshots.get(dag_id)
        retries = {tid: t.retries for tid, t in snap.tasks.items()} if snap is not None else None
        count += transitions.clear_task_instances(session, dag_tis, now=now, dag_run_state=dag_run_state,
                                                  retries_by_task=retries)
    return count
