"""``dags test``: one DAG run, driven to its end by the real scheduler, in this process.

As Airflow's ``dags test``: the file is parsed and its snapshot stored, a run is
created for the logical date, and every task runs in this process (the
:class:`InProcessExecutor`), one at a time, in dependency order. The real
:class:`~tradewind.schedule.scheduler.Scheduler` makes every decision (trigger
rules, retries, skips), so the run and its task instances are recorded in the
database exactly as under ``tradewind scheduler``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from tradewind.observe.cli.common import CliContext, CliError
from tradewind.observe.cli.dagrefs import get_dag_ref, sync_dags

#: States reported as a task "ending" (up_for_retry is reported too: the try ended).
_REPORTED = {"success", "failed", "skipped", "upstream_failed", "removed", "up_for_retry"}


def _create_run(cli: CliContext, db: Any, dag_id: str, logical_date: datetime | None, conf: dict | None) -> str:
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries.runs import delete_run
    from tradewind.schedule.runs import RunCreationError, create_manual_run
    from tradewind.states import DagRunType

    now = utcnow()
    when = logical_date or now
    try:
        with db.session_scope() as session:
            ref = get_dag_ref(session, dag_id)
            # Testing the same date again replaces that test's earlier run, as Airflow's dags test does.
            delete_run(session, dag_id, DagRunType.MANUAL.run_id_for(when.isoformat()))
            run = create_manual_run(session, ref.snapshot, ref.version_id, logical_date=when, conf=conf, now=now)
            return run.run_id
    except RunCreationError as exc:
        raise CliError(str(exc)) from None


#: Slots of a pool lent for the test: more than one in-process test ever has queued at once.
_LENT_POOL_SLOTS = 1024
_LENT_MARK = "lent by `tradewind dags test"


def _lend_missing_pools(db: Any, dag_id: str) -> list[str]:
    """Create the pools the DAG's tasks name that do not exist, for the test only.

    Airflow's ``dags test`` / ``dag.test()`` runs tasks without the scheduler's pool checks, so a
    task in a pool nobody created still runs there (a scheduler leaves it waiting forever). Our
    test is driven by the real scheduler, so it lends such a pool for the run and says so.
    """
    from tradewind.persist.queries.pools import get_pool, set_pool

    lent: list[str] = []
    with db.session_scope() as session:
        needed = sorted({t.pool for t in get_dag_ref(session, dag_id).snapshot.tasks.values()})
        for name in needed:
            pool = get_pool(session, name)
            # A test killed before it could delete its lent pool left that row: lend it again.
            if pool is None or (pool.description or "").startswith(_LENT_MARK):
                set_pool(session, name, _LENT_POOL_SLOTS,
                         f"{_LENT_MARK} {dag_id}` while it runs (the pool does not exist)")
                lent.append(name)
    for name in lent:
        print(f"[dags test] note: pool {name!r} does not exist; Airflow's dags test runs tasks without pool "
              f"checks, so this test lends it ({_LENT_POOL_SLOTS} slots) and deletes it when the run ends",
              flush=True)
    return lent


def _return_pools(db: Any, names: list[str]) -> None:
    from tradewind.persist.queries.pools import delete_pool

    with db.session_scope() as session:
        for name in names:
            delete_pool(session, name)


def _report(label: str, state: str, try_number: int, reported: dict[str, tuple[str, int]]) -> None:
    mark = (state, try_number)
    if state not in _REPORTED or reported.get(label) == mark:
        return
    reported[label] = mark
    tries = f" (try {try_number})" if try_number > 1 or state == "up_for_retry" else ""
    print(f"[dags test] {label}: {state}{tries}", flush=True)


def _label(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def _report_new_states(db: Any, dag_id: str, run_id: str, reported: dict[str, tuple[str, int]]) -> str:
    """Print each task instance that reached an end state since the last call; return the run's state.

    Tries are printed as they end (``on_result``); this catches the states the scheduler
    decided itself (skipped, upstream_failed, removed). Reads four columns, not whole rows.
    """
    from sqlalchemy import select

    from tradewind.persist.models import DagRun, TaskInstance

    with db.read_scope() as session:  # a read: no write lock
        state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.try_number)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id,
                   TaskInstance.state.in_(sorted(_REPORTED)))
            .order_by(TaskInstance.id)
        ).all()
    for task_id, map_index, ti_state, try_number in rows:
        _report(_label(task_id, map_index), ti_state, try_number, reported)
    return state or "failed"


def run_dag_test(cli: CliContext, dag_id: str, *, logical_date: datetime | None, conf: dict | None) -> bool:
    """Run the DAG once; True if the run succeeded."""
    from tradewind.execute.triggerer import run_deferred_inline
    from tradewind.observe.runtime import build_executor, install_connection_backend, install_variable_backend
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries.jobs import end_job
    from tradewind.schedule.scheduler import Scheduler

    db = sync_dags(cli, local=True)  # it imports the file anyway: parse it fresh
    install_variable_backend(db)
    install_connection_backend(db, cli.config)  # DAG-level callbacks read connections too
    from tradewind.execute.hitl_answers import use_database as hitl_answers_from

    hitl_answers_from(db)  # a HITL task's inline trigger sees answers given through the API/CLI
    # Built before the run exists, so a configuration error leaves no orphan run behind.
    executor = build_executor(cli.config, db, "inprocess")
    executor.echo = sys.stdout  # task logs go to the terminal, as in Airflow
    reported: dict[str, tuple[str, int]] = {}
    # Each try is reported as it ends; tries still run one at a time, but one scheduler
    # loop hands over every ready one (up to parallelism) instead of one loop per task.
    executor.on_result = lambda r: r.state is not None and _report(
        _label(r.key.task_id, r.key.map_index), r.state.value, r.key.try_number, reported)
    run_id = _create_run(cli, db, dag_id, logical_date, conf)
    from tradewind.execute.callbacks import run_dag_callback

    # As Airflow's dags test: the DAG's on_success/on_failure callback runs here, when the run ends.
    scheduler = Scheduler(cli.config, db, executor, only_run=(dag_id, run_id),
                          callback_sink=lambda request: run_dag_callback(request, config=cli.config, db=db))
    print(f"[dags test] created run {run_id} of DAG {dag_id}", flush=True)
    executor.start()
    state = "queued"
    lent_pools = _lend_missing_pools(db, dag_id)
    try:
        while state not in ("success", "failed"):
            did = scheduler.run_once()
            state = _report_new_states(db, dag_id, run_id, reported)
            if not did and state not in ("success", "failed"):
                # Nothing else to do: a deferred task's trigger runs here (no triggerer in
                # dags test, as in Airflow) until it fires; else wait for the next deadline.
                if not run_deferred_inline(db, dag_id, run_id):
                    executor.waker.wait(min(scheduler.max_idle_wait, 1.0))
    finally:
        executor.end(wait=True)
        _return_pools(db, lent_pools)
        if scheduler.job_id is not None:
            with db.session_scope() as session:
                end_job(session, scheduler.job_id, utcnow())
    stream = sys.stdout if state == "success" else sys.stderr
    print(f"[dags test] run {run_id} of DAG {dag_id}: {state}", file=stream, flush=True)
    return state == "success"
