"""Tradewind across "machines": PostgreSQL and redis-server in the root network namespace, and an
API server, two schedulers and two Celery workers each on its own namespace host (tests/netns.py).

Everything is a real process started through the documented CLI; the assertions read the
metadata database (task_instance, task_instance_try). The cluster is shared by the module's
tests; a test that kills a component starts it again before it ends, so the order does not
matter. Short timeouts keep the failure cases quick: task heartbeat timeout 6 s, queued
timeout 8 s.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import TRADEWIND, wait_for
from netns import ROOT_ADDRESS, Host, Lab
from pg import PgServer, PgUnavailable
from redis_server import _server_or_skip
from service_support import unavailable
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.distributed, pytest.mark.slow, pytest.mark.xdist_group("distributed")]

API_PORT = 8080
HEARTBEAT_TIMEOUT = 6
QUEUED_TIMEOUT = 8
#: Queues each worker consumes: q1 only on worker-1, q2 only on worker-2, default on both.
WORKER_QUEUES = {"worker-1": "default,q1", "worker-2": "default,q2"}

WIDE_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("dist_wide", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False) as dag:
    for i in range(200):
        queue = ("default", "q1", "q2")[i % 3]
        BashOperator(task_id=f"t{i:03d}", bash_command="true", queue=queue)
'''

#: The first try sleeps long enough to be killed; the retry returns at once.
SLEEPY_DAG = '''
import time
from datetime import datetime, timedelta
from tradewind import DAG, task

with DAG("dist_sleepy", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False) as dag:
    @task(retries=1, retry_delay=timedelta(seconds=0))
    def nap(ti=None):
        if ti.try_number == 1:
            time.sleep(120)
        return ti.try_number

    nap()
'''

#: Waves of short tasks: a run that lasts while a scheduler or Redis is taken away. The Redis
#: one's waves are wider than what both workers hold (4 running + 4 prefetched each), so messages
#: wait in the broker when it restarts.
STEADY_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

for name, width, waves in (("dist_steady_sched", 16, 3), ("dist_steady_redis", 32, 2)):
    with DAG(name, schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False,
             max_active_tasks=32) as dag:
        previous = []
        for wave in range(waves):
            current = [BashOperator(task_id=f"w{wave}_{i}", bash_command="sleep 1") for i in range(width)]
            for up in previous:
                up >> current
            previous = current
    globals()[name] = dag
'''


class Cluster:
    """The processes of the cluster and how to reach its database."""

    def __init__(self, lab: Lab, root: Path, db_url: str, redis) -> None:
        self.lab, self.root, self.db_url, self.redis = lab, root, db_url, redis
        self.dags = root / "dags"
        self.engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
        self.api_host = lab.add_host("api")
        self.scheduler_hosts = [lab.add_host(f"sched-{n}") for n in (1, 2)]
        self.worker_hosts = {name: lab.add_host(name) for name in WORKER_QUEUES}
        self.procs: dict[str, object] = {}
        broker = f"redis://{ROOT_ADDRESS}:{redis.port}/0"
        self.common = {
            "PATH": "/usr/bin:/bin:" + str(Path(sys.executable).parent),
            "TRADEWIND__CORE__LOAD_EXAMPLES": "False",
            "TRADEWIND__CORE__DAGS_FOLDER": str(self.dags),
            "TRADEWIND__CORE__EXECUTOR": "celery",
            "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://{self.api_host.address}:{API_PORT}/execution/",
            "TRADEWIND__CELERY__BROKER_URL": broker,
            "TRADEWIND__CELERY__WORKER_HEARTBEAT_INTERVAL": "1",
            "TRADEWIND__CELERY__LOG_SHIP_INTERVAL": "1",
            "TRADEWIND__SCHEDULER__TASK_HEARTBEAT_INTERVAL": "1",
            "TRADEWIND__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "TRADEWIND__SCHEDULER__TASK_QUEUED_TIMEOUT": str(QUEUED_TIMEOUT),
            "TRADEWIND__SCHEDULER__DAG_DIR_LIST_INTERVAL": "1",
        }
        #: What the API server and schedulers share and workers never get: the database and the key.
        self.secrets = {
            "TRADEWIND__DATABASE__URL": db_url,
            "TRADEWIND__API__SECRET_KEY": "distributed-test-secret-key-0123456789",
        }

    def env(self, name: str, *, secrets: bool) -> dict[str, str]:
        home = self.root / "homes" / name
        home.mkdir(parents=True, exist_ok=True)
        return {**self.common, **(self.secrets if secrets else {}), "TRADEWIND_HOME": str(home),
                "TRADEWIND__CORE__HOSTNAME": name}

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def tradewind(self, *args: str, timeout: float = 120) -> str:
        """Run the CLI in the root namespace as an operator would (with database access)."""
        import subprocess

        result = subprocess.run([TRADEWIND, *args], env=self.env("operator", secrets=True), capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, f"tradewind {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def start_api(self) -> None:
        self.procs["api"] = self.api_host.popen(
            [TRADEWIND, "api-server", "--host", "0.0.0.0", "--port", str(API_PORT)],
            env=self.env("api", secrets=True), log=self.log("api"))

    def start_scheduler(self, index: int) -> None:
        host = self.scheduler_hosts[index]
        self.procs[host.name] = host.popen([TRADEWIND, "scheduler"], env=self.env(host.name, secrets=True),
                                           log=self.log(host.name))

    def start_worker(self, name: str) -> None:
        host = self.worker_hosts[name]
        self.procs[name] = host.popen(
            [TRADEWIND, "celery", "worker", "--queues", WORKER_QUEUES[name], "--concurrency", "4",
             "--hostname", name], env=self.env(name, secrets=False), log=self.log(name))

    def host_of(self, name: str) -> Host:
        return self.lab.hosts[name]

    def kill9(self, name: str) -> None:
        """kill -9 every process on a component's host (the host is gone)."""
        self.host_of(name).kill_all()

    def rows(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.rows("SELECT state FROM dag_run WHERE dag_id = :d AND run_id = :r", d=dag_id, r=run_id)
        return rows[0][0] if rows else None

    def trigger(self, dag_id: str) -> str:
        wait_for(lambda: self.rows("SELECT 1 FROM dag WHERE dag_id = :d AND latest_version_id IS NOT NULL",
                                   d=dag_id), deadline=60, what=f"{dag_id} parsed")
        run_id = f"dist_{dag_id}"
        self.tradewind("dags", "trigger", dag_id, "--run-id", run_id)
        return run_id

    def wait_success(self, dag_id: str, run_id: str, deadline: float) -> None:
        def done():
            state = self.run_state(dag_id, run_id)
            assert state != "failed", f"{dag_id} {run_id} failed:\n{self.diagnose(dag_id, run_id)}"
            return state == "success"

        wait_for(done, deadline=deadline, interval=0.5, what=f"{dag_id} {run_id} to succeed")

    def diagnose(self, dag_id: str, run_id: str) -> str:
        rows = self.rows("SELECT task_id, state, try_number, hostname, note FROM task_instance "
                         "WHERE dag_id = :d AND run_id = :r AND state <> 'success' ORDER BY task_id", d=dag_id, r=run_id)
        tails = {name: self.log(name).read_text(errors="replace")[-1500:] for name in self.procs
                 if self.log(name).exists()}
        return "\n".join(map(str, rows[:20])) + "\n" + "\n".join(f"--- {k}\n{v}" for k, v in tails.items())

    def tries(self, dag_id: str, run_id: str) -> list[tuple]:
        return self.rows("SELECT task_id, try_number, state, hostname FROM task_instance_try "
                         "WHERE dag_id = :d AND run_id = :r", d=dag_id, r=run_id)


@pytest.fixture(scope="module")
def cluster(lab: Lab) -> Iterator[Cluster]:
    try:
        import celery  # noqa: F401
    except ImportError:
        unavailable("celery is not installed (pip install -e '.[dev]')")
    root = Path(tempfile.mkdtemp(prefix="tradewind-distributed-"))
    root.chmod(0o755)
    try:
        pg = PgServer.create()
    except PgUnavailable as exc:
        unavailable(str(exc))
    pg.also_listen = ROOT_ADDRESS
    redis = _server_or_skip()
    redis.also_bind = ROOT_ADDRESS
    cluster = None
    try:
        pg.start()
        pg.execute_autocommit("CREATE DATABASE tradewind")
        redis.start()
        db_url = f"postgresql://postgres@{ROOT_ADDRESS}:{pg.port}/tradewind"
        cluster = Cluster(lab, root, db_url, redis)
        cluster.dags.mkdir()
        for name, source in (("dist_wide.py", WIDE_DAG), ("dist_sleepy.py", SLEEPY_DAG),
                             ("dist_steady.py", STEADY_DAG)):
            (cluster.dags / name).write_text(textwrap.dedent(source))
        cluster.tradewind("db", "migrate")
        cluster.start_api()
        wait_for(lambda: cluster.api_host.run(
            ["python3", "-c", f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{API_PORT}/api/v1/health')"],
            capture_output=True).returncode == 0, deadline=60, interval=0.3, what="the API server")
        for index in (0, 1):
            cluster.start_scheduler(index)
        for name in WORKER_QUEUES:
            cluster.start_worker(name)
        yield cluster
    finally:
        lab.stop()
        if cluster is not None:
            cluster.engine.dispose()
        redis.stop()
        shutil.rmtree(redis.workdir, ignore_errors=True)
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _ensure(cluster: Cluster, name: str) -> None:
    """Start ``name`` again if a test killed it (the next test expects the full cluster)."""
    proc = cluster.procs[name]
    if proc.poll() is not None:
        if name in WORKER_QUEUES:
            cluster.start_worker(name)
        else:
            cluster.start_scheduler(int(name.rsplit("-", 1)[1]) - 1)


def test_200_tasks_spread_over_both_workers_by_queue(cluster):
    run_id = cluster.trigger("dist_wide")
    cluster.wait_success("dist_wide", run_id, deadline=150)
    rows = cluster.rows("SELECT task_id, state, queue, hostname, try_number FROM task_instance "
                        "WHERE dag_id = 'dist_wide' AND run_id = :r", r=run_id)
    assert len(rows) == 200 and {r.state for r in rows} == {"success"}
    for row in rows:
        assert row.queue in WORKER_QUEUES[row.hostname].split(","), row  # ran where its queue is consumed
    by_queue = {q: {r.hostname for r in rows if r.queue == q} for q in ("q1", "q2")}
    assert by_queue == {"q1": {"worker-1"}, "q2": {"worker-2"}}
    assert {r.hostname for r in rows if r.queue == "default"} <= set(WORKER_QUEUES)
    tries = cluster.tries("dist_wide", run_id)
    assert len(tries) == len({(t.task_id, t.try_number) for t in tries}) == 200


def test_killed_worker_task_is_retried_on_the_other_worker(cluster):
    run_id = cluster.trigger("dist_sleepy")
    running = wait_for(lambda: cluster.rows(
        "SELECT hostname FROM task_instance WHERE dag_id = 'dist_sleepy' AND run_id = :r AND state = 'running' "
        "AND try_number = 1", r=run_id), deadline=60, interval=0.2, what="nap's first try running")
    victim = running[0].hostname
    survivor = next(name for name in WORKER_QUEUES if name != victim)
    try:
        cluster.kill9(victim)
        cluster.wait_success("dist_sleepy", run_id, deadline=HEARTBEAT_TIMEOUT * 6)
    finally:
        _ensure(cluster, victim)
    tries = sorted(cluster.tries("dist_sleepy", run_id))
    assert [(t.try_number, t.state, t.hostname) for t in tries] == [(1, "failed", victim), (2, "success", survivor)]


def test_killed_scheduler_the_other_carries_on_and_no_try_runs_twice(cluster):
    dag_id = "dist_steady_sched"
    run_id = cluster.trigger(dag_id)
    wait_for(lambda: cluster.rows("SELECT 1 FROM task_instance WHERE dag_id = :d AND run_id = :r "
                                  "AND state = 'success'", d=dag_id, r=run_id),
             deadline=60, interval=0.2, what="the first tasks to succeed")
    try:
        cluster.kill9("sched-1")
        cluster.wait_success(dag_id, run_id, deadline=120)
    finally:
        _ensure(cluster, "sched-1")
    tries = cluster.tries(dag_id, run_id)
    keys = [(t.task_id, t.try_number) for t in tries]
    assert len(keys) == len(set(keys)) == 48  # every task ran exactly one try
    assert {t.state for t in tries} == {"success"}
    ti_tries = cluster.rows("SELECT try_number FROM task_instance WHERE dag_id = :d AND run_id = :r",
                            d=dag_id, r=run_id)
    assert {r.try_number for r in ti_tries} == {1}


def test_redis_restart_mid_run_loses_nothing(cluster):
    dag_id = "dist_steady_redis"
    run_id = cluster.trigger(dag_id)
    # 32 tasks queued at once; the workers hold 16 (8 running, 8 prefetched): the rest wait in Redis.
    wait_for(lambda: len(cluster.rows("SELECT 1 FROM task_instance WHERE dag_id = :d AND run_id = :r "
                                      "AND state IN ('queued', 'running')", d=dag_id, r=run_id)) == 32,
             deadline=60, interval=0.1, what="the first wave handed to the broker")
    import redis

    broker = redis.Redis(host=ROOT_ADDRESS, port=cluster.redis.port)
    wait_for(lambda: broker.llen("default") > 0, deadline=10, interval=0.1, what="messages waiting in Redis")
    broker.close()
    cluster.redis.restart()  # no persistence: the waiting messages are gone
    cluster.wait_success(dag_id, run_id, deadline=150)
    logs = "".join(cluster.log(name).read_text(errors="replace") for name in ("sched-1", "sched-2"))
    assert "went back to scheduled to be queued again" in logs  # the lost ones were noticed and re-queued
    left = cluster.rows("SELECT task_id, state FROM task_instance WHERE state IN ('queued', 'running')")
    assert left == []
    tries = cluster.tries(dag_id, run_id)
    keys = [(t.task_id, t.try_number) for t in tries]
    assert len(keys) == len(set(keys)) == 64
    assert {t.state for t in tries} == {"success"}
