"""TriggerDagRunOperator end to end: real DAG files, the real scheduler and executors."""

from __future__ import annotations

import textwrap
import threading

import pytest
from cli_support import wait_for
from sqlalchemy import select

from tradewind.definition.exceptions import InvalidTaskArgumentError
from tradewind.definition.operators.trigger_dagrun import TriggerDagRunOperator
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, TaskInstance, XCom
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler

TARGET = """
import json, os
from datetime import datetime
from tradewind import DAG, Param, PythonOperator

def work(params, dag_run, **_):
    if params["fail"]:
        raise RuntimeError("target told to fail")
    with open(os.path.join(os.environ.get("TW_TEST_OUT", "/tmp"), f"target_{dag_run.run_id}.json"), "a") as f:
        f.write(json.dumps(dag_run.conf) + "\\n")

with DAG("target", schedule=None, start_date=datetime(2024, 1, 1),
         params={"fail": Param(False, type="boolean"), "rows": Param(1, type="integer")}) as dag:
    PythonOperator(task_id="work", python_callable=work)
"""

CONTROLLER = """
from datetime import datetime
from tradewind import DAG
from tradewind.definition.operators.trigger_dagrun import TriggerDagRunOperator

with DAG("controller", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    TriggerDagRunOperator(task_id="trigger", {args})
"""


def setup_dags(config, db, monkeypatch, tmp_path, args: str) -> str:
    """Store target + controller, unpause both, create a controller run; return its run id."""
    monkeypatch.setenv("TW_TEST_OUT", str(tmp_path))
    (config.dags_folder / "target_dag.py").write_text(TARGET)
    (config.dags_folder / "controller_dag.py").write_text(textwrap.dedent(CONTROLLER).format(args=args))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        for dag_id in ("target", "controller"):
            set_paused(s, dag_id, False)
        version, snapshot = latest_snapshot(s, "controller")
        return create_manual_run(s, snapshot, version.id, run_id="ctl", now=utcnow()).run_id


def run_state(db, dag_id: str, run_id: str) -> str | None:
    with db.read_scope() as s:
        return s.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


def drive_inprocess(config, db, *, until_target_done: bool = True) -> None:
    """Step the scheduler (tries run in this process) until no run is queued or running."""
    from tradewind.execute.executors.inprocess import InProcessExecutor

    scheduler = Scheduler(config, db, InProcessExecutor(config=config, db=db))
    for _ in range(200):
        scheduler.run_once()
        with db.read_scope() as s:
            active = s.scalars(select(DagRun.run_id).where(DagRun.state.in_(("queued", "running")))).all()
        if not active:
            return
    raise AssertionError(f"runs still active: {active}")


def ti_state(db, dag_id: str, run_id: str = "ctl", task_id: str = "trigger") -> str:
    with db.read_scope() as s:
        return s.scalar(select(TaskInstance.state).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id))


def xcoms(db) -> dict[str, object]:
    import json

    with db.read_scope() as s:
        rows = s.execute(select(XCom.key, XCom.value).where(XCom.dag_id == "controller")).all()
    return {k: json.loads(v) if isinstance(v, str) else v for k, v in rows}


def try_log(config, dag_id: str = "controller", attempt: int = 1) -> str:
    return next(config.logs_folder.rglob(f"dag_id={dag_id}/**/task_id=trigger/attempt={attempt}.log")).read_text()


def test_triggers_run_with_rendered_conf_and_pushes_run_id(config, db, monkeypatch, tmp_path) -> None:
    setup_dags(config, db, monkeypatch, tmp_path,
               'trigger_dag_id="target", trigger_run_id="from_{{ run_id }}", '
               'conf={"rows": 5, "day": "{{ ds }}"}, logical_date="2024-03-04T05:06:07+00:00"')
    drive_inprocess(config, db)
    assert ti_state(db, "controller") == "success"
    assert run_state(db, "target", "from_ctl") == "success"
    with db.read_scope() as s:
        run = s.scalars(select(DagRun).where(DagRun.dag_id == "target")).one()
        assert (run.triggered_by, run.run_type, run.external_trigger) == ("operator", "manual", True)
        assert run.logical_date.isoformat().startswith("2024-03-04T05:06:07")
        assert run.conf["rows"] == 5 and run.conf["day"][:2] == "20"
    assert xcoms(db) == {"trigger_run_id": "from_ctl", "trigger_logical_date_iso": "2024-03-04T05:06:07+00:00"}
    assert (tmp_path / "target_from_ctl.json").is_file()


