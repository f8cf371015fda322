"""The preparation steps of a try, kept apart from :mod:`tradewind.execute.runner`'s flow.

* :func:`claim` — the single claim transaction: queued -> running, clear old XComs, and
  read everything else the try needs from the database (run row, previous successful
  run, the task's snapshot) so no further reads are needed until the finish.
* :func:`load_task` — import the DAG file in this process and find the task.
* :func:`build_try_context` — the Airflow template context for the try.
* :func:`task_snapshot_for` — the TaskSnapshot the retry policy uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tradewind.schedule.executor_interface import TaskKey, Workload
from tradewind.execute.runtime import RuntimeTaskInstance
from tradewind.parse.snapshot import TaskSnapshot
from tradewind.persist.db import Database
from tradewind.persist.models import DagRun, DagVersion
from tradewind.persist.queries.xcom import xcom_clear
from tradewind.schedule.transitions import claim_try
from tradewind.states import DagRunState


class TaskNotFound(LookupError):
    """The DAG file no longer defines the DAG or the task of the try."""


@dataclass(frozen=True)
class RunInfo:
    """The DAG run fields the context needs (detached from the session); ``context["dag_run"]``."""

    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime | None
    start_date: datetime | None
    conf: dict[str, Any]
    external_trigger: bool
    dag_version_id: int | None = None
    state: str = "running"
    end_date: datetime | None = None

    @classmethod
    def of(cls, run: DagRun) -> "RunInfo":
        return cls(
            dag_id=run.dag_id, run_id=run.run_id, run_type=run.run_type, logical_date=run.logical_date,
            data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
            run_after=run.run_after, start_date=run.start_date, conf=dict(run.conf or {}),
            external_trigger=bool(run.external_trigger), dag_version_id=run.dag_version_id,
            state=run.state, end_date=run.end_date,
        )


@dataclass(frozen=True)
class ClaimedTry:
    key: TaskKey
    max_tries: int
    start_date: datetime | None
    operator: str | None
    run: RunInfo
    #: The previous successful run of the DAG (by logical date), for ``prev_*_success``.
    prev_success: RunInfo | None
    #: The task as the scheduler knows it (from the run's DAG version), if stored.
    snapshot: TaskSnapshot | None


def claim(db: Database, key: TaskKey, *, hostname: str, pid: int, now: datetime) -> ClaimedTry | None:
    """Claim the try and read what it needs, in one transaction; None if not queued for it."""
    with db.session_scope() as session:
        ti = claim_try(session, key, hostname=hostname, pid=pid, now=now)
        if ti is None:
            return None
        run, prev = load_run(session, key.dag_id, key.run_id)
        snapshot = None
        version_id = ti.dag_version_id or run.dag_version_id
        if version_id is not None:
            data = session.scalar(select(DagVersion.snapshot).where(DagVersion.id == version_id))
            snapshot = _task_from_snapshot(data, key.task_id)
        # Airflow semantics: a new try starts without the XComs of earlier tries.
        xcom_clear(session, key.dag_id, key.run_id, key.task_id, key.map_index)
        return ClaimedTry(
            key=key, max_tries=ti.max_tries, start_date=ti.start_date, operator=ti.operator,
            run=run, prev_success=prev,
            snapshot=snapshot,
        )


def _task_from_snapshot(data: dict[str, Any] | None, task_id: str) -> TaskSnapshot | None:
    if not data:
        return None
    for task in data.get("tasks", ()):
        if task.get("task_id") == task_id:
            return TaskSnapshot.from_dict(task)
    return None


def load_task(workload: Workload, config: Any) -> tuple[Any, Any]:
    """Import the workload's DAG file and return ``(dag, task)`` for this try.

    Raises ``DagFileError`` (bad file) or :class:`TaskNotFound` naming the file.
    """
    from tradewind.parse.dagbag import load_dags_from_file

    key = workload.key
    dags = load_dags_from_file(workload.fileloc, sys_path=[str(p) for p in config.dag_folders()])
    dag = dags.get(key.dag_id)
    if dag is None:
        raise TaskNotFound(f"DAG {key.dag_id!r} is not defined in {workload.fileloc} (found: {sorted(dags)})")
    task = dag.task_dict.get(key.task_id)
    if task is None:
        raise TaskNotFound(f"DAG {key.dag_id!r} in {workload.fileloc} has no task {key.task_id!r}")
    return dag, _for_map_index(task, key.map_index)


def _for_map_index(task: Any, map_index: int) -> Any:
    """A mapped task's operator for one map index (expansion happens at render time)."""
    if map_index < 0:
        return task
    unmap = getattr(task, "unmap_for_index", None) or getattr(task, "unmap", None)
    return unmap(map_index) if callable(unmap) else task


def build_try_context(dag: Any, task: Any, ti: RuntimeTaskInstance, claimed: ClaimedTry, config: Any) -> dict[str, Any]:
    """The template context of the try (Airflow names), via the definition layer's builder."""
    return build_run_context(dag, task, ti, claimed.run, claimed.prev_success)


def build_run_context(
    dag: Any, task: Any, ti: RuntimeTaskInstance | None, run: RunInfo, prev: RunInfo | None
) -> dict[str, Any]:
    """Template context for ``task``/``ti`` in ``run`` (also used for DAG-level callbacks)."""
    from tradewind.definition.context import build_context

    return build_context(
        dag=dag,
        task=task,
        ti=ti,
        run_id=run.run_id,
        run_type=run.run_type,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        run_after=run.run_after,
        conf=run.conf,
        dag_run=run,
        map_index=ti.map_index if ti is not None else -1,
        try_number=ti.try_number if ti is not None else 0,
        prev_data_interval_start_success=prev.data_interval_start if prev else None,
        prev_data_interval_end_success=prev.data_interval_end if prev else None,
        prev_start_date_success=prev.start_date if prev else None,
        prev_end_date_success=prev.end_date if prev else None,
    )


def load_run(session: Any, dag_id: str, run_id: str) -> tuple[RunInfo, RunInfo | None]:
    """The run and the previous successful run of the DAG (by logical date)."""
    run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none()
    if run is None:
        raise LookupError(f"DAG run {dag_id}/{run_id} does not exist")
    prev = None
    if run.logical_date is not None:
        prev = session.scalars(
            select(DagRun)
            .where(
                DagRun.dag_id == dag_id,
                DagRun.state == DagRunState.SUCCESS.value,
                DagRun.logical_date < run.logical_date,
            )
            .order_by(DagRun.logical_date.desc())
            .limit(1)
        ).first()
    return RunInfo.of(run), (RunInfo.of(prev) if prev is not None else None)


def task_snapshot_for(claimed: ClaimedTry, task: Any) -> TaskSnapshot:
    """The stored snapshot of the task; else one made from the loaded operator; else defaults."""
    if claimed.snapshot is not None:
        return claimed.snapshot
    if task is not None:
        try:
            from tradewind.parse.snapshot import serialize_task

            return TaskSnapshot.from_dict(serialize_task(task, getattr(task, "priority_weight", 1)))
        except Exception:
            pass
    return TaskSnapshot(task_id=claimed.key.task_id, operator=claimed.operator or "unknown")
