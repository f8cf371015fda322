"""Helpers for the resilience tests: a home with a scheduler subprocess that can be killed.

The scheduler's output goes to a file in the home (never a pipe nobody reads: a
full pipe would block the scheduler), and its tail is shown when a wait times out.
The database is read directly with SQLAlchemy Core (plain SQL, no ORM sessions
kept open) so the tests observe what the processes wrote, not what the CLI says.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
from cli_support import TRADEWIND, Home, wait_for
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from tradewind.persist.models import Job, TaskInstance

#: Bounds a hang; they do not measure speed (the CI machine is small and shared).
START_DEADLINE = 30.0
RUN_DEADLINE = 40.0


def forkserver_child(pid: int, *, recursive: bool = False) -> psutil.Process | None:
    """The fork server among the children of process ``pid`` (or all its descendants), if any.
    Tries are forked from it and look the same: with ``recursive`` the first one found (the
    server, which is found before its own children) is returned."""
    for child in psutil.Process(pid).children(recursive=recursive):
        try:
            if "tradewind.execute.executors.forkserver" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


class Cluster(Home):
    """A TRADEWIND_HOME plus one ``tradewind scheduler`` (or ``standalone``) subprocess at a time."""

    def __init__(self, path: Path, db_url: str | None = None, **settings: str) -> None:
        super().__init__(path)
        # Fast pick-up of new files; everything else is the test's choice.
        self.env["TRADEWIND__SCHEDULER__DAG_DIR_LIST_INTERVAL"] = "0.5"
        self.env["TRADEWIND__SCHEDULER__MIN_FILE_PROCESS_INTERVAL"] = "0"
        if db_url is not None:
            self.env["TRADEWIND__DATABASE__URL"] = db_url
        for name, value in settings.items():
            self.env[f"TRADEWIND__{name.upper()}"] = str(value)
        self.db_url = db_url or f"sqlite:///{path}/tradewind.db"
        self.engine = create_engine(self.db_url, poolclass=NullPool)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # ------------------------------------------------------------------ database
    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def execute(self, stmt: Any) -> list[Any]:
        """Run a SQLAlchemy Core/ORM ``select`` (typed columns: aware datetimes) and return its rows."""
        with self.engine.connect() as conn:
            return list(conn.execute(stmt))

    def tis(self, dag_id: str) -> dict[str, dict[str, Any]]:
        """task_id -> task_instance row (single-run DAGs)."""
        return {r["task_id"]: r for r in self.rows("SELECT * FROM task_instance WHERE dag_id = :d", d=dag_id)}

    def run_states(self, dag_id: str) -> list[str]:
        return [r["state"] for r in self.rows("SELECT state FROM dag_run WHERE dag_id = :d", d=dag_id)]

    def tries(self, dag_id: str, task_id: str) -> list[tuple[int, str]]:
        rows = self.rows(
            "SELECT try_number, state FROM task_instance_try WHERE dag_id = :d AND task_id = :t ORDER BY try_number",
            d=dag_id, t=task_id,
        )
        return [(r["try_number"], r["state"]) for r in rows]

    # ---------------------------------------------------------------- processes
    @property
    def log_file(self) -> Path:
        return self.path / f"scheduler-{self.starts}.out"

    def start(self, command: str = "scheduler", *args: str) -> subprocess.Popen[bytes]:
        assert self.proc is None or self.proc.poll() is not None, "a scheduler is already running"
        self.starts += 1
        with open(self.log_file, "wb") as out:
            self.proc = subprocess.Popen(
                [TRADEWIND, command, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self.proc

    def output(self) -> str:
        texts = []
        for n in range(1, self.starts + 1):
            path = self.path / f"scheduler-{n}.out"
            if path.exists():
                texts.append(f"--- scheduler start {n} ---\n" + path.read_text(errors="replace")[-6000:])
        return "\n".join(texts)

    def forkserver(self) -> psutil.Process:
        """The local executor's fork server started by the current scheduler."""
        assert self.proc is not None

        pid = self.proc.pid
        return self.wait(lambda: forkserver_child(pid, recursive=True), what="the fork server")

    def kill9(self) -> None:
        """SIGKILL the scheduler process (its fork server lives in its own session and is not hit)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the scheduler did not stop within 60s of SIGTERM\n" + self.output()) from None

    def close(self) -> None:
        """Teardown: stop the scheduler and anything it left in this home (fork servers, tries)."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            kill_processes_with_env_home(self.path)
            self.engine.dispose()

    def wait(self, condition: Any, *, deadline: float = RUN_DEADLINE, what: str = "condition",
             interval: float = 0.1) -> Any:
        """:func:`wait_for` that shows the scheduler's output when it times out or the scheduler died."""

        def check() -> Any:
            if self.proc is not None and self.proc.poll() is not None and self.proc.returncode not in (-9,):
                raise AssertionError(f"the scheduler exited with {self.proc.returncode}")
            return condition()

        try:
            return wait_for(check, deadline=deadline, interval=interval, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()}") from None


