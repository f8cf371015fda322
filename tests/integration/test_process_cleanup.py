"""No process a try started outlives the try — real processes, real SQLite.

However a try ends (success, exception, ``execution_timeout``, the executor's kill, or its
process SIGKILLed), every ``sleep`` it started — in bash's own session, in a ``setsid``
session, or from Python with ``start_new_session`` — must be gone soon after. Each test tags
its sleeps with a unique duration (``sleep 300.<tag><n>``) and finds them with psutil by that
exact argument, so parallel tests never see each other's; a ``sleep`` the test starts itself,
outside any try, must survive (the cleanup touches nothing else on the machine).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cli_support import wait_for
from resilience_support import Cluster, running_pid
from runner_support import add_dag, queue, ti_row, workload

from tradewind.definition.operators.bash import BashOperator
from tradewind.definition.dag import DAG
from tradewind.execute.executors.local import LocalExecutor
from tradewind.schedule.executor_interface import ExecutorEvent, Waker

#: Bounds a hang; not a speed measure.
DEADLINE = 30.0

DAG_BODY = """
import signal, subprocess

def sleep_arg(n):
    return os.environ["SLEEP_TAG"] + str(n)

def detached_then_return():
    subprocess.Popen(["sleep", sleep_arg(3)], start_new_session=True)
    return "left a sleep behind"

def detached_then_raise():
    subprocess.Popen(["sleep", sleep_arg(4)], start_new_session=True)
    raise ValueError("failing with a sleep behind")

def detached_then_hang():
    subprocess.Popen(["sleep", sleep_arg(7)], start_new_session=True)
    time.sleep(120)

def stubborn():
    # Neither the try nor its child give in to SIGTERM: only SIGKILL ends them.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen(["bash", "-c", f"trap '' TERM; exec sleep {sleep_arg(8)}"], start_new_session=True)
    time.sleep(120)

with DAG("leaky", start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id="bash_background", bash_command="sleep ${SLEEP_TAG}1 & echo started")
    BashOperator(task_id="bash_setsid",
                 bash_command="setsid sleep ${SLEEP_TAG}2 > /dev/null 2>&1 & echo started")
    PythonOperator(task_id="py_return", python_callable=detached_then_return)
    PythonOperator(task_id="py_raise", python_callable=detached_then_raise)
    BashOperator(task_id="bash_hang", bash_command="sleep ${SLEEP_TAG}5 & sleep ${SLEEP_TAG}6; wait")
    PythonOperator(task_id="py_hang", python_callable=detached_then_hang)
    PythonOperator(task_id="py_stubborn", python_callable=stubborn)
    BashOperator(task_id="bash_timeout", execution_timeout=timedelta(seconds=1),
                 bash_command="setsid sleep ${SLEEP_TAG}9 > /dev/null 2>&1 & sleep ${SLEEP_TAG}10; wait")
"""


# ------------------------------------------------------------------------- helpers
def new_tag() -> str:
    """A prefix no other test (or process) uses: ``sleep <tag><n>`` is about 300 s."""
    return f"300.{os.getpid()}{random.randrange(10**6):06d}0"


def sleeps(arg: str) -> list[psutil.Process]:
    """Live (non-zombie) ``sleep <arg>`` processes."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if len(cmdline) == 2 and cmdline[1] == arg and os.path.basename(cmdline[0]) == "sleep" \
                and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def wait_sleeps_gone(tag: str, numbers: list[int]) -> None:
    args = [f"{tag}{n}" for n in numbers]
    wait_for(lambda: not any(sleeps(a) for a in args), what=f"the try's sleeps {args} to be killed", deadline=DEADLINE)


def wait_events(ex: LocalExecutor, count: int) -> list[ExecutorEvent]:
    events: list[ExecutorEvent] = []
    deadline = time.monotonic() + DEADLINE * 2
    while len(events) < count:
        assert time.monotonic() < deadline, f"only {len(events)} of {count} events: {events}"
        ex.waker.wait(1.0)
        events.extend(ex.collect_events())
    return events


