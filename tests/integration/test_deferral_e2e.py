"""Deferral end to end with real processes: a deferred task gives its only slot away."""

from __future__ import annotations

import signal

import pytest
from cli_support import Home, free_port, wait_for
from sqlalchemy import select

from tradewind.persist.db import Database
from tradewind.persist.models import Job, TaskInstanceTry, Trigger, XCom

pytestmark = pytest.mark.slow

RUN_DEADLINE = 90.0

WAITER = '''
from datetime import datetime
from tradewind import DAG, BaseOperator, FileTrigger, task


class WaitForFlag(BaseOperator):
    def __init__(self, *, path, **kwargs):
        super().__init__(**kwargs)
        self.path = path

    def execute(self, context):
        context["ti"].xcom_push(key="before", value="pushed before deferring")
        self.defer(trigger=FileTrigger(self.path, poke_interval=0.1), method_name="resume",
                   kwargs={"path": self.path})

    def resume(self, context, event, path):
        return f"found {path}: {event}"


with DAG("waiter", schedule=None, start_date=datetime(2024, 1, 1)):
    WaitForFlag(task_id="wait", path="FLAG")
'''

QUICK = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("quick", schedule=None, start_date=datetime(2024, 1, 1)):
    BashOperator(task_id="hello", bash_command="echo hello")
'''

TIMES_OUT = '''
from datetime import datetime, timedelta
from tradewind import DAG, BaseOperator, DateTimeTrigger


class NeverInTime(BaseOperator):
    def execute(self, context):
        self.defer(trigger=DateTimeTrigger(datetime(2999, 1, 1).astimezone()), method_name="resume",
                   timeout=timedelta(seconds=0.5))

    def resume(self, context, event):
        return "unreachable"


with DAG("times_out", schedule=None, start_date=datetime(2024, 1, 1)):
    NeverInTime(task_id="wait", retries=1, retry_delay=timedelta(seconds=0))
'''


def _states(home: Home, dag_id: str) -> dict[str, str]:
    runs = home.json("dags", "list-runs", dag_id)
    if not runs:
        return {}
    rows = home.json("tasks", "states-for-dag-run", dag_id, runs[0]["run_id"])
    return {r["task_id"]: r["state"] for r in rows}


def test_a_deferred_task_frees_its_slot_and_resumes_when_its_trigger_fires(home: Home) -> None:
    flag = home.path / "flag"
    home.add_dag("waiter.py", WAITER.replace('"FLAG"', repr(str(flag))))
    home.add_dag("quick.py", QUICK)
    home.env["TRADEWIND__CORE__PARALLELISM"] = "1"  # one slot: only a deferral lets `quick` run
    home.env["TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    proc = home.popen("standalone", "--port", str(free_port()))
    try:
        wait_for(lambda: {d["dag_id"] for d in home.json("dags", "list")} >= {"waiter", "quick"},
                 deadline=RUN_DEADLINE, interval=0.5, what="both DAGs parsed")
        home.ok("dags", "trigger", "waiter")
        wait_for(lambda: _states(home, "waiter").get("wait") == "deferred", deadline=RUN_DEADLINE,
                 interval=0.3, what="the waiter deferred")
        home.ok("dags", "trigger", "quick")
        wait_for(lambda: _states(home, "quick").get("hello") == "success", deadline=RUN_DEADLINE,
                 interval=0.3, what="quick ran in the slot the deferred task gave back")
        assert _states(home, "waiter") == {"wait": "deferred"}
        flag.write_text("go")
        wait_for(lambda: _states(home, "waiter").get("wait") == "success", deadline=RUN_DEADLINE,
                 interval=0.3, what="the waiter resumed after its trigger fired")
        run_id = home.json("dags", "list-runs", "waiter")[0]["run_id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    try:
        with db.session_scope() as s:
            tries = list(s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.dag_id == "waiter")))
            assert [(t.try_number, t.state) for t in tries] == [(1, "success")]  # one try, resumed
            assert s.scalars(select(Trigger)).all() == []
            xcoms = dict(s.execute(select(XCom.key, XCom.value).where(XCom.dag_id == "waiter")).all())
            # what the try pushed before deferring survives its resumption (Airflow)
            assert set(xcoms) == {"before", "return_value"}
            job = s.scalars(select(Job).where(Job.job_type == "triggerer")).one()
            assert job.state == "success"  # standalone's shutdown stopped the triggerer
    finally:
        db.engine.dispose()
    returned = home.ok("tasks", "states-for-dag-run", "waiter", run_id)  # still readable
    assert "success" in returned.stdout


def test_dags_test_fails_a_deferral_that_times_out_after_its_retry(home: Home) -> None:
    home.add_dag("times_out.py", TIMES_OUT)
    result = home.run("dags", "test", "times_out", timeout=120)
    assert result.returncode != 0
    assert "TaskDeferralTimeout: Trigger timeout" in result.stdout + result.stderr
    assert "wait: up_for_retry" in result.stdout and "wait: failed (try 2)" in result.stdout


def test_triggerer_command_stops_on_sigterm_and_ends_its_job(home: Home) -> None:
    proc = home.popen("triggerer", "--capacity", "10")
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    try:
        def running_job() -> bool:
            with db.session_scope() as s:
                return bool(s.scalars(select(Job).where(Job.job_type == "triggerer", Job.state == "running")).all())
        wait_for(running_job, deadline=RUN_DEADLINE, what="the triggerer job")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "capacity 10" in out and "stopped" in out
        with db.session_scope() as s:
            assert s.scalars(select(Job.state).where(Job.job_type == "triggerer")).one() == "success"
    finally:
        if proc.poll() is None:
            proc.kill()
        db.engine.dispose()
