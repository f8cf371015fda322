"""InProcessExecutor, the runner's process entry point and DAG-level callbacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from runner_support import add_dag, queue, ti_row, workload

from tradewind.execute.callbacks import DagCallbackRunner, callback_log_path, run_dag_callback
from tradewind.execute.executors import make_executor
from tradewind.schedule.executor_interface import Waker
from tradewind.execute.executors.inprocess import InProcessExecutor
from tradewind.execute.executors.local import LocalExecutor
from tradewind.schedule.callbacks import DagCallbackRequest

DAG = """
OUT = os.environ.get("CB_OUT", "/dev/null")

def dag_cb(context):
    with open(OUT, "a") as fh:
        fh.write(json.dumps({"run_id": context["run_id"], "reason": context.get("reason"),
                             "task": context["ti"].task_id if context["ti"] else None,
                             "conf": context["dag_run"].conf}) + "\\n")

def hello():
    print("hello from the task")
    return "hi"

def fail():
    raise RuntimeError("nope")

with DAG("inproc", start_date=datetime(2024, 1, 1), schedule=None,
         on_success_callback=dag_cb, on_failure_callback=dag_cb):
    PythonOperator(task_id="hello", python_callable=hello)
    PythonOperator(task_id="fail", python_callable=fail)
"""


def test_inprocess_executor_runs_synchronously_and_emits_event(config, db) -> None:
    fileloc = add_dag(config, db, "inproc", DAG)
    waker = Waker()
    echo = io.StringIO()
    ex = InProcessExecutor(1, waker, config=config, db=db, echo=echo)
    ex.start()
    key = queue(db, "inproc", "hello")
    assert ex.slots_available() == 1
    ex.queue_workload(workload(key, fileloc))
    assert waker.wait(0)  # woken right away
    [event] = ex.collect_events()
    assert event.key == key and event.return_code == 0 and event.recorded
    assert ti_row(db, key).state == "success"
    assert "hello from the task" in echo.getvalue()  # dags test shows the log lines
    ex.end()


def test_make_executor_follows_config(config) -> None:
    assert isinstance(make_executor(config), LocalExecutor)
    from tradewind.config import Config

    other = Config.load(home=config.home, environ={}, overrides={"core": {"executor": "inprocess"}})
    assert isinstance(make_executor(other), InProcessExecutor)
    bad = Config.load(home=config.home, environ={}, overrides={"core": {"executor": "nope"}})
    try:
        make_executor(bad)
    except ValueError as exc:
        assert "'nope'" in str(exc)
    else:
        raise AssertionError("unknown executor accepted")


def test_runner_module_entry_point(config, db) -> None:
    fileloc = add_dag(config, db, "inproc", DAG)
    key = queue(db, "inproc", "hello")
    wl = workload(key, fileloc)
    env = {**config.as_environ(), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "tradewind.execute.local_try", "--workload", json.dumps(wl.to_dict())]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert ti_row(db, key).state == "success"
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 3  # not claimed: nothing ran twice
    bad = subprocess.run([sys.executable, "-m", "tradewind.execute.local_try", "--workload", "{"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not a valid Workload JSON" in bad.stderr


def test_run_dag_callback_calls_dag_callback_with_context(config, db, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "dag_cb.jsonl"
    monkeypatch.setenv("CB_OUT", str(out))
    fileloc = add_dag(config, db, "inproc", DAG, conf={"k": "v"})
    key = queue(db, "inproc", "fail")
    InProcessExecutor(1, config=config, db=db).queue_workload(workload(key, fileloc))
    request = DagCallbackRequest(dag_id="inproc", run_id="run1", fileloc=fileloc, success=False, reason="task_failure")
    assert run_dag_callback(request, config=config, db=db)
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert line == {"run_id": "run1", "reason": "task_failure", "task": "fail", "conf": {"k": "v"}}
    assert "Running DAG inproc on_failure_callback" in callback_log_path(config.logs_folder, "inproc", "run1").read_text()


def test_dag_callback_runner_uses_a_child_process(config, db, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "dag_cb.jsonl"
    monkeypatch.setenv("CB_OUT", str(out))
    fileloc = add_dag(config, db, "inproc", DAG)
    runner = DagCallbackRunner(config)
    runner(DagCallbackRequest(dag_id="inproc", run_id="run1", fileloc=fileloc, success=True, reason="success"))
    assert runner.wait(120)
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["reason"] == "success" and line["run_id"] == "run1"
    runner.close()


def test_inprocess_executor_takes_parallelism_tries_per_loop_and_reports_each(config, db) -> None:
    fileloc = add_dag(config, db, "inproc", DAG)
    ex = InProcessExecutor(4, config=config, db=db)
    seen = []
    ex.on_result = lambda result: seen.append((result.key.task_id, result.state.value))
    assert ex.slots_available() == 4
    for task_id in ("hello", "fail"):
        ex.queue_workload(workload(queue(db, "inproc", task_id), fileloc))
    assert seen == [("hello", "success"), ("fail", "failed")]
    assert [e.recorded for e in ex.collect_events()] == [True, True]
    try:
        InProcessExecutor(0, config=config, db=db)
    except ValueError as exc:
        assert "parallelism" in str(exc)
    else:
        raise AssertionError("parallelism 0 accepted")
