"""End-to-end: ``tradewind standalone`` and ``tradewind scheduler`` as real processes."""

from __future__ import annotations

import signal

import httpx
import pytest
from cli_support import SCHEDULED_DAG, SMALL_DAG, Home, free_port, wait_for
from sqlalchemy import select

from tradewind.persist.db import Database
from tradewind.persist.models import Job

pytestmark = pytest.mark.slow

# Generous: the CI machine is small and shared; these bound a hang, they do not measure speed.
START_DEADLINE = 30.0
RUN_DEADLINE = 90.0


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home")


def _health(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2.0).json()


def _stop(proc) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


def test_standalone_serves_health_and_stops_on_sigterm(home):
    port = free_port()
    proc = home.popen("standalone", "--port", str(port))
    try:
        health = wait_for(
            lambda: (h := _health(port))["scheduler"]["status"] == "healthy" and h,
            deadline=START_DEADLINE, what="standalone health",
        )
    finally:
        code, out = _stop(proc)
    assert health["metadatabase"] == {"status": "healthy"}
    assert health["scheduler"]["latest_scheduler_heartbeat"].endswith("+00:00")
    assert code == 0, out
    assert "Stopped." in out
    assert f"http://localhost:{port}/api/v1/health" in out
    # The home was created from scratch.
    assert (home.path / "tradewind.cfg").is_file()
    # A clean stop ends the scheduler (and triggerer) job instead of leaving a stale "running" one.
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    with db.session_scope() as session:
        states = {(j.job_type, j.state) for j in session.scalars(select(Job))}
    db.engine.dispose()
    # (The DAG-processor child's own job, once it keeps one, ends the same way: nothing stays "running".)
    assert {("scheduler", "success"), ("triggerer", "success")} <= states
    assert {state for _type, state in states} == {"success"}, states


def test_standalone_port_in_use_is_a_clear_error(home):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = home.run("standalone", "--port", str(port), "--host", "127.0.0.1", timeout=60)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "already in use" in result.stderr


def test_scheduled_dag_runs_to_success_under_standalone(home):
    home.add_dag("every_day.py", SCHEDULED_DAG)
    port = free_port()
    proc = home.popen("standalone", "--port", str(port))
    try:
        runs = wait_for(
            lambda: [r for r in home.json("dags", "list-runs", "every_day") if r["state"] == "success"],
            deadline=RUN_DEADLINE, interval=1.0, what="a successful scheduled run",
        )
    finally:
        code, out = _stop(proc)
    assert runs[0]["run_id"].startswith("scheduled__")
    assert code == 0, out


def test_scheduler_command_runs_a_triggered_dag(home):
    home.ok("db", "migrate")
    home.add_dag("small_dag.py", SMALL_DAG)
    home.ok("dags", "trigger", "small", "--run-id", "from_cli")
    proc = home.popen("scheduler")
    try:
        wait_for(
            lambda: home.json("dags", "list-runs", "small", "--state", "success"),
            deadline=RUN_DEADLINE, interval=1.0, what="the triggered run to succeed",
        )
    finally:
        code, out = _stop(proc)
    states = {t["task_id"]: t["state"] for t in home.json("tasks", "states-for-dag-run", "small", "from_cli")}
    assert states == {"hello": "success", "shout": "success"}
    assert code == 0, out


def test_scheduler_refuses_unmigrated_database(home):
    result = home.run("scheduler", timeout=60)
    assert result.returncode == 1
    assert "tradewind db migrate" in result.stderr


def _dag_processor_pids(parent_pid: int) -> list[int]:
    import psutil

    return [
        p.pid for p in psutil.process_iter(["cmdline", "ppid"])
        if "dag-processor" in (p.info["cmdline"] or []) and str(parent_pid) in (p.info["cmdline"] or [])
    ]


def test_dag_processor_command_stores_dags_and_stops_on_sigterm(home):
    from tradewind.persist.models import DagModel, ImportError_

    home.ok("db", "migrate")
    home.add_dag("small_dag.py", SMALL_DAG)
    home.add_dag("broken_dag.py", "from tradewind import DAG\nDAG('broken', schedule='not a cron')\n")
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")

    def stored():  # read the DB directly: CLI listings parse by themselves
        with db.session_scope() as session:
            dag_ids = sorted(session.scalars(select(DagModel.dag_id)))
            errors = [e.filename.rsplit("/", 1)[-1] for e in session.scalars(select(ImportError_))]
        return (dag_ids, errors) if dag_ids and errors else None

    proc = home.popen("dag-processor")
    try:
        dag_ids, errors = wait_for(stored, deadline=START_DEADLINE, what="the dag-processor to store the files")
    finally:
        code, out = _stop(proc)
        db.engine.dispose()
    assert code == 0, out
    assert dag_ids == ["small"]
    assert errors == ["broken_dag.py"]


def test_killed_standalone_leaves_no_dag_processor_behind(home):
    import psutil

    port = free_port()
    proc = home.popen("standalone", "--port", str(port))
    try:
        children = wait_for(lambda: _dag_processor_pids(proc.pid), deadline=START_DEADLINE,
                            what="dag-processor child started")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    gone = wait_for(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                                    for pid in children) or None,
                    deadline=START_DEADLINE, what="dag-processor to exit with its parent")
    assert gone
