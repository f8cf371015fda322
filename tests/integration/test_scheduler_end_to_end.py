"""The scheduler with real DAG files, the real parser and real executors (no stepping by hand)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tradewind.persist.models import DagRun, TaskInstance, TaskInstanceTry
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler

DAG_FILE = '''
from datetime import datetime, timedelta
from pathlib import Path
from tradewind import DAG, BranchPythonOperator, EmptyOperator, PythonOperator, TriggerRule

def flaky(attempt_file):
    # Fails on the first try, succeeds on the second: exercises retries end to end.
    p = Path(attempt_file)
    n = int(p.read_text()) if p.exists() else 0
    p.write_text(str(n + 1))
    if n == 0:
        raise RuntimeError("first try fails")
    return n + 1

with DAG(dag_id="e2e", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    start = EmptyOperator(task_id="start")
    choose = BranchPythonOperator(task_id="choose", python_callable=lambda: "left")
    left = PythonOperator(task_id="left", python_callable=flaky,
                          op_kwargs={"attempt_file": "ATTEMPT_FILE"}, retries=1, retry_delay=timedelta(0))
    right = EmptyOperator(task_id="right")
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    start >> choose >> [left, right] >> join
'''


@pytest.fixture
def e2e_dag(config, db, tmp_path: Path):
    (config.dags_folder / "e2e_dag.py").write_text(DAG_FILE.replace("ATTEMPT_FILE", str(tmp_path / "attempts")))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        set_paused(s, "e2e", False)
        found = latest_snapshot(s, "e2e")
        assert found is not None, "the DAG file did not parse"
        version, snapshot = found
        run = create_manual_run(s, snapshot, version.id, now=_now())
        return run.run_id


def _now():
    from tradewind.persist.db import utcnow

    return utcnow()


def _states(db, run_id):
    with db.session_scope() as s:
        run = s.scalars(select(DagRun).where(DagRun.run_id == run_id)).one()
        tis = {ti.task_id: (ti.state, ti.try_number) for ti in s.scalars(select(TaskInstance))}
        return run.state, tis


def _assert_finished_as_expected(db, run_id):
    state, tis = _states(db, run_id)
    assert state == "success", tis
    assert tis == {
        "start": ("success", 1), "choose": ("success", 1), "left": ("success", 2),
        "right": ("skipped", 0), "join": ("success", 1),
    }
    with db.session_scope() as s:
        tries = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.task_id == "left")
                          .order_by(TaskInstanceTry.try_number)).all()
        assert [t.state for t in tries] == ["failed", "success"]


def test_inprocess_executor_stepped(config, db, e2e_dag):
    from tradewind.execute.executors.inprocess import InProcessExecutor

    executor = InProcessExecutor(config=config, db=db)
    scheduler = Scheduler(config, db, executor)
    for _ in range(50):
        scheduler.run_once()
        if _states(db, e2e_dag)[0] != "running" and _states(db, e2e_dag)[0] != "queued":
            break
    _assert_finished_as_expected(db, e2e_dag)


def test_local_executor_run_forever(config, db, e2e_dag):
    from tradewind.execute.executors.local import LocalExecutor

    executor = LocalExecutor(2, config=config)
    scheduler = Scheduler(config, db, executor)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _states(db, e2e_dag)[0] in ("queued", "running"):
            time.sleep(0.05)
    finally:
        stop.set()
        executor.waker.wake()
        thread.join(30)
    assert not thread.is_alive()
    _assert_finished_as_expected(db, e2e_dag)
