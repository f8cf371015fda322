"""Every helper of ``tradewind scheduler`` / ``standalone`` is supervised, and health tells the truth.

Real processes throughout: the DAG-processor child is killed with SIGKILL and must come back
(new pid) within 2 s and see new DAG files; quick repeated kills are a crash loop that
``tradewind jobs check`` and ``/api/v1/health`` report until it ages out of the window; the
triggerer thread of standalone whose event loop dies is restarted; a killed scheduler leaves
no DAG processor behind.
"""

from __future__ import annotations

import signal
import subprocess
import time

import httpx
import psutil
import pytest
from cli_support import TRADEWIND, free_port
from resilience_support import START_DEADLINE, Cluster, pid_gone

pytestmark = pytest.mark.slow

#: Deaths within this many seconds count towards a crash loop (small, so the test sees it age out;
#: large enough for a few `jobs check` runs on a loaded machine).
WINDOW = 20.0


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path / "home", scheduler__helper_crash_loop_window=str(WINDOW),
                scheduler__task_heartbeat_interval="1", triggerer__job_heartbeat_sec="1")
    yield c
    c.close()


def dag_source(dag_id: str) -> str:
    return (f"from datetime import datetime\nfrom tradewind import DAG, BashOperator\n\n"
            f"with DAG({dag_id!r}, schedule=None, start_date=datetime(2024, 1, 1)):\n"
            f"    BashOperator(task_id='t', bash_command='true')\n")


def dag_processor_pids(parent_pid: int) -> list[int]:
    """The live ``tradewind dag-processor`` children of that scheduler/standalone process."""
    pids = []
    try:
        children = psutil.Process(parent_pid).children()
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            if "dag-processor" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                pids.append(child.pid)
        except psutil.Error:
            continue
    return pids


def one_processor(cluster: Cluster, other_than: int | None = None) -> int:
    assert cluster.proc is not None

    def find() -> int | None:
        pids = [p for p in dag_processor_pids(cluster.proc.pid) if p != other_than]
        return pids[0] if len(pids) == 1 else None

    return cluster.wait(find, deadline=START_DEADLINE, interval=0.02, what="a (new) DAG-processor child")


def kill_and_time_restart(cluster: Cluster, pid: int) -> tuple[int, float]:
    """SIGKILL the child; return the replacement's pid and the seconds until it ran."""
    assert cluster.proc is not None
    psutil.Process(pid).kill()
    killed = time.monotonic()
    new = cluster.wait(lambda: next((p for p in dag_processor_pids(cluster.proc.pid) if p != pid), None),
                       deadline=10, interval=0.01, what="the replacement DAG processor")
    return new, time.monotonic() - killed


def dag_ids(cluster: Cluster) -> set[str]:
    return {r["dag_id"] for r in cluster.rows("SELECT dag_id FROM dag")}


def jobs_check(cluster: Cluster, job_type: str):
    return cluster.run("jobs", "check", "--job-type", job_type, timeout=60)


def test_killed_dag_processor_is_named_restarted_within_2s_and_sees_new_files(cluster):
    cluster.ok("db", "migrate")
    cluster.add_dag("first.py", dag_source("first"))
    scheduler = cluster.start("scheduler")
    cluster.wait(lambda: "first" in dag_ids(cluster), what="the first DAG parsed")
    old = one_processor(cluster)

    new, seconds = kill_and_time_restart(cluster, old)
    assert seconds < 2.0, f"the DAG processor came back after {seconds:.2f}s"
    assert new != old
    cluster.wait(lambda: f"DAG processor (pid {old}) killed by signal SIGKILL (9)" in cluster.output(),
                 what="the death logged")
    # The replacement parses: a file added after the kill is picked up.
    cluster.add_dag("second.py", dag_source("second"))
    cluster.wait(lambda: "second" in dag_ids(cluster), what="a DAG file added after the kill parsed")
    # One death is not a crash loop: the scheduler stays healthy.
    cluster.wait(lambda: jobs_check(cluster, "scheduler").returncode == 0, what="jobs check to pass")
    assert scheduler.poll() is None
    assert cluster.stop() == 0, cluster.output()
    assert pid_gone(new)
    # Once shutdown began, the child that ends is not replaced.
    after_stop = cluster.output().split("Received SIGTERM", 1)[1]
    assert "starting a new one" not in after_stop and "restarted" not in after_stop, after_stop


