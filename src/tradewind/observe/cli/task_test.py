"""``tasks test``: run one task of one DAG in this process, ignoring its dependencies.

As in Airflow: the run for the logical date is reused when it exists (so the task
can pull its upstreams' XComs); otherwise a run is created for the test and
deleted afterwards, leaving the database as it was. The try goes through the real
task runner (claim, render, execute, record), its log is echoed to the terminal.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradewind.observe.cli.common import CliContext, CliError
from tradewind.observe.cli.dagrefs import check_task_id, get_dag_ref, sync_dags

#: Instance states from which a test try can be queued directly.
_QUEUEABLE = {"none", "scheduled", "up_for_retry", "up_for_reschedule"}


@dataclass
class PreparedTry:
    key: Any
    fileloc: str
    execution_timeout: float | None
    created_run: bool


def _find_run(session: Any, dag_id: str, logical_date: datetime) -> Any:
    from sqlalchemy import select

    from tradewind.persist.models import DagRun

    return session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date).order_by(DagRun.id.desc())
    ).first()


def prepare_test_try(session: Any, dag_id: str, task_id: str, logical_date: datetime, now: datetime,
                     map_index: int = -1) -> PreparedTry:
    """Queue a try of ``task_id`` (instance ``map_index``) in the run for ``logical_date`` (created if missing)."""
    from tradewind.workloads import TaskKey
    from tradewind.persist.queries.task_instances import get_ti
    from tradewind.schedule import transitions
    from tradewind.schedule.runs import create_manual_run, start_run

    ref = get_dag_ref(session, dag_id)
    check_task_id(ref.snapshot, task_id)
    run = _find_run(session, dag_id, logical_date)
    created = run is None
    if created:
        run = create_manual_run(session, ref.snapshot, ref.version_id, logical_date=logical_date,
                                run_id=f"manual__{logical_date.isoformat()}", now=now)
    if run.state == "queued" or get_ti(session, dag_id, run.run_id, task_id) is None:
        start_run(session, run, ref.snapshot, now)
    ti = get_ti(session, dag_id, run.run_id, task_id, map_index)
    if ti is None and map_index >= 0:
        raise CliError(f"{dag_id}.{task_id} has no instance with map index {map_index} in run {run.run_id}: a mapped "
                       "task is expanded when its run reaches it (run the DAG first, e.g. `tradewind dags test`)")
    if ti is None:  # pragma: no cover - start_run creates every task's instance
        raise CliError(f"could not create the task instance of {dag_id}.{task_id} in run {run.run_id}")
    if ti.state not in _QUEUEABLE:
        transitions.clear_task_instances(session, [ti], now=now, dag_run_state=run.state,
                                         retries_by_task={task_id: ref.snapshot.tasks[task_id].retries})
    if ti.state == "none":
        transitions.schedule_ti(session, ti, now)
    try_number = transitions.queue_ti(session, ti, now)
    key = TaskKey(dag_id, run.run_id, task_id, ti.map_index, try_number)
    task = ref.snapshot.tasks[task_id]
    return PreparedTry(key=key, fileloc=ref.dag.fileloc, execution_timeout=task.execution_timeout, created_run=created)


def run_task_test(cli: CliContext, dag_id: str, task_id: str, logical_date: datetime | None,
                  *, map_index: int = -1) -> bool:
    """Run the try, echo its log; True when the task succeeded (or was skipped)."""
    from tradewind.workloads import Workload
    from tradewind.execute.db_store import DbTryStore
    from tradewind.execute.runner import run_try
    from tradewind.observe.runtime import install_variable_backend
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries.runs import delete_run
    from tradewind.schedule.runs import RunCreationError

    db = sync_dags(cli, local=True)  # it imports the file anyway: parse it fresh
    install_variable_backend(db)
    now = utcnow()
    when = logical_date or now
    try:
        with db.session_scope() as session:
            prepared = prepare_test_try(session, dag_id, task_id, when, now, map_index)
    except RunCreationError as exc:
        raise CliError(str(exc)) from None
    workload = Workload(key=prepared.key, fileloc=prepared.fileloc, environ=cli.config.as_environ(),
                        execution_timeout=prepared.execution_timeout)
    try:
        result = run_try(workload, config=cli.config, store=DbTryStore(db, cli.config), in_process=True,
                         echo=sys.stdout)
    finally:
        if prepared.created_run:
            with db.session_scope() as session:
                delete_run(session, dag_id, prepared.key.run_id)  # a run made only for the test goes, as in Airflow
    state = str(result.state) if result.state is not None else "not run"
    line = f"Task {dag_id}.{task_id} ({when.isoformat()}): {state}"
    if result.error:
        line += f" — {result.error}"
    print(line, file=sys.stdout if state in ("success", "skipped") else sys.stderr)
    return state in ("success", "skipped")