@pytest.fixture
def tag(monkeypatch) -> str:
    value = new_tag()
    monkeypatch.setenv("SLEEP_TAG", value)  # inherited by the fork server, so by every try
    return value


@pytest.fixture
def bystander(tag) -> Iterator[subprocess.Popen[bytes]]:
    """A sleep of the test's own, in its own session like the tries' ones: must survive."""
    proc = subprocess.Popen(["sleep", f"{tag}99"], start_new_session=True)
    yield proc
    assert proc.poll() is None, "the cleanup killed a process that no try started"
    proc.kill()
    proc.wait()


@pytest.fixture
def executor(config, db, tag) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(2, Waker(), config=config)
    ex.kill_grace = 1.0
    ex.start()
    yield ex
    ex.end(wait=False)


@pytest.fixture
def fileloc(config, db, tag) -> str:
    return add_dag(config, db, "leaky", DAG_BODY)


def run_to_end(ex: LocalExecutor, db, fileloc: str, task_id: str, timeout: float | None = None):
    key = queue(db, "leaky", task_id)
    ex.queue_workload(workload(key, fileloc, timeout=timeout))
    [event] = wait_events(ex, 1)
    return key, event


# -------------------------------------------------------------- ended normally
@pytest.mark.parametrize("task_id, number", [
    ("bash_background", 1),  # `sleep &` in bash's process group
    ("bash_setsid", 2),  # left bash's group and session, then lost its parent
    ("py_return", 3),  # Python child in a session of its own
])
def test_successful_try_leaves_nothing_running(executor, db, fileloc, tag, bystander, task_id, number) -> None:
    key, event = run_to_end(executor, db, fileloc, task_id)
    assert event.recorded and ti_row(db, key).state == "success"
    wait_sleeps_gone(tag, [number])
    assert bystander.poll() is None


def test_failed_try_leaves_nothing_running(executor, db, fileloc, tag, bystander) -> None:
    key, event = run_to_end(executor, db, fileloc, "py_raise")
    assert event.recorded and ti_row(db, key).state == "failed"
    wait_sleeps_gone(tag, [4])


def test_timed_out_bash_try_leaves_nothing_running(executor, db, fileloc, tag, bystander) -> None:
    key, event = run_to_end(executor, db, fileloc, "bash_timeout", timeout=1)
    row = ti_row(db, key)
    assert event.recorded and row.state == "failed" and "timed out" in (row.note or "")
    wait_sleeps_gone(tag, [9, 10])


# ------------------------------------------------------------- ended abruptly
@pytest.mark.parametrize("task_id, numbers", [("bash_hang", [5, 6]), ("py_hang", [7])])
def test_sigkilled_try_leaves_nothing_running(executor, db, fileloc, tag, bystander, task_id, numbers) -> None:
    key = queue(db, "leaky", task_id)
    executor.queue_workload(workload(key, fileloc))
    wait_for(lambda: all(sleeps(f"{tag}{n}") for n in numbers), what="the try's sleeps to start", deadline=DEADLINE)
    pid = executor.pid_of(key)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    [event] = wait_events(executor, 1)
    assert event.key == key and event.return_code == -signal.SIGKILL and not event.recorded
    wait_sleeps_gone(tag, numbers)
    assert bystander.poll() is None


def test_executor_kill_of_a_stubborn_try_leaves_nothing_running(executor, db, fileloc, tag, bystander) -> None:
    """The try and its child ignore SIGTERM; the executor's SIGKILL ends the try, the rest follows."""
    key = queue(db, "leaky", "py_stubborn")
    executor.queue_workload(workload(key, fileloc))
    wait_for(lambda: sleeps(f"{tag}8"), what="the stubborn sleep to start", deadline=DEADLINE)
    assert executor.kill(key, reason="test")
    [event] = wait_events(executor, 1)
    assert event.return_code == -signal.SIGKILL and not event.recorded
    wait_sleeps_gone(tag, [8])