def test_existing_run_fails_skips_or_is_reset(config, db, monkeypatch, tmp_path) -> None:
    setup_dags(config, db, monkeypatch, tmp_path, 'trigger_dag_id="target", trigger_run_id="fixed"')
    drive_inprocess(config, db)
    assert run_state(db, "target", "fixed") == "success"

    def rerun(args: str) -> str:
        (config.dags_folder / "controller_dag.py").write_text(textwrap.dedent(CONTROLLER).format(args=args))
        DagProcessor(config, db).sync_once(force=True)
        with db.session_scope() as s:
            version, snapshot = latest_snapshot(s, "controller")
            run_id = create_manual_run(s, snapshot, version.id, now=utcnow()).run_id
        drive_inprocess(config, db)
        return run_id

    failed = rerun('trigger_dag_id="target", trigger_run_id="fixed"')
    assert ti_state(db, "controller", failed) == "failed"
    log = next(config.logs_folder.rglob(f"dag_id=controller/run_id={failed}/task_id=trigger/attempt=1.log")).read_text()
    assert "DagRunAlreadyExists: DAG 'target' already has a run with run_id 'fixed'" in log

    skipped = rerun('trigger_dag_id="target", trigger_run_id="fixed", skip_when_already_exists=True')
    assert ti_state(db, "controller", skipped) == "skipped"

    out = tmp_path / "target_fixed.json"
    assert len(out.read_text().splitlines()) == 1
    reset = rerun('trigger_dag_id="target", trigger_run_id="fixed", reset_dag_run=True')
    assert ti_state(db, "controller", reset) == "success"
    assert run_state(db, "target", "fixed") == "success"
    assert len(out.read_text().splitlines()) == 2  # the cleared run ran its task again


def test_unknown_dag_and_invalid_conf_fail_the_task_with_the_reason(config, db, monkeypatch, tmp_path) -> None:
    setup_dags(config, db, monkeypatch, tmp_path, 'trigger_dag_id="no_such_dag"')
    drive_inprocess(config, db)
    assert ti_state(db, "controller") == "failed"
    assert "cannot trigger DAG 'no_such_dag': no such DAG" in try_log(config)

    (config.dags_folder / "controller_dag.py").write_text(
        textwrap.dedent(CONTROLLER).format(args='trigger_dag_id="target", conf={"rows": "many"}'))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        version, snapshot = latest_snapshot(s, "controller")
        run_id = create_manual_run(s, snapshot, version.id, run_id="ctl2", now=utcnow()).run_id
    drive_inprocess(config, db)
    assert ti_state(db, "controller", run_id) == "failed"
    log = next(config.logs_folder.rglob("dag_id=controller/run_id=ctl2/task_id=trigger/attempt=1.log")).read_text()
    assert "cannot trigger DAG 'target'" in log and "rows" in log
    with db.read_scope() as s:
        assert s.scalars(select(DagRun).where(DagRun.dag_id == "target")).all() == []


def run_with_local_executor(config, db, dag_id: str, run_id: str) -> None:
    """The scheduler loop in a thread with the local executor (a waiting try holds its own process)."""
    from tradewind.execute.executors.local import LocalExecutor

    executor = LocalExecutor(2, config=config)
    scheduler = Scheduler(config, db, executor)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: run_state(db, dag_id, run_id) in ("success", "failed"), deadline=90,
                 what=f"run {dag_id}/{run_id} to finish")
    finally:
        stop.set()
        executor.waker.wake()
        thread.join(30)
    assert not thread.is_alive()


@pytest.mark.parametrize("fail", [False, True])
def test_wait_for_completion_follows_the_triggered_run(config, db, monkeypatch, tmp_path, fail: bool) -> None:
    setup_dags(config, db, monkeypatch, tmp_path,
               f'trigger_dag_id="target", trigger_run_id="waited", conf={{"fail": {fail}}}, '
               'wait_for_completion=True, poke_interval=0.2')
    run_with_local_executor(config, db, "controller", "ctl")
    assert run_state(db, "target", "waited") == ("failed" if fail else "success")
    assert ti_state(db, "controller") == ("failed" if fail else "success")
    log = try_log(config)
    assert "Waiting for DAG target run waited to reach success" in log
    if fail:
        assert "DAG 'target' run 'waited' ended in state 'failed'" in log
    else:
        assert "DAG target run waited reached state success" in log


def test_bad_arguments_are_refused_at_definition_time() -> None:
    with pytest.raises(InvalidTaskArgumentError, match="allowed_states has unknown DAG run state"):
        TriggerDagRunOperator(task_id="t", trigger_dag_id="x", allowed_states=["done"])
    with pytest.raises(InvalidTaskArgumentError, match="conf must be JSON-serialisable"):
        TriggerDagRunOperator(task_id="t", trigger_dag_id="x", conf={"when": object()})
    with pytest.raises(InvalidTaskArgumentError, match="poke_interval"):
        TriggerDagRunOperator(task_id="t", trigger_dag_id="x", poke_interval=0)
    op = TriggerDagRunOperator(task_id="t", trigger_dag_id="x")
    assert (op.allowed_states, op.failed_states, op.poke_interval) == (["success"], ["failed"], 60)
    assert set(op.template_fields) >= {"trigger_dag_id", "trigger_run_id", "logical_date", "conf"}
