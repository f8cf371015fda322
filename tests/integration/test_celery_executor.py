"""CeleryExecutor end to end: real redis-server, real PostgreSQL, and real ``tradewind
scheduler``, ``api-server`` and ``celery worker`` processes talking over loopback."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import TRADEWIND, Home, free_port, wait_for
from redis_server import redis_server, redis_url  # noqa: F401 - fixtures
from sqlalchemy import select

from tradewind.persist.db import Database
from tradewind.persist.models import DagRun, TaskInstance

ROUTED_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("routed", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False) as dag:
    a1 = BashOperator(task_id="a1", bash_command="echo a1", queue="qa")
    a2 = BashOperator(task_id="a2", bash_command="echo a2", queue="qa")
    a3 = BashOperator(task_id="a3", bash_command="echo a3", queue="qa")
    b1 = BashOperator(task_id="b1", bash_command="echo b1", queue="qb")
    b2 = BashOperator(task_id="b2", bash_command="echo b2", queue="qb")
    a1 >> [a2, b1] >> b2 >> a3
'''

MIXED_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("mixed", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False) as dag:
    remote = BashOperator(task_id="remote", bash_command="echo remote", queue="qa")
    here = BashOperator(task_id="here", bash_command="echo here", executor="local")
    remote >> here
'''


@pytest.fixture
def pg_home(tmp_path: Path, pg_server, redis_url: str) -> Iterator[Home]:  # noqa: F811
    """A home on a fresh, migrated PostgreSQL database with ``[core] executor = celery,local``."""
    name = pg_server.new_database_name("celery")
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    home = Home(tmp_path / "home")
    api_port = free_port()
    home.env.update({
        "TRADEWIND__DATABASE__URL": pg_server.url(name),
        "TRADEWIND__CORE__EXECUTOR": "celery,local",
        "TRADEWIND__CELERY__BROKER_URL": redis_url,
        "TRADEWIND__CELERY__OPERATION_TIMEOUT": "2",
        "TRADEWIND__CELERY__WORKER_HEARTBEAT_INTERVAL": "1",
        "TRADEWIND__API__PORT": str(api_port),
        "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
    })
    home.ok("db", "migrate")
    try:
        yield home
    finally:
        pg_server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _workers(home: Home) -> list[dict]:
    result = home.ok("celery", "status", "--output", "json")
    return json.loads(result.stdout)


def test_scheduler_refuses_celery_with_sqlite(tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    home = Home(tmp_path / "home")
    home.env.update({"TRADEWIND__CORE__EXECUTOR": "celery", "TRADEWIND__CELERY__BROKER_URL": redis_url})
    home.ok("db", "migrate")
    result = home.run("scheduler", timeout=60)
    assert result.returncode == 1
    assert "[core] executor = celery cannot use SQLite" in result.stderr
    assert "[database] url = sqlite" in result.stderr


def test_scheduler_refuses_unreachable_broker_without_showing_the_password(pg_home: Home) -> None:
    dead = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    pg_home.env["TRADEWIND__CELERY__BROKER_URL"] = dead
    result = pg_home.run("scheduler", timeout=60)
    assert result.returncode == 1
    assert "[celery] broker_url = redis://user:***@127.0.0.1" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    worker = pg_home.run("celery", "worker", "--hostname", "w", timeout=60)
    assert worker.returncode == 1
    assert "[celery] broker_url = redis://user:***@127.0.0.1" in worker.stderr


def test_unknown_executor_name_is_a_setup_error(pg_home: Home) -> None:
    pg_home.env["TRADEWIND__CORE__EXECUTOR"] = "local,kubernetes"
    result = pg_home.run("scheduler", timeout=60)
    assert result.returncode == 1
    assert "'kubernetes'" in result.stderr and "[core] executor" in result.stderr


def test_dag_runs_on_two_workers_by_queue_and_mixes_local_tasks(pg_home: Home) -> None:
    home = pg_home
    home.add_dag("routed.py", ROUTED_DAG)
    home.add_dag("mixed.py", MIXED_DAG)
    # The workers get no database URL at all: they reach the metadata only through the API.
    worker_env = {k: v for k, v in home.env.items() if k != "TRADEWIND__DATABASE__URL"}
    procs: list[subprocess.Popen[str]] = []
    try:
        procs.append(home.popen("api-server"))
        procs.append(home.popen("scheduler"))
        for name, queues in (("worker-a", "qa"), ("worker-b", "qb")):
            procs.append(subprocess.Popen(
                [TRADEWIND, "celery", "worker", "--queues", queues, "--hostname", name, "--concurrency", "2"],
                env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            ))
        live = wait_for(lambda: len(_workers(home)) == 2 and _workers(home), deadline=60, what="two live workers")
        assert {(w["hostname"], tuple(w["queues"])) for w in live} == {("worker-a", ("qa",)), ("worker-b", ("qb",))}
        assert home.run("jobs", "check", "--job-type", "worker").returncode == 1  # two found, one expected
        assert home.run("jobs", "check", "--job-type", "worker", "--limit", "5", "--allow-multiple").returncode == 0
        assert home.run("jobs", "check", "--job-type", "worker", "--hostname", "worker-b").returncode == 0
        gone = home.run("jobs", "check", "--job-type", "worker", "--hostname", "worker-z")
        assert gone.returncode == 1 and "No alive jobs found." in gone.stderr
        wait_for(lambda: home.run("jobs", "check", "--job-type", "scheduler").returncode == 0,
                 deadline=60, what="the scheduler's job heartbeat")
        wait_for(lambda: home.run("dags", "trigger", "routed", "--run-id", "r1").returncode == 0,
                 deadline=60, what="the routed DAG to be parsed")
        wait_for(lambda: home.run("dags", "trigger", "mixed", "--run-id", "m1").returncode == 0,
                 deadline=60, what="the mixed DAG to be parsed")
        db = Database.from_url(home.env["TRADEWIND__DATABASE__URL"])
        try:
            wait_for(lambda: _run_states(db) == {"routed": "success", "mixed": "success"},
                     deadline=120, interval=0.5, what="both runs to succeed")
            hosts = _hostnames(db)
        finally:
            db.engine.dispose()
        assert {hosts[("routed", t)] for t in ("a1", "a2", "a3")} == {"worker-a"}
        assert {hosts[("routed", t)] for t in ("b1", "b2")} == {"worker-b"}
        assert hosts[("mixed", "remote")] == "worker-a"
        assert hosts[("mixed", "here")] not in ("worker-a", "worker-b")  # ran by the scheduler's LocalExecutor
    finally:
        _stop(list(reversed(procs)))
    assert home.run("jobs", "check", "--job-type", "worker").returncode == 1  # stopped workers left the registry


def _run_states(db: Database) -> dict[str, str]:
    with db.session_scope() as session:
        return {run.dag_id: run.state for run in session.scalars(select(DagRun))}


def _hostnames(db: Database) -> dict[tuple[str, str], str | None]:
    with db.session_scope() as session:
        return {(ti.dag_id, ti.task_id): ti.hostname for ti in session.scalars(select(TaskInstance))}
