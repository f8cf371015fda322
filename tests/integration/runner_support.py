"""Helpers for runner/executor tests: put a DAG file, its version, a run and queued task
instances in the database with the ORM models (the scheduler is not involved)."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tradewind.workloads import TaskKey, Workload
from tradewind.parse.dagbag import load_dags_from_file
from tradewind.parse.snapshot import serialize_dag, snapshot_hash
from tradewind.persist.models import DagModel, DagRun, DagVersion, TaskInstance, TaskInstanceTry, XCom

LOGICAL = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

HEADER = """
import os, sys, time, json
from datetime import datetime, timedelta, timezone
from tradewind.definition.dag import DAG
from tradewind.definition.operators.bash import BashOperator
from tradewind.definition.operators.python import PythonOperator
from tradewind.definition.exceptions import TaskSkipped, TaskFailNoRetry
"""


def add_dag(config: Any, db: Any, dag_id: str, body: str, *, run_id: str = "run1",
            logical_date: datetime | None = LOGICAL, conf: dict | None = None) -> str:
    """Write ``<dags>/<dag_id>.py`` (HEADER + body), store its version and a running run."""
    path = Path(config.dags_folder) / f"{dag_id}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    dag = load_dags_from_file(path, sys_path=[str(config.dags_folder)])[dag_id]
    snapshot = serialize_dag(dag)
    now = datetime.now(timezone.utc)
    with db.session_scope() as s:
        s.add(DagModel(dag_id=dag_id, fileloc=str(path)))
        s.flush()
        version = DagVersion(dag_id=dag_id, version_number=1, snapshot_hash=snapshot_hash(snapshot),
                             snapshot=snapshot, fileloc=str(path), created_at=now)
        s.add(version)
        s.flush()
        add_run(s, dag_id, run_id, logical_date, conf, version.id)
    return str(path)


def add_run(session: Any, dag_id: str, run_id: str, logical_date: datetime | None, conf: dict | None,
            version_id: int | None, state: str = "running") -> None:
    session.add(DagRun(
        dag_id=dag_id, run_id=run_id, run_type="manual", state=state, logical_date=logical_date,
        data_interval_start=logical_date, data_interval_end=logical_date, run_after=logical_date or LOGICAL,
        start_date=datetime.now(timezone.utc), conf=conf or {}, dag_version_id=version_id,
    ))


def queue(db: Any, dag_id: str, task_id: str, *, run_id: str = "run1", try_number: int = 1,
          max_tries: int = 1, map_index: int = -1) -> TaskKey:
    """Make the task instance queued for ``try_number`` (creating it if needed)."""
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id, TaskInstance.map_index == map_index)).first()
        if ti is None:
            ti = TaskInstance(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
            s.add(ti)
        ti.state = "queued"
        ti.try_number = try_number
        ti.max_tries = max_tries
        ti.queued_dttm = datetime.now(timezone.utc)
    return TaskKey(dag_id, run_id, task_id, map_index, try_number)


def workload(key: TaskKey, fileloc: str, timeout: float | None = None) -> Workload:
    return Workload(key=key, fileloc=fileloc, execution_timeout=timeout)


def ti_row(db: Any, key: TaskKey) -> TaskInstance:
    with db.session_scope() as s:
        return s.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == key.dag_id, TaskInstance.run_id == key.run_id,
            TaskInstance.task_id == key.task_id, TaskInstance.map_index == key.map_index)).one()


def try_row(db: Any, key: TaskKey) -> TaskInstanceTry:
    with db.session_scope() as s:
        return s.scalars(select(TaskInstanceTry).where(
            TaskInstanceTry.dag_id == key.dag_id, TaskInstanceTry.run_id == key.run_id,
            TaskInstanceTry.task_id == key.task_id, TaskInstanceTry.try_number == key.try_number)).one()


def xcoms(db: Any, key: TaskKey) -> dict[str, str]:
    with db.session_scope() as s:
        rows = s.scalars(select(XCom).where(
            XCom.dag_id == key.dag_id, XCom.run_id == key.run_id, XCom.task_id == key.task_id))
        return {r.key: r.value for r in rows}
