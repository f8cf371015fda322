"""LocalExecutor with its fork server: real processes, real SQLite."""

from __future__ import annotations

import json
import os
import signal
import time

import psutil
import pytest
from cli_support import wait_for
from runner_support import add_dag, queue, ti_row, workload, xcoms

from tradewind.schedule.executor_interface import ExecutorEvent, Waker
from tradewind.execute.executors.local import LocalExecutor
from tradewind.execute.logs import log_path

DAG = """
def pid_file(name):
    return os.path.join(os.environ["PROBE_DIR"], name)

def wait_for_go(**context):
    # Each try says it started, then waits until the test lets it finish.
    ti = context["ti"]
    open(pid_file(f"started-{ti.task_id}"), "w").write(str(os.getpid()))
    deadline = time.time() + 60
    while not os.path.exists(pid_file("go")) and time.time() < deadline:
        time.sleep(0.01)
    print("done", ti.task_id)
    return ti.task_id

def produce():
    return [1, 2, 3]

def consume(ti):
    return sum(ti.xcom_pull(task_ids="produce"))

with DAG("local", start_date=datetime(2024, 1, 1), schedule=None):
    for i in range(4):
        PythonOperator(task_id=f"wait{i}", python_callable=wait_for_go)
    PythonOperator(task_id="produce", python_callable=produce)
    PythonOperator(task_id="consume", python_callable=consume)
    BashOperator(task_id="sleepy", bash_command="echo sleeping; sleep 60 & echo $! > $PROBE_DIR/grandchild; wait",
                 execution_timeout=timedelta(seconds=1))
    BashOperator(task_id="hang", bash_command="echo $$ > $PROBE_DIR/hang; exec sleep 60")
    BashOperator(task_id="noisy", bash_command="echo out-line; echo err-line >&2; python3 -c 'print(42)'")
"""


@pytest.fixture
def fileloc(config, db, probe) -> str:
    return add_dag(config, db, "local", DAG)


@pytest.fixture
def executor(config, probe):
    waker = Waker()
    ex = LocalExecutor(2, waker, config=config)
    ex.start()
    yield ex
    ex.end(wait=False)


def wait_events(ex: LocalExecutor, count: int, timeout: float = 60.0) -> list[ExecutorEvent]:
    events: list[ExecutorEvent] = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(events)} of {count} events: {events}"
        ex.waker.wait(min(remaining, 1.0))
        events.extend(ex.collect_events())
    return events


def test_runs_up_to_parallelism_concurrently(executor, db, fileloc, probe) -> None:
    keys = [queue(db, "local", f"wait{i}") for i in range(4)]
    executor.queue_workload(workload(keys[0], fileloc))
    executor.queue_workload(workload(keys[1], fileloc))
    assert executor.slots_available() == 0
    assert executor.running_keys() == set(keys[:2])
    # Both run at the same time: both report started while neither may finish.
    wait_for(lambda: (probe / "started-wait0").exists() and (probe / "started-wait1").exists())
    assert ti_row(db, keys[0]).state == "running" and ti_row(db, keys[1]).state == "running"
    (probe / "go").touch()
    events = wait_events(executor, 2)
    assert {e.key for e in events} == set(keys[:2])
    assert all(e.return_code == 0 and e.recorded for e in events)
    assert executor.slots_available() == 2
    executor.queue_workload(workload(keys[2], fileloc))
    executor.queue_workload(workload(keys[3], fileloc))
    events = wait_events(executor, 2)
    assert all(ti_row(db, k).state == "success" for k in keys)
    pids = {int((probe / f"started-wait{i}").read_text()) for i in range(4)}
    assert len(pids) == 4 and os.getpid() not in pids  # each try had its own process


def test_sigkill_gives_negative_return_code(executor, db, fileloc, probe) -> None:
    key = queue(db, "local", "wait0")
    executor.queue_workload(workload(key, fileloc))
    pid = int(wait_for(lambda: (probe / "started-wait0").exists() and (probe / "started-wait0").read_text()))
    assert executor.pid_of(key) == pid
    os.kill(pid, signal.SIGKILL)
    [event] = wait_events(executor, 1)
    assert event.key == key and event.return_code == -signal.SIGKILL and not event.recorded
    assert ti_row(db, key).state == "running"  # the scheduler reconciles this from the event


def test_timeout_kills_bash_process_tree(executor, db, fileloc, probe) -> None:
    key = queue(db, "local", "sleepy")
    executor.queue_workload(workload(key, fileloc, timeout=1))
    grandchild = int(wait_for(lambda: (probe / "grandchild").exists() and (probe / "grandchild").read_text().strip()))
    [event] = wait_events(executor, 1)
    assert event.recorded
    row = ti_row(db, key)
    assert row.state == "failed" and "timed out" in (row.note or "")
    wait_for(lambda: not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE)
    assert "sleeping" in log_path(executor.config.logs_folder, key).read_text()


def test_kill_terminates_a_running_try(executor, db, fileloc, probe) -> None:
    executor.kill_grace = 2.0
    key = queue(db, "local", "hang")
    executor.queue_workload(workload(key, fileloc))
    bash_pid = int(wait_for(lambda: (probe / "hang").exists() and (probe / "hang").read_text().strip()))
    assert executor.kill(key)
    [event] = wait_events(executor, 1)
    assert event.key == key
    # SIGTERM reaches the runner, which records the failure (and kills the bash group).
    assert event.recorded and ti_row(db, key).state == "failed"
    wait_for(lambda: not psutil.pid_exists(bash_pid) or psutil.Process(bash_pid).status() == psutil.STATUS_ZOMBIE)


def test_xcom_between_tries_in_processes(executor, db, fileloc) -> None:
    produce = queue(db, "local", "produce")
    executor.queue_workload(workload(produce, fileloc))
    wait_events(executor, 1)
    consume = queue(db, "local", "consume")
    executor.queue_workload(workload(consume, fileloc))
    [event] = wait_events(executor, 1)
    assert event.recorded
    assert json.loads(xcoms(db, consume)["return_value"]) == 6


def test_subprocess_output_reaches_the_log(executor, db, fileloc) -> None:
    key = queue(db, "local", "noisy")
    executor.queue_workload(workload(key, fileloc))
    wait_events(executor, 1)
    text = log_path(executor.config.logs_folder, key).read_text()
    assert "out-line" in text and "err-line" in text and "42" in text


def test_same_workload_twice_runs_once(executor, db, fileloc) -> None:
    key = queue(db, "local", "produce")
    executor.queue_workload(workload(key, fileloc))
    [first] = wait_events(executor, 1)
    executor.queue_workload(workload(key, fileloc))
    [second] = wait_events(executor, 1)
    assert first.recorded and first.return_code == 0
    assert not second.recorded and second.return_code == 3 and "not claimed" in second.info
    assert ti_row(db, key).state == "success"


def test_end_waits_for_running_tries(config, db, fileloc, probe) -> None:
    ex = LocalExecutor(1, Waker(), config=config)
    ex.start()
    key = queue(db, "local", "wait0")
    ex.queue_workload(workload(key, fileloc))
    wait_for(lambda: (probe / "started-wait0").exists())
    (probe / "go").touch()
    ex.end(wait=True)
    assert ti_row(db, key).state == "success"
    assert [e.key for e in ex.collect_events()] == [key]