def kill_processes_with_env_home(home: Path) -> None:
    """SIGKILL every process of ours whose environment has TRADEWIND_HOME=home (orphans of a kill -9)."""
    me = os.getpid()
    wanted = str(home)
    for proc in psutil.process_iter(["pid", "uids"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get("TRADEWIND_HOME") == wanted:
                proc.kill()
        except psutil.Error:
            continue


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# ------------------------------------------------------------ the ledger DAG
# Every execution appends "<task_id> <try_number>" to the ledger before working a while,
# so a try that ran twice (or was lost) shows in the file.
LEDGER_DAG = '''
import time
from datetime import datetime
from tradewind import DAG, task, get_current_context

LEDGER = "LEDGER_PATH"

def work():
    ti = get_current_context()["ti"]
    with open(LEDGER, "a") as f:
        f.write(f"{ti.task_id} {ti.try_number}\\n")
    time.sleep(SECONDS)

with DAG("ledger", schedule=None, start_date=datetime(2024, 1, 1), max_active_tasks=4) as dag:
    a = task(task_id="a", pool=POOL)(work)()
    b = task(task_id="b")(work)()
    c = task(task_id="c")(work)()
    d = task(task_id="d")(work)()
    a >> [b, c] >> d
'''


def ledger_dag(cluster: Cluster, *, seconds: float = 1.5, pool: str = "default_pool") -> Path:
    ledger = cluster.path / "ledger.txt"
    source = (LEDGER_DAG.replace("LEDGER_PATH", str(ledger)).replace("SECONDS", repr(seconds))
              .replace("POOL", repr(pool)))
    cluster.add_dag("ledger_dag.py", source)
    return ledger


def running_pid(cluster: Cluster, dag_id: str, task_id: str) -> int | None:
    ti = cluster.tis(dag_id).get(task_id)
    return ti["pid"] if ti and ti["state"] == "running" and ti["pid"] else None


def handed_over(cluster: Cluster, dag_id: str, task_id: str, scheduler_pid: int) -> bool:
    """The scheduler queued the try and finished the loop step that hands it to the executor.

    The job heartbeat is written at the end of a step, after the hand-over, with the
    step's clock; so a heartbeat no older than ``queued_dttm`` proves the workload was sent.
    """
    queued = cluster.execute(select(TaskInstance.state, TaskInstance.queued_dttm).where(
        TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id))
    beat = cluster.execute(select(func.max(Job.latest_heartbeat)).where(Job.pid == scheduler_pid))
    if not queued or queued[0].state != "queued" or not beat or beat[0][0] is None:
        return False
    return beat[0][0] >= queued[0].queued_dttm


def assert_ran_once_each(cluster: Cluster, ledger, task_ids: list[str]) -> None:
    lines = sorted(ledger.read_text().splitlines())
    assert lines == sorted(f"{t} 1" for t in task_ids), f"each try must run exactly once:\n{lines}"
    tis = cluster.tis("ledger")
    assert {t: (ti["state"], ti["try_number"]) for t, ti in tis.items()} == {t: ("success", 1) for t in task_ids}
    for task_id in task_ids:
        assert cluster.tries("ledger", task_id) == [(1, "success")], task_id


def scheduler_killed_while_queued_and_while_running(cluster: Cluster) -> None:
    """Criterion 2 on any database: kill -9 the scheduler with a try queued, then with tries
    running; after each restart nothing is lost and no try runs twice."""
    ledger = ledger_dag(cluster)
    cluster.ok("dags", "list")  # parse now, so the trigger below finds the DAG
    s1 = cluster.start()
    # Kill point 1: a try is queued and handed to the executor, but its process has not started.
    # Freezing the fork server makes that moment last.
    forkserver = cluster.forkserver()
    forkserver.suspend()
    cluster.ok("dags", "trigger", "ledger", "--run-id", "r1")
    cluster.wait(lambda: handed_over(cluster, "ledger", "a", s1.pid), what="a queued and handed over")
    cluster.kill9()
    forkserver.kill()
    forkserver.wait(10)
    assert cluster.tis("ledger")["a"]["state"] == "queued"
    assert not ledger.exists()

    # Kill point 2: tries running (they are in their own sessions and outlive the scheduler).
    cluster.start()
    cluster.wait(lambda: running_pid(cluster, "ledger", "b") or running_pid(cluster, "ledger", "c"),
                 what="b or c running")
    cluster.kill9()

    cluster.start()
    cluster.wait(lambda: cluster.run_states("ledger") == ["success"], what="the run to succeed after restarts")
    assert_ran_once_each(cluster, ledger, ["a", "b", "c", "d"])
    assert cluster.stop() == 0, cluster.output()
