"""Sensors with real processes: a reschedule-mode sensor gives its only slot back while it waits
(another task runs meanwhile), continues the same try, and keeps writing the same log file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from cli_support import wait_for
from tradewind.execute.logs import log_path
from tradewind.persist.models import DagRun, TaskInstance, TaskInstanceTry
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.persist.queries.reschedules import list_reschedules
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.workloads import TaskKey
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler

DAG_FILE = '''
from datetime import datetime
from pathlib import Path
from tradewind import DAG, PythonOperator, PythonSensor

FLAG = Path("FLAG_PATH")

with DAG(dag_id="sens_e2e", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    # Higher priority: with one slot it starts first, finds no flag and must give the slot back.
    wait = PythonSensor(task_id="wait", python_callable=FLAG.exists, mode="reschedule",
                        poke_interval=0.2, timeout=120, priority_weight=10)
    make_flag = PythonOperator(task_id="make_flag", python_callable=lambda: FLAG.write_text("ok"))
'''

FAILING_FILE = '''
from datetime import datetime
from tradewind import DAG, PythonSensor

with DAG(dag_id="sens_timeout", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonSensor(task_id="never", python_callable=lambda: False, mode="reschedule", poke_interval=0.1,
                 timeout=0.5, retries=3)
    PythonSensor(task_id="soft", python_callable=lambda: False, mode="reschedule", poke_interval=0.1,
                 timeout=0.5, soft_fail=True)
'''


def _start(config, db, dag_id, body):
    (config.dags_folder / f"{dag_id}.py").write_text(body)
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        set_paused(s, dag_id, False)
        found = latest_snapshot(s, dag_id)
        assert found is not None, "the DAG file did not parse"
        version, snapshot = found
        from tradewind.persist.db import utcnow

        return create_manual_run(s, snapshot, version.id, now=utcnow()).run_id


def _run_state(db, run_id):
    with db.session_scope() as s:
        return s.scalars(select(DagRun.state).where(DagRun.run_id == run_id)).one()


def _run_scheduler_until_done(config, db, run_id, parallelism=1):
    from tradewind.execute.executors.local import LocalExecutor

    executor = LocalExecutor(parallelism, config=config)
    scheduler = Scheduler(config, db, executor)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: _run_state(db, run_id) not in ("queued", "running"), deadline=90,
                 what=f"run {run_id} to finish")
    finally:
        stop.set()
        executor.waker.wake()
        thread.join(30)
    assert not thread.is_alive()


@pytest.fixture
def flag(tmp_path: Path) -> Path:
    return tmp_path / "flag"


def test_reschedule_frees_the_only_slot_and_continues_the_same_try(config, db, flag):
    run_id = _start(config, db, "sens_e2e", DAG_FILE.replace("FLAG_PATH", str(flag)))
    _run_scheduler_until_done(config, db, run_id, parallelism=1)

    assert _run_state(db, run_id) == "success"
    with db.session_scope() as s:
        tis = {ti.task_id: ti for ti in s.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id))}
        assert {t: (ti.state, ti.try_number) for t, ti in tis.items()} == {
            "wait": ("success", 1), "make_flag": ("success", 1)}
        # make_flag could only run in the sensor's slot: it started after the sensor's first poke ended.
        reschedules = list_reschedules(s, "sens_e2e", run_id, "wait")
        assert reschedules and all(r.try_number == 1 for r in reschedules)
        assert tis["make_flag"].start_date >= reschedules[0].end_date
        tries = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.task_id == "wait")).all()
        assert [(t.try_number, t.state) for t in tries] == [(1, "success")]
    log = log_path(config.logs_folder, TaskKey("sens_e2e", run_id, "wait", try_number=1)).read_text()
    assert log.count("Poking callable: exists") == len(reschedules) + 1  # every poke, one file
    assert "Marking task as UP_FOR_RESCHEDULE" in log and "Marking task as SUCCESS" in log
    assert not (log_path(config.logs_folder, TaskKey("sens_e2e", run_id, "wait", try_number=2))).exists()


def test_reschedule_timeout_fails_without_retry_and_soft_fail_skips(config, db):
    run_id = _start(config, db, "sens_timeout", FAILING_FILE)
    _run_scheduler_until_done(config, db, run_id, parallelism=2)
    assert _run_state(db, run_id) == "failed"
    with db.session_scope() as s:
        tis = {ti.task_id: ti for ti in s.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id))}
        assert (tis["never"].state, tis["never"].try_number) == ("failed", 1)  # retries=3 unused
        assert "SensorTimeout" in tis["never"].note
        assert tis["soft"].state == "skipped"