def test_crash_loop_is_reported_by_jobs_check_and_health_until_it_ages_out(cluster):
    port = free_port()
    cluster.start("standalone", "--port", str(port))

    def health() -> dict:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).json()

    cluster.wait(lambda: health()["scheduler"]["status"] == "healthy", deadline=START_DEADLINE,
                 what="standalone healthy")
    pid = one_processor(cluster)
    restarts = []
    for _ in range(3):
        pid, seconds = kill_and_time_restart(cluster, pid)
        restarts.append(seconds)
    looping = cluster.wait(lambda: (r := jobs_check(cluster, "scheduler")).returncode == 1 and r,
                           deadline=WINDOW, what="jobs check to fail")
    message = looping.stderr.strip()
    assert "DAG processor is crash-looping: died 3 times" in message, message
    assert "killed by signal SIGKILL (9)" in message
    assert len(message.splitlines()) == 1
    unhealthy = cluster.wait(lambda: (h := health())["scheduler"]["status"] == "unhealthy" and h,
                             deadline=WINDOW, what="health to report the crash loop")
    assert any("DAG processor is crash-looping" in p for p in unhealthy["scheduler"]["problems"])
    assert unhealthy["metadatabase"]["status"] == "healthy"
    # The first restart is immediate, the next ones back off (0.5 s, 1 s) but stay within 2 s.
    assert restarts[0] < 2.0 and all(s < 2.5 for s in restarts), restarts
    # Once the deaths are older than the window, all is well again.
    cluster.wait(lambda: jobs_check(cluster, "scheduler").returncode == 0, deadline=WINDOW + 20,
                 what="jobs check to pass again after the window")
    after = health()
    assert after["scheduler"]["status"] == "healthy" and after["scheduler"]["problems"] == []
    assert cluster.stop() == 0, cluster.output()


def test_sigkilled_scheduler_leaves_no_dag_processor_behind(cluster):
    cluster.ok("db", "migrate")
    cluster.start("scheduler")
    pid = one_processor(cluster)
    cluster.kill9()
    cluster.wait(lambda: pid_gone(pid), deadline=10, what="the DAG processor to end with its parent")


def test_jobs_check_dag_processor_passes_while_it_runs_and_fails_after_it_stopped(cluster):
    cluster.ok("db", "migrate")
    proc = cluster.popen("dag-processor")
    try:
        cluster.wait(lambda: jobs_check(cluster, "dag_processor").returncode == 0, deadline=START_DEADLINE,
                     what="jobs check --job-type dag_processor to pass")
        for spelling in ("DagProcessorJob", "dagprocessor", "dag-processor"):
            assert jobs_check(cluster, spelling).returncode == 0, spelling
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    result = jobs_check(cluster, "dag_processor")
    assert result.returncode == 1
    assert "No alive jobs found." in result.stderr


EXITING_TRIGGER = '''
import os
from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent


class ExitingTrigger(BaseTrigger):
    """Ends the triggerer's event loop with SystemExit the first ``times`` runs, then fires."""

    def __init__(self, ledger, times):
        super().__init__()
        self.ledger, self.times = ledger, times

    def serialize(self):
        return "exit_trigger.ExitingTrigger", {"ledger": self.ledger, "times": self.times}

    async def run(self):
        done = open(self.ledger).read().count("x") if os.path.exists(self.ledger) else 0
        if done < self.times:
            with open(self.ledger, "a") as f:
                f.write("x")
            raise SystemExit("a trigger called sys.exit")
        yield TriggerEvent("lucky")
'''

EXITING_DAG = '''
from datetime import datetime
from tradewind import DAG, BaseOperator
from exit_trigger import ExitingTrigger


class Waits(BaseOperator):
    def execute(self, context):
        self.defer(trigger=ExitingTrigger("LEDGER", TIMES), method_name="resume")

    def resume(self, context, event):
        return event


with DAG("exits", schedule=None, start_date=datetime(2024, 1, 1)):
    Waits(task_id="wait")
'''


def exiting_dag(cluster: Cluster, *, times: int) -> str:
    return EXITING_DAG.replace('"LEDGER"', repr(str(cluster.path / "ledger"))).replace("TIMES", str(times))