# ------------------------------------------------------------ BashOperator alone
def test_bash_operator_kills_its_background_jobs_when_the_command_ends(tag) -> None:
    """Without any executor (e.g. ``dags test`` in process): jobs left in bash's group die with it."""
    with DAG("bash_alone"):
        op = BashOperator(task_id="b", bash_command=f"sleep {tag}11 & nohup sleep {tag}12 >/dev/null 2>&1 & echo ok")
    assert op.execute({"task": op, "dag": op.dag, "params": {}}) == "ok"
    wait_sleeps_gone(tag, [11, 12])


# ------------------------------------------------------------ with the scheduler
SCHEDULED_DAG = '''
import subprocess, time
from datetime import datetime, timedelta
from tradewind import DAG, BashOperator, task

with DAG("leaky_sched", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    # The first try hangs with two background sleeps until it is killed; the retry is quick.
    BashOperator(
        task_id="bash_hang", retries=1, retry_delay=timedelta(0),
        bash_command='if [ "$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then sleep TAG1 & sleep TAG2; wait; fi; echo retried',
    )

    @task(retries=0)
    def py_hang():
        subprocess.Popen(["sleep", "TAG3"], start_new_session=True)
        time.sleep(120)

    py_hang()
'''


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path / "home",
        scheduler__task_instance_heartbeat_timeout="3",
        scheduler__task_heartbeat_interval="0.5",
    )
    c.ok("db", "migrate")
    yield c
    c.close()


def both_running(cluster: Cluster, tag: str):
    pids = (running_pid(cluster, "leaky_sched", "bash_hang"), running_pid(cluster, "leaky_sched", "py_hang"))
    return all(pids) and all(sleeps(f"{tag}{n}") for n in (1, 2, 3)) and pids


@pytest.mark.slow
def test_scheduler_records_sigkilled_tries_and_their_processes_die(cluster, tag, bystander) -> None:
    cluster.add_dag("leaky_sched.py", SCHEDULED_DAG.replace("TAG", tag))
    cluster.ok("dags", "trigger", "leaky_sched", "--run-id", "r1")
    cluster.start()
    pids = cluster.wait(lambda: both_running(cluster, tag), what="both tries and their sleeps running")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_sleeps_gone(tag, [1, 2, 3])
    cluster.wait(lambda: cluster.run_states("leaky_sched")[0] in ("success", "failed"), what="the run to end")
    assert cluster.tries("leaky_sched", "bash_hang") == [(1, "failed"), (2, "success")]
    assert cluster.tries("leaky_sched", "py_hang") == [(1, "failed")]
    assert cluster.run_states("leaky_sched") == ["failed"]
    assert bystander.poll() is None
    assert cluster.stop() == 0, cluster.output()


@pytest.mark.slow
def test_tries_killed_after_their_scheduler_died_leave_nothing_running(cluster, tag, bystander) -> None:
    """The fork server outlives its killed scheduler until its tries end, still cleaning up after them."""
    cluster.add_dag("leaky_sched.py", SCHEDULED_DAG.replace("TAG", tag))
    cluster.ok("dags", "trigger", "leaky_sched", "--run-id", "r1")
    cluster.start()
    server = cluster.forkserver()
    pids = cluster.wait(lambda: both_running(cluster, tag), what="both tries and their sleeps running")
    cluster.kill9()
    time.sleep(0.5)  # let the server see its socket close (not a timing assertion)
    assert server.is_running() and server.status() != psutil.STATUS_ZOMBIE
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_sleeps_gone(tag, [1, 2, 3])
    # With its last try gone the orphaned server exits too.
    wait_for(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE,
             what="the orphaned fork server to exit", deadline=DEADLINE)
    assert bystander.poll() is None
