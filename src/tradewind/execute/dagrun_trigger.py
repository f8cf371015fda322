"""The runner's side of ``TriggerDagRunOperator``: create (or reset) the run, optionally wait.

``TriggerDagRunOperator.execute`` (definition layer, no database) raises
:class:`~tradewind.definition.exceptions.DagRunTriggerException`; the task runner calls
:func:`trigger_dag_run` with it, inside the try's time limit, so an ``execution_timeout``
also bounds the wait. Errors surface as exceptions the runner records as the try's
outcome: :class:`TaskSkipped` (``skip_when_already_exists``), :class:`DagRunAlreadyExists`,
or :class:`TradewindException` naming the DAG/run and the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tradewind.definition.exceptions import (
    DagRunAlreadyExists,
    DagRunTriggerException,
    TaskSkipped,
    TradewindException,
)
from tradewind.definition.operators.trigger_dagrun import XCOM_LOGICAL_DATE_ISO, XCOM_RUN_ID
from tradewind.persist.db import Database, utcnow
from tradewind.persist.models import DagModel, DagRun, TaskInstance
from tradewind.persist.queries.dags import latest_snapshot
from tradewind.schedule.runs import RunCreationError, create_manual_run
from tradewind.schedule.transitions import clear_task_instances
from tradewind.schedule.wakeup import notify_scheduler
from tradewind.states import DagRunType

#: ``dag_run.triggered_by`` of runs created by the operator (Airflow 3's name).
TRIGGERED_BY_OPERATOR = "operator"


def trigger_dag_run(request: DagRunTriggerException, *, ti: Any, db: Database,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Create (or reset) the requested run, push its id to XCom and, if asked, wait for it."""
    log = ti.log
    dag_id = request.trigger_dag_id
    now = utcnow()
    with db.session_scope() as session:
        found = latest_snapshot(session, dag_id)
        if found is None:
            raise TradewindException(
                f"cannot trigger DAG {dag_id!r}: no such DAG (not parsed yet, deleted, or its file has an "
                "import error; see `tradewind dags list` and `tradewind dags list-import-errors`)")
        version, snapshot = found
        logical = request.logical_date if isinstance(request.logical_date, datetime) else None
        run_id = request.dag_run_id or DagRunType.MANUAL.run_id_for((logical or now).isoformat())
        existing = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none()
        if existing is not None:
            logical = _reset_or_refuse(session, request, existing, now, log)
        else:
            try:
                run = create_manual_run(session, snapshot, version.id, run_id=run_id, logical_date=logical,
                                        conf=request.conf, now=now)
            except RunCreationError as exc:
                raise TradewindException(f"cannot trigger DAG {dag_id!r}: {exc}") from None
            run.triggered_by = TRIGGERED_BY_OPERATOR
            logical = run.logical_date
            log.info("Triggered DAG %s: run %s (logical date %s)", dag_id, run_id,
                     logical.isoformat() if logical else None)
        paused = session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id))
    notify_scheduler(db)  # committed: a running scheduler starts the run now
    if paused:
        log.warning("DAG %s is paused: run %s starts once it is unpaused", dag_id, run_id)
    ti.xcom_push(XCOM_RUN_ID, run_id)
    if logical is not None:
        ti.xcom_push(XCOM_LOGICAL_DATE_ISO, logical.isoformat())
    if request.wait_for_completion:
        _wait(request, run_id, db=db, log=log, sleep=sleep)


def _reset_or_refuse(session: Any, request: DagRunTriggerException, run: DagRun, now: datetime,
                     log: Any) -> datetime | None:
    """Clear the existing run (``reset_dag_run``), else skip or fail; returns its logical date."""
    where = f"DAG {request.trigger_dag_id!r} already has a run with run_id {run.run_id!r}"
    if request.reset_dag_run:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == run.dag_id,
                                                         TaskInstance.run_id == run.run_id)).all()
        clear_task_instances(session, tis, now=now, dag_run_state="queued")
        log.info("%s: cleared it (reset_dag_run=True), it runs again", where)
        return run.logical_date
    if request.skip_when_already_exists:
        raise TaskSkipped(f"{where} and skip_when_already_exists=True")
    raise DagRunAlreadyExists(f"{where} (set reset_dag_run=True to run it again, or "
                              "skip_when_already_exists=True to skip)")


def _wait(request: DagRunTriggerException, run_id: str, *, db: Database, log: Any,
          sleep: Callable[[float], None]) -> None:
    dag_id = request.trigger_dag_id
    while True:
        log.info("Waiting for DAG %s run %s to reach %s (checking every %gs)", dag_id, run_id,
                 "/".join(request.allowed_states), request.poke_interval)
        sleep(request.poke_interval)
        with db.read_scope() as session:
            state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if state is None:
            raise TradewindException(f"DAG {dag_id!r} run {run_id!r} was deleted while this task waited for it")
        if state in request.failed_states:
            raise TradewindException(f"DAG {dag_id!r} run {run_id!r} ended in state {state!r} "
                                     f"(failed_states {request.failed_states})")
        if state in request.allowed_states:
            log.info("DAG %s run %s reached state %s", dag_id, run_id, state)
            return
