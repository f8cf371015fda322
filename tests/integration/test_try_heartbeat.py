"""A try process's heartbeat: a cleared instance stops its running try (real fork server)."""

from __future__ import annotations


import psutil
from cli_support import wait_for
from runner_support import add_dag, queue, ti_row, try_row, workload
from sqlalchemy import update

from tradewind.execute.executors.local import LocalExecutor
from tradewind.persist.models import TaskInstance
from tradewind.schedule.executor_interface import Waker

DAG = """
with DAG("beating", start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id="hang", bash_command="echo $$ > $PROBE_DIR/hang; exec sleep 60")
"""


def test_a_cleared_instance_stops_its_running_try(config, db, probe) -> None:
    fileloc = add_dag(config, db, "beating", DAG)
    executor = LocalExecutor(1, Waker(), config=config)
    executor.start()
    try:
        key = queue(db, "beating", "hang")
        executor.queue_workload(workload(key, fileloc))
        bash_pid = int(wait_for(lambda: (probe / "hang").exists() and (probe / "hang").read_text().strip(), deadline=60))
        with db.session_scope() as s:  # cleared while running
            s.execute(update(TaskInstance).where(TaskInstance.task_id == "hang").values(state="none"))
        events = wait_for(executor.collect_events, deadline=60)
    finally:
        executor.end(wait=False)
    assert [e.key for e in events] == [key] and events[0].recorded
    assert ti_row(db, key).state == "none"  # the clear stands; the try closed only its own row
    row = try_row(db, key)
    assert row.state == "failed" and "SIGTERM" in (row.error or "")
    wait_for(lambda: not psutil.pid_exists(bash_pid) or psutil.Process(bash_pid).status() == psutil.STATUS_ZOMBIE,
             deadline=60)
