"""Resilience with real processes: task processes and the scheduler killed with SIGKILL.

Acceptance criteria 1 and 2: a try whose process is kill -9'd is noticed (executor
event, or heartbeat timeout when no scheduler saw it die) and retried or failed; a
scheduler kill -9'd mid-run and restarted loses no run and runs no try twice.
"""

from __future__ import annotations

import os
import signal

import pytest
from resilience_support import (
    Cluster,
    assert_ran_once_each,
    handed_over,
    ledger_dag,
    pid_gone,
    running_pid,
    scheduler_killed_while_queued_and_while_running,
)

pytestmark = pytest.mark.slow

FINISHED_RUN = ("success", "failed")
ACTIVE_TI = ("queued", "running")

VICTIM_DAG = '''
import time
from datetime import datetime, timedelta
from tradewind import DAG, task, get_current_context

with DAG("victim", schedule=None, start_date=datetime(2024, 1, 1)) as dag:

    @task(retries=1, retry_delay=timedelta(0))
    def retried():
        # The first try hangs until it is killed; the retry finishes at once.
        if get_current_context()["ti"].try_number == 1:
            time.sleep(60)
        print("retried finished")

    @task(retries=0)
    def doomed():
        time.sleep(60)

    @task
    def after_doomed():
        print("never runs")

    retried()
    doomed() >> after_doomed()
'''

@pytest.fixture
def cluster(tmp_path):
    c = Cluster(
        tmp_path / "home",
        scheduler__task_instance_heartbeat_timeout="3",
        scheduler__task_heartbeat_interval="0.5",
    )
    c.ok("db", "migrate")
    yield c
    c.close()


# ----------------------------------------------------------------- criterion 1
def test_task_process_killed_is_retried_or_failed(cluster):
    cluster.add_dag("victim_dag.py", VICTIM_DAG)
    cluster.ok("dags", "trigger", "victim", "--run-id", "r1")
    cluster.start()
    pids = cluster.wait(
        lambda: (p := (running_pid(cluster, "victim", "retried"), running_pid(cluster, "victim", "doomed")))
        and all(p) and p,
        what="both tries running",
    )
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    cluster.wait(lambda: cluster.run_states("victim") and cluster.run_states("victim")[0] in FINISHED_RUN,
                 what="the run to end")

    tis = cluster.tis("victim")
    assert cluster.run_states("victim") == ["failed"]
    assert {t: (ti["state"], ti["try_number"]) for t, ti in tis.items()} == {
        "retried": ("success", 2), "doomed": ("failed", 1), "after_doomed": ("upstream_failed", 0),
    }
    assert cluster.tries("victim", "retried") == [(1, "failed"), (2, "success")]
    assert cluster.tries("victim", "doomed") == [(1, "failed")]
    # The scheduler says why: the executor saw the process die of SIGKILL.
    assert "signal 9" in (tis["doomed"]["note"] or ""), tis["doomed"]["note"]
    assert tis["retried"]["pid"] != pids[0]
    assert not [t for t, ti in tis.items() if ti["state"] in ACTIVE_TI]
    assert cluster.stop() == 0, cluster.output()


def test_task_killed_while_no_scheduler_runs_is_caught_by_heartbeat_timeout(cluster):
    """Nobody saw the process die: the restarted scheduler notices the missing heartbeat."""
    cluster.add_dag("victim_dag.py", VICTIM_DAG)
    cluster.ok("dags", "trigger", "victim", "--run-id", "r1")
    cluster.start()
    pids = cluster.wait(
        lambda: (p := (running_pid(cluster, "victim", "retried"), running_pid(cluster, "victim", "doomed")))
        and all(p) and p,
        what="both tries running",
    )
    cluster.kill9()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    cluster.wait(lambda: all(pid_gone(p) for p in pids), what="the try processes to die")
    assert {t: ti["state"] for t, ti in cluster.tis("victim").items()} == {
        "retried": "running", "doomed": "running", "after_doomed": "none",
    }
    cluster.start()
    cluster.wait(lambda: cluster.run_states("victim")[0] in FINISHED_RUN, what="the run to end after restart")

    tis = cluster.tis("victim")
    assert {t: (ti["state"], ti["try_number"]) for t, ti in tis.items()} == {
        "retried": ("success", 2), "doomed": ("failed", 1), "after_doomed": ("upstream_failed", 0),
    }
    assert "heartbeat" in (tis["doomed"]["note"] or ""), tis["doomed"]["note"]
    assert cluster.run_states("victim") == ["failed"]
    assert cluster.stop() == 0, cluster.output()


# ----------------------------------------------------------------- criterion 2
def test_scheduler_killed_while_queued_and_while_running_loses_nothing(cluster):
    scheduler_killed_while_queued_and_while_running(cluster)


def test_orphaned_try_claiming_first_after_restart_is_not_run_twice(cluster):
    """The dead scheduler's fork server starts its buffered try late, racing the new scheduler's
    re-queued same try: exactly one process claims it, the other must not fail it."""
    ledger = ledger_dag(cluster, seconds=1.0, pool="gate")
    cluster.ok("pools", "set", "gate", "1", "one at a time")
    cluster.ok("dags", "list")
    s1 = cluster.start()
    old_server = cluster.forkserver()
    old_server.suspend()
    cluster.ok("dags", "trigger", "ledger", "--run-id", "r1")
    cluster.wait(lambda: handed_over(cluster, "ledger", "a", s1.pid), what="a queued and handed over")
    cluster.kill9()

    # Close the gate so the new scheduler can only hand 'a' back (not re-queue it) until we are ready.
    cluster.ok("pools", "set", "gate", "0", "closed")
    s2 = cluster.start()
    new_server = cluster.forkserver()
    new_server.suspend()
    cluster.wait(lambda: cluster.tis("ledger")["a"]["state"] == "scheduled", what="a handed back after restart")
    assert cluster.tis("ledger")["a"]["try_number"] == 0
    cluster.ok("pools", "set", "gate", "1", "open")
    cluster.wait(lambda: handed_over(cluster, "ledger", "a", s2.pid), what="a re-queued to the new executor")
    assert cluster.tis("ledger")["a"]["try_number"] == 1

    # The old fork server wakes first: its child claims try 1 ...
    old_server.resume()
    cluster.wait(lambda: running_pid(cluster, "ledger", "a"), what="the orphaned try to claim a")
    # ... then the new one's child finds it already claimed and exits without running it.
    new_server.resume()
    cluster.wait(lambda: cluster.run_states("ledger")[0] in FINISHED_RUN, what="the run to end")
    assert cluster.run_states("ledger") == ["success"], {t: (ti["state"], ti["try_number"], ti["note"]) for t, ti in cluster.tis("ledger").items()}
    assert_ran_once_each(cluster, ledger, ["a", "b", "c", "d"])
    assert cluster.stop() == 0, cluster.output()