def test_triggerer_whose_event_loop_died_is_restarted_in_standalone(cluster):
    cluster.add_dag("exit_trigger.py", EXITING_TRIGGER)
    cluster.add_dag("exits.py", exiting_dag(cluster, times=1))
    port = free_port()
    standalone = cluster.start("standalone", "--port", str(port))
    cluster.wait(lambda: "exits" in dag_ids(cluster), deadline=START_DEADLINE, what="the DAG parsed")
    cluster.ok("dags", "trigger", "exits", "--run-id", "r1")
    cluster.wait(lambda: cluster.run_states("exits") == ["success"], what="the run to succeed after a restart")
    out = cluster.output()
    assert "the triggerer's event loop thread ended: SystemExit: a trigger called sys.exit" in out
    assert "triggerer restarted" in out
    assert standalone.poll() is None  # a helper's failure does not stop the process
    jobs = cluster.rows("SELECT state FROM job WHERE job_type = 'triggerer' ORDER BY id")
    assert [j["state"] for j in jobs] == ["failed", "running"]
    assert cluster.rows("SELECT state FROM job WHERE job_type = 'scheduler'")[0]["state"] == "running"
    assert cluster.stop() == 0, cluster.output()


def test_crash_looping_triggerer_command_is_reported_by_jobs_check(cluster):
    cluster.env["TRADEWIND__SCHEDULER__HELPER_CRASH_LOOP_WINDOW"] = "25"
    cluster.add_dag("exit_trigger.py", EXITING_TRIGGER)
    cluster.add_dag("exits.py", exiting_dag(cluster, times=3))
    cluster.ok("db", "migrate")
    cluster.start("scheduler")
    out_file = cluster.path / "triggerer.out"
    with open(out_file, "wb") as out:
        triggerer = subprocess.Popen([TRADEWIND, "triggerer"], env=cluster.env, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        cluster.wait(lambda: "exits" in dag_ids(cluster), deadline=START_DEADLINE, what="the DAG parsed")
        cluster.ok("dags", "trigger", "exits", "--run-id", "r1")
        looping = cluster.wait(lambda: (r := jobs_check(cluster, "triggerer")).returncode == 1
                               and "crash-looping" in r.stderr and r,
                               what="jobs check --job-type triggerer to report the crash loop")
        message = looping.stderr.strip()
        assert "triggerer is crash-looping: died 3 times in the last 25s" in message, message
        assert "TriggererLoopDied" in message and "SystemExit: a trigger called sys.exit" in message
        # The 4th start fires the trigger; the task resumes; the loop ages out of the window.
        cluster.wait(lambda: cluster.run_states("exits") == ["success"], what="the run to succeed")
        cluster.wait(lambda: jobs_check(cluster, "triggerer").returncode == 0, deadline=60,
                     what="jobs check --job-type triggerer to pass after the window")
        assert triggerer.poll() is None
        states = [j["state"] for j in cluster.rows("SELECT state FROM job WHERE job_type = 'triggerer' ORDER BY id")]
        assert states == ["failed", "failed", "failed", "running"]
    finally:
        triggerer.send_signal(signal.SIGTERM)
        triggerer.wait(60)
    assert triggerer.returncode == 0, out_file.read_text()
    assert cluster.stop() == 0, cluster.output()


def test_jobs_check_fails_on_the_problems_of_the_jobs_it_matched(cluster):
    from tradewind.persist.db import Database, utcnow
    from tradewind.persist.queries.jobs import job_heartbeat, start_job

    cluster.ok("db", "migrate")
    db = Database.from_url(cluster.db_url)
    try:
        with db.session_scope() as session:
            healthy = start_job(session, "scheduler", "host-a", 101, utcnow())
            troubled = start_job(session, "scheduler", "host-b", 102, utcnow())
            job_heartbeat(session, troubled.id, utcnow(), problems=[
                "fork server is down: exited with code 1; restarting",
                "DAG processor is crash-looping: died 3 times in the last 60s (last: exited with code 1)"])
            job_heartbeat(session, healthy.id, utcnow())
    finally:
        db.engine.dispose()
    assert cluster.run("jobs", "check", "--job-type", "scheduler", "--hostname", "host-a").returncode == 0
    bad = cluster.run("jobs", "check", "--job-type", "SchedulerJob", "--hostname", "host-b")
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "Error: Alive but unhealthy: scheduler host-b pid 102 reports: fork server is down: exited with "
        "code 1; restarting; DAG processor is crash-looping: died 3 times in the last 60s (last: exited with code 1)")
    # Looking at both (Airflow's --limit/--allow-multiple): one of them is unwell, so the check fails.
    both = cluster.run("jobs", "check", "--job-type", "scheduler", "--limit", "2", "--allow-multiple")
    assert both.returncode == 1 and "host-b pid 102 reports" in both.stderr
    assert "Expected only one" in cluster.run("jobs", "check", "--job-type", "scheduler", "--limit", "2").stderr
    # No DAG processor ever ran here.
    nothing = cluster.run("jobs", "check", "--job-type", "dag-processor")
    assert nothing.returncode == 1 and "No alive jobs found." in nothing.stderr
