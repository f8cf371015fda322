"""The runner's side of ``TriggerDagRunOperator``: ask the store for the run, optionally wait.

``TriggerDagRunOperator.execute`` (definition layer, no database) raises
:class:`~tradewind.definition.exceptions.DagRunTriggerException`; the task runner calls
:func:`trigger_dag_run` with it, inside the try's time limit, so an ``execution_timeout``
also bounds the wait. The run is created (or reset) by the try's store
(:meth:`~tradewind.execute.try_store.TryStore.trigger_dag_run`: the database, or the execution
API for a worker), which raises what the runner records as the try's outcome:
:class:`TaskSkipped` (``skip_when_already_exists``), :class:`DagRunAlreadyExists`, or
:class:`TradewindException` naming the DAG/run and the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tradewind.definition.exceptions import DagRunTriggerException, TradewindException
from tradewind.definition.operators.trigger_dagrun import XCOM_LOGICAL_DATE_ISO, XCOM_RUN_ID
from tradewind.execute.try_store import TriggerRunRequest, TryStore


def trigger_dag_run(request: DagRunTriggerException, *, ti: Any, store: TryStore,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Create (or reset) the requested run, push its id to XCom and, if asked, wait for it."""
    log = ti.log
    dag_id = request.trigger_dag_id
    triggered = store.trigger_dag_run(ti.key, TriggerRunRequest(
        trigger_dag_id=dag_id,
        dag_run_id=request.dag_run_id,
        logical_date=request.logical_date if isinstance(request.logical_date, datetime) else None,
        conf=request.conf,
        reset_dag_run=request.reset_dag_run,
        skip_when_already_exists=request.skip_when_already_exists,
        note=request.note,
    ))
    run_id, logical = triggered.run_id, triggered.logical_date
    if triggered.reset:
        log.info("DAG %r already has a run with run_id %r: cleared it (reset_dag_run=True), it runs again",
                 dag_id, run_id)
    else:
        log.info("Triggered DAG %s: run %s (logical date %s)", dag_id, run_id,
                 logical.isoformat() if logical else None)
    if triggered.paused:
        log.warning("DAG %s is paused: run %s starts once it is unpaused", dag_id, run_id)
    ti.xcom_push(XCOM_RUN_ID, run_id)
    if logical is not None:
        ti.xcom_push(XCOM_LOGICAL_DATE_ISO, logical.isoformat())
    if request.wait_for_completion and getattr(request, "deferrable", False):
        from tradewind.execute.dagrun_state_trigger import defer_until_done

        defer_until_done(request, run_id, log=log)  # raises TaskDeferred
    if request.wait_for_completion:
        _wait(request, run_id, store=store, log=log, sleep=sleep)


def _wait(request: DagRunTriggerException, run_id: str, *, store: TryStore, log: Any,
          sleep: Callable[[float], None]) -> None:
    dag_id = request.trigger_dag_id
    while True:
        log.info("Waiting for DAG %s run %s to reach %s (checking every %gs)", dag_id, run_id,
                 "/".join(request.allowed_states), request.poke_interval)
        sleep(request.poke_interval)
        state = store.dagrun_state(dag_id, run_id)
        if state is None:
            raise TradewindException(f"DAG {dag_id!r} run {run_id!r} was deleted while this task waited for it")
        if state in request.failed_states:
            raise TradewindException(f"DAG {dag_id!r} run {run_id!r} ended in state {state!r} "
                                     f"(failed_states {request.failed_states})")
        if state in request.allowed_states:
            log.info("DAG %s run %s reached state %s", dag_id, run_id, state)
            return
