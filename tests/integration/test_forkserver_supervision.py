"""The local executor supervises its fork server: kill -9 of the server (idle, with a try
running, in a crash loop) and of the scheduler, with real processes and a real SQLite DB."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cli_support import TRADEWIND, Home, celery_home_on_postgres, wait_for
from redis_server import redis_server, redis_url  # noqa: F401 - fixtures
from resilience_support import Cluster, forkserver_child, handed_over, pid_gone, running_pid
from runner_support import add_dag, queue, ti_row, try_row, workload
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tradewind.execute.executors.local import LocalExecutor
from tradewind.schedule.executor_interface import ExecutorEvent, ExecutorUnavailable, Waker

#: The acceptance bound for a replacement fork server (the process, not its warm-up).
REPLACED_WITHIN = 2.0

DAG = """
def probe(name):
    return os.path.join(os.environ["PROBE_DIR"], name)

def nap(**context):
    # Says it started, works ~2 s, then says it finished: a try that outlives a kill -9 nearby.
    with open(probe("started"), "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    time.sleep(2)
    with open(probe("done"), "a") as fh:
        fh.write(f"{os.getpid()}\\n")

def quick():
    return 1

with DAG("sup", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="nap", python_callable=nap)
    PythonOperator(task_id="quick", python_callable=quick)
    BashOperator(task_id="hang", bash_command="echo $$ > $PROBE_DIR/hang; exec sleep 60")
"""


@pytest.fixture
def fileloc(config, db, probe) -> str:
    return add_dag(config, db, "sup", DAG)


@pytest.fixture
def executor(config, probe) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(2, Waker(), config=config)
    ex.start()
    yield ex
    ex.end(wait=False)


def collect_until(ex: LocalExecutor, predicate, timeout: float = 60.0) -> list[ExecutorEvent]:
    """Collect events until ``predicate(events)`` holds."""
    events: list[ExecutorEvent] = []
    deadline = time.monotonic() + timeout
    while not predicate(events):
        assert time.monotonic() < deadline, f"timed out; events so far: {events}"
        ex.waker.wait(0.2)
        events.extend(ex.collect_events())
    return events


def kill_server(ex: LocalExecutor) -> tuple[int, float]:
    pid = ex.server_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid, time.monotonic()


def wait_replaced(ex: LocalExecutor, old: int, deadline: float = 30.0) -> int:
    return wait_for(lambda: ex.server_pid() not in (None, old) and ex.server_pid(), deadline=deadline,
                    interval=0.01, what="a new fork server")


def run_quick(ex: LocalExecutor, db, fileloc: str, try_number: int = 1) -> ExecutorEvent:
    key = queue(db, "sup", "quick", try_number=try_number, max_tries=try_number)
    ex.queue_workload(workload(key, fileloc))
    [event] = collect_until(ex, lambda events: any(e.key == key for e in events))
    return event


def test_killed_idle_server_is_replaced_at_once(executor, db, fileloc, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tradewind.execute.executors.local")
    old, killed_at = kill_server(executor)
    new = wait_replaced(executor, old)
    took = time.monotonic() - killed_at
    assert took < REPLACED_WITHIN, f"the fork server was replaced after {took:.2f}s"
    assert "tradewind.execute.executors.forkserver" in " ".join(psutil.Process(new).cmdline())
    assert pid_gone(old)
    assert f"(pid {old}) killed by signal SIGKILL (9)" in caplog.text
    # One death is no problem to report; the new server runs tries.
    assert executor.helper_problems() == []
    event = run_quick(executor, db, fileloc)
    assert event.recorded and event.return_code == 0
    assert ti_row(db, event.key).state == "success"
    assert executor.slots_available() == 2


def test_running_try_survives_its_server_and_is_reported_after_it_ended(executor, db, fileloc, probe) -> None:
    key = queue(db, "sup", "nap")
    executor.queue_workload(workload(key, fileloc))
    pid = int(wait_for(lambda: (probe / "started").exists() and (probe / "started").read_text().strip()))
    wait_for(lambda: executor.pid_of(key) == pid)
    old, _ = kill_server(executor)
    wait_replaced(executor, old)
    # While it runs, the orphaned try holds its slot, is listed, and nothing reports it ended.
    seen: list[ExecutorEvent] = []
    while not pid_gone(pid):
        seen.extend(executor.collect_events())
        assert seen == [], f"reported while still running: {seen}"
        assert executor.running_keys() == {key} and executor.slots_available() == 1
        time.sleep(0.05)
    [event] = collect_until(executor, lambda events: bool(events), timeout=10)
    assert event.key == key and event.return_code is None and not event.recorded
    assert "ended after its fork server died" in event.info
    assert (probe / "done").read_text().split() == [str(pid)]  # ran once, to its end
    assert (probe / "started").read_text().split() == [str(pid)]
    assert ti_row(db, key).state == "success" and try_row(db, key).state == "success"
    assert executor.slots_available() == 2 and executor.running_keys() == set()


def test_orphaned_try_can_still_be_killed(executor, db, fileloc, probe) -> None:
    executor.kill_grace = 2.0
    key = queue(db, "sup", "hang")
    executor.queue_workload(workload(key, fileloc))
    bash = int(wait_for(lambda: (probe / "hang").exists() and (probe / "hang").read_text().strip()))
    wait_for(lambda: executor.pid_of(key) is not None)
    old, _ = kill_server(executor)
    wait_replaced(executor, old)
    assert executor.kill(key, reason="test kill")
    [event] = collect_until(executor, lambda events: bool(events), timeout=30)
    assert event.key == key and not event.recorded and "test kill" in event.info
    assert ti_row(db, key).state == "failed"  # the runner recorded the SIGTERM itself
    wait_for(lambda: pid_gone(bash), what="the try's bash to die")


def test_crash_loop_backs_off_is_reported_and_recovers(executor, db, fileloc, monkeypatch) -> None:
    executor.restart_policy.window = 12.0
    executor.restart_policy.first_delay = 2.0
    # A configuration the server cannot start with (its Database.from_config rejects the URL);
    # the executor's own config object is untouched, as when an operator breaks the env.
    monkeypatch.setenv("TRADEWIND__DATABASE__URL", "bogus://nowhere")
    old, _ = kill_server(executor)
    delays: list[float] = []

    def crash_looping() -> bool:
        if executor.server_pid() is None and (not delays or delays[-1] != executor.last_restart_delay):
            delays.append(executor.last_restart_delay)
        return executor.restart_policy.crash_looping and executor.server_pid() is None

    wait_for(crash_looping, deadline=60, interval=0.02, what="a crash loop")
    [problem] = executor.helper_problems()
    assert "crash-looping" in problem and "exited with code 1" in problem, problem
    assert delays == sorted(delays) and delays[-1] >= 2.0, delays  # immediate first, then longer
    # While it is down nothing is handed over, and a refused hand-over takes no slot.
    key = queue(db, "sup", "quick")
    with pytest.raises(ExecutorUnavailable, match="crash-looping"):
        executor.queue_workload(workload(key, fileloc))
    assert executor.slots_available() == 2 and executor.running_keys() == set()
    assert executor.alive() is False  # what stops a Celery worker
    # Fixed: the next restart stays up, runs tries, and the problem goes once the deaths age out.
    monkeypatch.delenv("TRADEWIND__DATABASE__URL")
    wait_replaced(executor, old, deadline=60)
    event = run_quick(executor, db, fileloc)
    assert event.recorded and ti_row(db, key).state == "success"
    wait_for(lambda: executor.helper_problems() == [], deadline=30, what="the crash loop to age out")
    assert executor.alive()


def test_hand_over_racing_a_server_death_never_leaks_a_slot(executor, db, fileloc) -> None:
    """kill -9 right before queue_workload: the send finds the socket dead (ExecutorUnavailable,
    no slot kept) or the workload was taken and runs on the replacement; never a lost slot."""
    executor.restart_policy.window = 0.01  # every death counts as a first one: no backoff here
    outcomes = []
    for attempt in range(1, 5):
        key = queue(db, "sup", "quick", try_number=attempt, max_tries=attempt)
        # Read once: between two reads the previous victim's replacement may be starting.
        victim = wait_for(executor.server_pid, what="a fork server")
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the previous kill's server, reaped since: a death just before this hand-over too
        if attempt % 2 == 0:  # else hand over at once, likely before the kill landed
            wait_for(lambda: pid_gone(victim), interval=0.001)
        try:
            executor.queue_workload(workload(key, fileloc))
        except ExecutorUnavailable:
            outcomes.append("unavailable")
            assert executor.slots_available() == 2 and executor.running_keys() == set()
            continue
        [event] = collect_until(executor, lambda events: any(e.key == key for e in events))
        assert event.recorded and ti_row(db, key).state == "success", event
        assert executor.slots_available() == 2
        outcomes.append("ran")
    assert len(outcomes) == 4, outcomes


def test_end_waits_for_an_orphan(config, db, fileloc, probe) -> None:
    ex = LocalExecutor(1, Waker(), config=config)
    ex.start()
    key = queue(db, "sup", "nap")
    ex.queue_workload(workload(key, fileloc))
    wait_for(lambda: ex.pid_of(key) is not None)
    old, _ = kill_server(ex)
    wait_replaced(ex, old)
    ex.end(wait=True)
    assert (probe / "done").exists()
    assert ti_row(db, key).state == "success"
    [event] = ex.collect_events()
    assert event.key == key and "ended after its fork server died" in event.info


def test_remote_server_is_replaced_too(config, probe) -> None:
    ex = LocalExecutor(1, Waker(), config=config, remote=True)
    ex.start()
    try:
        old, killed_at = kill_server(ex)
        wait_replaced(ex, old)
        assert time.monotonic() - killed_at < REPLACED_WITHIN
        assert ex.alive() and ex.helper_problems() == []
    finally:
        ex.end(wait=False)


# ------------------------------------------------------------- through the CLI
CLI_DAG = '''
import os, time
from datetime import datetime
from tradewind import DAG, task

PROBE = "PROBE_DIR"

def mark(name):
    with open(os.path.join(PROBE, name), "a") as fh:
        fh.write(f"{os.getpid()}\\n")

with DAG("sup_cli", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task(retries=2)
    def first():
        mark("first-started")
        time.sleep(3)
        mark("first-done")

    @task(retries=2)
    def second():
        mark("second-done")

    first() >> second()
'''


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "home")
    c.ok("db", "migrate")
    (c.path / "probe").mkdir()
    c.add_dag("sup_cli.py", CLI_DAG.replace("PROBE_DIR", str(c.path / "probe")))
    c.ok("dags", "list")
    yield c
    c.close()


def find_forkserver(cluster: Cluster) -> psutil.Process | None:
    """The scheduler's fork server: its direct child (the tries forked from it look the same)."""
    assert cluster.proc is not None
    return forkserver_child(cluster.proc.pid)


def own_forkserver(cluster: Cluster) -> psutil.Process:
    return cluster.wait(lambda: find_forkserver(cluster), what="the fork server")


@pytest.mark.slow
def test_scheduler_run_survives_a_killed_fork_server(cluster) -> None:
    probe = cluster.path / "probe"
    cluster.start()
    server = own_forkserver(cluster)
    cluster.ok("dags", "trigger", "sup_cli", "--run-id", "r1")
    cluster.wait(lambda: (probe / "first-started").exists(), what="first to run")
    server.kill()
    replacement = cluster.wait(lambda: (p := find_forkserver(cluster)) is not None and p.pid != server.pid and p,
                               deadline=REPLACED_WITHIN + 1, interval=0.02, what="a replacement fork server")
    assert replacement.is_running()
    cluster.wait(lambda: cluster.run_states("sup_cli") == ["success"], what="the run to succeed")
    assert cluster.tries("sup_cli", "first") == [(1, "success")]
    assert cluster.tries("sup_cli", "second") == [(1, "success")]
    assert {t: ti["try_number"] for t, ti in cluster.tis("sup_cli").items()} == {"first": 1, "second": 1}
    assert len((probe / "first-done").read_text().split()) == 1  # ran once
    output = cluster.output()
    assert f"(pid {server.pid}) killed by signal SIGKILL (9)" in output, output
    assert "Traceback" not in output, output
    assert cluster.stop() == 0, cluster.output()


@pytest.mark.slow
def test_fork_server_outlives_its_killed_scheduler_until_its_try_ended(cluster) -> None:
    """A request still in the socket when the scheduler dies is run, and the server stays (no
    BrokenPipeError answering it) until that try recorded its outcome, then exits."""
    probe = cluster.path / "probe"
    scheduler = cluster.start()
    server = own_forkserver(cluster)
    server.suspend()  # the hand-over waits in the socket's buffer
    cluster.ok("dags", "trigger", "sup_cli", "--run-id", "r1")
    cluster.wait(lambda: handed_over(cluster, "sup_cli", "first", scheduler.pid), what="first handed over")
    cluster.kill9()
    server.resume()
    cluster.wait(lambda: running_pid(cluster, "sup_cli", "first"), what="the buffered try to run")
    while not (probe / "first-done").exists():
        assert not pid_gone(server.pid), "the fork server ended before its try:\n" + cluster.output()
        time.sleep(0.05)
    wait_for(lambda: cluster.tis("sup_cli")["first"]["state"] == "success", what="first recorded")
    wait_for(lambda: pid_gone(server.pid), deadline=30, what="the orphaned fork server to exit")
    output = cluster.output()
    assert "BrokenPipeError" not in output and "Traceback" not in output, output
    assert cluster.tries("sup_cli", "first") == [(1, "success")]


# ------------------------------------------------------------- a Celery worker's fork server
CELERY_DAG = '''
import os, time
from datetime import datetime, timedelta
from tradewind import DAG, task

with DAG("sup_celery", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False) as dag:
    @task(queue="qa", retries=1, retry_delay=timedelta(seconds=0))
    def nap():
        with open("MARKER", "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        time.sleep(4)

    nap()
'''


@pytest.fixture
def celery_home(tmp_path: Path, pg_server, redis_url: str) -> Iterator[Home]:  # noqa: F811
    """A home on a fresh PostgreSQL database, ``[core] executor = celery`` with a Redis broker."""
    with celery_home_on_postgres(tmp_path / "home", pg_server, redis_url, executor='celery',
                                 label='supervision') as home:
        yield home


def start_logged(home: Home, name: str, *args: str) -> subprocess.Popen[bytes]:
    with open(home.path / f"{name}.out", "wb") as out:
        return subprocess.Popen([TRADEWIND, *args], env=home.env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_celery_worker_keeps_running_when_its_fork_server_is_killed(celery_home: Home, tmp_path: Path) -> None:
    """Remote mode: the try dies with its server (by design), is reported lost and retried on the
    same worker's replacement server; the worker itself does not stop."""
    home = celery_home
    marker = tmp_path / "nap.pids"
    home.add_dag("sup_celery.py", CELERY_DAG.replace("MARKER", str(marker)))
    procs = [start_logged(home, "api", "api-server"), start_logged(home, "scheduler", "scheduler")]
    worker = start_logged(home, "worker", "celery", "worker", "--queues", "qa", "--hostname", "sup")
    procs.append(worker)

    def output() -> str:
        return "\n".join(f"--- {n} ---\n" + (home.path / f"{n}.out").read_text(errors="replace")[-4000:]
                         for n in ("api", "scheduler", "worker"))

    try:
        server = wait_for(lambda: forkserver_child(worker.pid), deadline=60, what="the worker's fork server")
        wait_for(lambda: home.run("dags", "trigger", "sup_celery", "--run-id", "c1").returncode == 0,
                 deadline=60, what="the DAG to be parsed")
        first = int(wait_for(lambda: marker.exists() and marker.read_text().split()[0], deadline=60,
                             what="try 1 to start"))
        server.kill()
        killed_at = time.monotonic()
        replacement = wait_for(lambda: (p := forkserver_child(worker.pid)) is not None and p.pid != server.pid and p,
                               deadline=10, interval=0.02, what="a replacement fork server")
        assert time.monotonic() - killed_at < REPLACED_WITHIN + 0.5, output()
        wait_for(lambda: pid_gone(first), deadline=10, what="try 1 to die with its server (PDEATHSIG)")
        wait_for(lambda: len(marker.read_text().split()) == 2, deadline=90, what="try 2 to start")
        assert worker.poll() is None, output()
        engine = create_engine(home.env["TRADEWIND__DATABASE__URL"], poolclass=NullPool)
        try:
            def run_state() -> str | None:
                with engine.connect() as conn:
                    return conn.execute(text("SELECT state FROM dag_run WHERE dag_id = 'sup_celery'")).scalar()

            try:
                wait_for(lambda: run_state() == "success", deadline=90, what="the run to succeed")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{output()}") from None
            with engine.connect() as conn:
                tries = conn.execute(text("SELECT try_number, state FROM task_instance_try "
                                          "WHERE dag_id = 'sup_celery' ORDER BY try_number")).all()
        finally:
            engine.dispose()
        assert [tuple(t) for t in tries] == [(1, "failed"), (2, "success")], output()
        assert worker.poll() is None, output()  # the worker did not stop
        assert replacement.is_running()
        assert f"(pid {server.pid}) killed by signal SIGKILL (9)" in output(), output()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, output()  # a normal stop, not a fork server failure
        assert "cannot be kept running" not in output(), output()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
