"""Task and DAG callbacks get Airflow's full context, in real runs (dags test and the scheduler)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import Home
from sqlalchemy import select

from tradewind.execute.callbacks import DagCallbackRunner
from tradewind.execute.executors.inprocess import InProcessExecutor
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler

DAGS = '''
import json, os
from datetime import datetime, timedelta
from tradewind import DAG, EmptyOperator, PythonOperator, TaskSkipped

def record(kind):
    def callback(context):
        ti = context["ti"]
        exc = context.get("exception")
        entry = {
            "kind": kind, "dag": context["dag"].dag_id, "run_id": context["run_id"],
            "dag_run": context["dag_run"].run_id, "dag_run_conf": context["dag_run"].conf,
            "ds": context["ds"], "logical_date": context["logical_date"].isoformat(),
            "params": dict(context["params"]), "executor": context["conf"].get("core", "executor"),
            "reason": context.get("reason"),
            "ti": [ti.task_id, ti.state, ti.try_number] if ti is not None else None,
            "task_instance_is_ti": context["task_instance"] is ti,
            "task": context["task"].task_id if context["task"] is not None else None,
            "exception": f"{type(exc).__name__}: {exc}" if exc is not None else None,
            "templates_dict": context["templates_dict"],
        }
        with open(os.environ["CB_OUT"], "a") as f:
            f.write(json.dumps(entry) + "\\n")
    return callback

def boom():
    raise ValueError("kaput")

def skip():
    raise TaskSkipped("nothing to do")

with DAG("cb_fail", schedule=None, start_date=datetime(2024, 1, 1), params={"team": "data"},
         on_failure_callback=record("dag_failure"), on_success_callback=record("dag_success")) as fail_dag:
    first = PythonOperator(task_id="first", python_callable=lambda: 1, templates_dict={"day": "{{ ds }}"},
                           on_execute_callback=record("execute"), on_success_callback=record("success"))
    broken = PythonOperator(task_id="boom", python_callable=boom, retries=1, retry_delay=timedelta(0),
                            on_retry_callback=record("retry"), on_failure_callback=record("failure"))
    after = EmptyOperator(task_id="after", on_failure_callback=record("never"))
    skipper = PythonOperator(task_id="skipper", python_callable=skip, on_skipped_callback=record("skipped"))
    first >> broken >> after

with DAG("cb_ok", schedule=None, start_date=datetime(2024, 1, 1),
         on_failure_callback=record("dag_failure"), on_success_callback=[record("dag_success"), record("again")]) as ok_dag:
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
'''


def entries(path: Path) -> dict[str, dict]:
    out = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        out.setdefault(entry["kind"], entry)
    return out


def test_dags_test_runs_task_and_dag_callbacks_with_full_context(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.ok("db", "migrate")
    home.add_dag("cb_dags.py", DAGS)
    out = tmp_path / "callbacks.jsonl"
    home.env["CB_OUT"] = str(out)
    result = home.run("dags", "test", "cb_fail", "2024-05-06", "--conf", '{"team": "ml", "k": 1}')
    assert result.returncode == 1, result.stdout + result.stderr
    got = entries(out)
    assert set(got) == {"execute", "success", "retry", "failure", "skipped", "dag_failure"}
    common = {"dag": "cb_fail", "ds": "2024-05-06", "params": {"team": "ml", "k": 1}, "executor": "local",
              "dag_run_conf": {"team": "ml", "k": 1}, "task_instance_is_ti": True}
    for entry in got.values():
        assert {k: entry[k] for k in common} == common, entry
        assert entry["run_id"] == entry["dag_run"] and entry["logical_date"].startswith("2024-05-06T00:00:00")
    assert got["execute"]["ti"] == ["first", "running", 1] and got["execute"]["exception"] is None
    assert got["success"]["ti"] == ["first", "success", 1]
    assert got["success"]["templates_dict"] == {"day": "2024-05-06"}
    assert got["retry"]["ti"] == ["boom", "up_for_retry", 1]
    assert got["retry"]["exception"] == "ValueError: kaput"
    assert got["failure"]["ti"] == ["boom", "failed", 2]
    assert got["failure"]["exception"] == "ValueError: kaput"
    assert got["skipped"]["ti"] == ["skipper", "skipped", 1]
    assert got["skipped"]["exception"] == "TaskSkipped: nothing to do"
    dag_failure = got["dag_failure"]
    # The task that failed, not "after" (upstream_failed, which ended later).
    assert dag_failure["reason"] == "task_failure"
    assert dag_failure["ti"] == ["boom", "failed", 2] and dag_failure["task"] == "boom"
    assert dag_failure["exception"] is None


def test_scheduler_callback_runner_gives_success_callbacks_the_run_context(config, db, tmp_path: Path,
                                                                          monkeypatch) -> None:
    out = tmp_path / "callbacks.jsonl"
    monkeypatch.setenv("CB_OUT", str(out))
    (config.dags_folder / "cb_dags.py").write_text(DAGS)
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        set_paused(s, "cb_ok", False)
        version, snapshot = latest_snapshot(s, "cb_ok")
        run_id = create_manual_run(s, snapshot, version.id, conf={"x": 2}, now=utcnow()).run_id
    runner = DagCallbackRunner(config)  # each callback in its own process, as under `tradewind scheduler`
    scheduler = Scheduler(config, db, InProcessExecutor(config=config, db=db), callback_sink=runner.submit)
    for _ in range(50):
        scheduler.run_once()
        with db.read_scope() as s:
            if s.scalar(select(DagRun.state).where(DagRun.run_id == run_id)) == "success":
                break
    assert runner.wait(60)
    got = entries(out)
    assert set(got) == {"dag_success", "again"}
    success = got["dag_success"]
    assert success["reason"] == "success" and success["run_id"] == run_id
    assert success["dag_run_conf"] == {"x": 2} and success["params"] == {"x": 2}
    assert success["ti"] == ["b", "success", 1] and success["task"] == "b"  # the last task to finish
    assert success["executor"] == "local"
