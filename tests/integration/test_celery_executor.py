"""CeleryExecutor end to end: real redis-server, real PostgreSQL, and real ``tradewind
scheduler``, ``api-server`` and ``celery worker`` processes talking over loopback."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import TRADEWIND, Home, celery_home_on_postgres, free_port, wait_for
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
    with celery_home_on_postgres(tmp_path / "home", pg_server, redis_url, executor='celery,local',
                                 label='celery') as home:
        yield home


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
        assert home.run("jobs", "check", "--job-type", "worker").returncode == 0  # --limit 1 looks at one
        several = home.run("jobs", "check", "--job-type", "worker", "--limit", "5")
        assert several.returncode == 1 and "Found 2 alive jobs" in several.stderr and "Expected only one" in several.stderr
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


# ------------------------------------------------------------------ the executor on its own
def _celery_config(tmp_path: Path, pg_url: str, broker: str, **celery: str):
    from tradewind.config import Config

    return Config.load(home=tmp_path / "home", environ={}, overrides={
        "database": {"url": pg_url}, "core": {"executor": "celery"},
        "celery": {"broker_url": broker, "operation_timeout": "1", **celery},
    })


def _workload(queue: str = "default", executor: str | None = None):
    from tradewind.workloads import TaskKey, Workload

    return Workload(key=TaskKey("d", "r", "t", -1, 2), fileloc="/dags/d.py", queue=queue, executor=executor,
                    environ={"TRADEWIND__DATABASE__URL": "postgresql://secret@db/x"})


def _sent(redis_url_: str, queue: str) -> list[dict]:
    """The workloads waiting in a queue of the broker (kombu's Redis list, JSON body in base64)."""
    import base64

    import redis

    client = redis.Redis.from_url(redis_url_)
    out = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == "tradewind.execute_workload"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append(args[0])
    return out


def test_queue_workload_sends_no_database_url_and_a_workload_token(tmp_path, pg_url, redis_url) -> None:  # noqa: F811
    from tradewind.execute.executors import make_executor
    from tradewind.execute.tokens import verify_token

    config = _celery_config(tmp_path, pg_url, redis_url, default_queue="main")
    executor = make_executor(config)
    executor.start()
    try:
        executor.queue_workload(_workload("qa"))
        executor.queue_workload(_workload())  # no queue= on the task: [celery] default_queue
    finally:
        executor.end()
    (routed,) = _sent(redis_url, "qa")
    (default,) = _sent(redis_url, "main")
    for sent in (routed, default):
        assert sent["environ"] == {}
        assert verify_token(config, sent["token"], "workload") == _workload().key
    assert routed["queue"] == "qa"


def test_queue_workload_with_the_broker_down_raises_executor_unavailable(tmp_path, pg_url, redis_server) -> None:  # noqa: F811
    from tradewind.execute.executors import make_executor
    from tradewind.schedule.executor_interface import ExecutorUnavailable

    config = _celery_config(tmp_path, pg_url, redis_server.url(0))
    executor = make_executor(config)
    executor.start()
    redis_server.stop()
    try:
        with pytest.raises(ExecutorUnavailable, match="could not send d.t r try 2 to queue 'default'"):
            executor.queue_workload(_workload())
    finally:
        redis_server.start()
        executor.end()
    executor = make_executor(config)  # back up: sending works again with a new executor
    executor.start()
    executor.queue_workload(_workload())
    executor.end()


def test_multi_executor_routes_by_the_tasks_executor(tmp_path, pg_url, redis_url) -> None:  # noqa: F811
    from tradewind.config import Config
    from tradewind.execute.executors import make_executor
    from tradewind.execute.executors.celery import CeleryExecutor
    from tradewind.execute.executors.local import LocalExecutor
    from tradewind.execute.executors.multi import MultiExecutor, UnknownExecutor

    config = Config.load(home=tmp_path / "home", environ={}, overrides={
        "database": {"url": pg_url}, "core": {"executor": "LocalExecutor, celery"},
        "celery": {"broker_url": redis_url}})
    multi = make_executor(config)
    assert isinstance(multi, MultiExecutor)
    assert isinstance(multi.executor_for(_workload()), LocalExecutor)  # first = default
    assert isinstance(multi.executor_for(_workload(executor="CeleryExecutor")), CeleryExecutor)
    assert isinstance(multi.executor_for(_workload(executor="local")), LocalExecutor)
    with pytest.raises(UnknownExecutor, match=r"d\.t asks for executor='inprocess'.*configured: local, celery"):
        multi.executor_for(_workload(executor="inprocess"))
    twice = Config.load(home=tmp_path / "home", environ={}, overrides={"core": {"executor": "local,LocalExecutor"}})
    with pytest.raises(ValueError, match="lists 'LocalExecutor' twice"):
        make_executor(twice)


def test_executor_argument_reaches_the_snapshot_only_when_set() -> None:
    from datetime import datetime

    from tradewind import DAG, BashOperator
    from tradewind.definition.exceptions import InvalidTaskArgumentError
    from tradewind.parse.snapshot import TaskSnapshot, serialize_task

    with DAG("x", schedule=None, start_date=datetime(2024, 1, 1)):
        plain = BashOperator(task_id="plain", bash_command="true")
        pinned = BashOperator(task_id="pinned", bash_command="true", executor="celery")
        with pytest.raises(InvalidTaskArgumentError, match="executor must be an executor name"):
            BashOperator(task_id="bad", bash_command="true", executor="")
    assert "executor" not in serialize_task(plain, 1)
    assert TaskSnapshot.from_dict(serialize_task(pinned, 1)).executor == "celery"


SLEEPY_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("sleepy", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False) as dag:
    BashOperator(task_id="nap", bash_command="echo $$ > PIDFILE; sleep 300", queue="qa")
'''


def test_kill_9_of_a_worker_takes_its_tries_processes_with_it(pg_home: Home, tmp_path: Path) -> None:
    import psutil

    home = pg_home
    pidfile = tmp_path / "bash.pid"
    home.add_dag("sleepy.py", SLEEPY_DAG.replace("PIDFILE", str(pidfile)))
    procs: list[subprocess.Popen[str]] = []
    try:
        procs.append(home.popen("api-server"))
        procs.append(home.popen("scheduler"))
        worker = subprocess.Popen([TRADEWIND, "celery", "worker", "--queues", "qa", "--hostname", "doomed"],
                                  env=home.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(worker)
        wait_for(lambda: home.run("dags", "trigger", "sleepy", "--run-id", "s1").returncode == 0,
                 deadline=60, what="the sleepy DAG to be parsed")
        bash_pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), deadline=60,
                                what="the task's bash to start"))
        assert psutil.pid_exists(bash_pid)
        worker.kill()
        worker.wait()

        def gone() -> bool:
            try:
                return psutil.Process(bash_pid).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        wait_for(gone, deadline=30, what="the try's bash to die with its worker")
    finally:
        _stop(list(reversed(procs)))
