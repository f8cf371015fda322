"""TriggerDagRunOperator(deferrable=True, wait_for_completion=True): the wait is a deferral.

Real DAG files, the real scheduler (tries in this process) and the real triggerer, stepped by
hand: the controller's task defers (no slot held while the target runs), the triggerer's
DagRunStateTrigger fires when the target run ends, and the task resumes in execute_complete.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from sqlalchemy import select

from tradewind.definition.operators.trigger_dagrun import TriggerDagRunOperator
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, TaskInstance, XCom
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.schedule.runs import create_manual_run

TARGET = """
from datetime import datetime
from airflow import DAG
from airflow.operators.python import PythonOperator

def work(params, **_):
    if params["fail"]:
        raise RuntimeError("target told to fail")

with DAG("target", schedule=None, start_date=datetime(2024, 1, 1), params={"fail": False}) as dag:
    PythonOperator(task_id="work", python_callable=work)
"""

CONTROLLER = """
from datetime import datetime
from airflow import DAG
from airflow.operators.trigger_dagrun import TriggerDagRunOperator

with DAG("controller", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    TriggerDagRunOperator(task_id="trigger", trigger_dag_id="target", trigger_run_id="waited",
                          conf={"fail": FAIL}, wait_for_completion=True, deferrable=True, poke_interval=0.05)
"""


def _state(db, model, **where):
    with db.read_scope() as s:
        query = select(model.state)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return s.scalar(query)


def _drive(config, db) -> list[str]:
    """Step scheduler and triggerer until no run is active; the controller task's states seen."""
    from tradewind.execute.executors.inprocess import InProcessExecutor
    from tradewind.execute.triggerer import TriggererRunner
    from tradewind.schedule.scheduler import Scheduler

    scheduler = Scheduler(config, db, InProcessExecutor(config=config, db=db))
    triggerer = TriggererRunner(config, db)
    triggerer.start()
    seen: list[str] = []
    try:
        for _ in range(400):
            scheduler.run_once()
            triggerer.run_once()
            state = _state(db, TaskInstance, dag_id="controller", task_id="trigger")
            if state and (not seen or seen[-1] != state):
                seen.append(state)
            with db.read_scope() as s:
                active = s.scalars(select(DagRun.run_id).where(DagRun.state.in_(("queued", "running")))).all()
            if not active:
                return seen
        raise AssertionError(f"runs still active; controller task states seen: {seen}")
    finally:
        triggerer.close()


@pytest.mark.parametrize("fail", [False, True])
def test_deferrable_wait_defers_and_resumes_with_the_target_runs_outcome(config, db, fail: bool) -> None:
    (config.dags_folder / "target_dag.py").write_text(TARGET)
    (config.dags_folder / "controller_dag.py").write_text(textwrap.dedent(CONTROLLER).replace("FAIL", str(fail)))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        for dag_id in ("target", "controller"):
            set_paused(s, dag_id, False)
        version, snapshot = latest_snapshot(s, "controller")
        create_manual_run(s, snapshot, version.id, run_id="ctl", now=utcnow())

    seen = _drive(config, db)

    assert "deferred" in seen, seen
    assert _state(db, DagRun, dag_id="target", run_id="waited") == ("failed" if fail else "success")
    assert seen[-1] == ("failed" if fail else "success")
    with db.read_scope() as s:
        pushed = dict(s.execute(select(XCom.key, XCom.value).where(XCom.dag_id == "controller")).all())
    assert json.loads(pushed["trigger_run_id"]) == "waited"
    logs = "".join(p.read_text() for p in config.logs_folder.rglob("dag_id=controller/**/task_id=trigger/*.log"))
    assert "Deferring until DAG target run waited reaches success/failed" in logs
    if fail:
        assert "DAG 'target' run 'waited' ended in state 'failed'" in logs
    else:
        assert "DAG target run waited reached state success" in logs


def test_deferrable_is_accepted_and_airflow2_execution_date_is_noted() -> None:
    op = TriggerDagRunOperator(task_id="t", trigger_dag_id="x", deferrable=True, execution_date="2024-01-01",
                               fail_when_dag_is_paused=True)
    assert op.deferrable is True
    assert op.logical_date == "2024-01-01"
    assert any("execution_date is deprecated" in n for n in op.deprecation_notes)
    assert any("fail_when_dag_is_paused" in n for n in op.deprecation_notes)
