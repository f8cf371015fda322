"""The triggerer against a real database: triggers fire, fail, time out, move between triggerers."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "schedule"))
from schedhelp import FakeClock, SteppingExecutor, make_snapshot, store_dag, task_dict  # noqa: E402

from tradewind.definition.triggers import DateTimeTrigger, FileTrigger  # noqa: E402
from tradewind.definition.triggers.base import FAIL_METHOD, TRIGGER_TIMEOUT, encode_value  # noqa: E402
from tradewind.execute.triggerer import TriggererRunner, run_deferred_inline  # noqa: E402
from tradewind.persist.models import DagModel, DagRun, Job, TaskInstance, TaskInstanceTry, Trigger  # noqa: E402
from tradewind.persist.queries import jobs as job_queries  # noqa: E402
from tradewind.schedule import transitions as tr  # noqa: E402
from tradewind.workloads import TaskKey  # noqa: E402
from tradewind.schedule.scheduler import Scheduler  # noqa: E402

NOW = datetime.now(timezone.utc)
PAST = datetime(2020, 1, 1, tzinfo=timezone.utc)
FUTURE = datetime(2999, 1, 1, tzinfo=timezone.utc)


def wait_until(condition: Any, *, deadline: float = 20.0, what: str) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def add_run(db: Any, dag_id: str = "d", run_id: str = "r") -> None:
    with db.session_scope() as s:
        if s.get(DagModel, dag_id) is None:
            s.add(DagModel(dag_id=dag_id, fileloc=f"/dags/{dag_id}.py"))
            s.flush()
        s.add(DagRun(dag_id=dag_id, run_id=run_id, run_type="manual", state="running", run_after=NOW,
                     logical_date=NOW, conf={}))


def defer(db: Any, task_id: str, trigger: Any, *, dag_id: str = "d", run_id: str = "r",
          timeout_at: datetime | None = None, max_tries: int = 1) -> TaskKey:
    """Queue, claim and defer try 1 of a task instance through the real transitions."""
    key = TaskKey(dag_id, run_id, task_id, -1, 1)
    with db.session_scope() as s:
        s.add(TaskInstance(dag_id=dag_id, run_id=run_id, task_id=task_id, state="queued", try_number=1,
                           max_tries=max_tries))
    with db.session_scope() as s:
        assert tr.claim_try_row(s, key, hostname="h", pid=1, now=NOW) is not None
        classpath, kwargs = trigger.serialize()
        state = tr.defer_try(s, key, classpath=classpath, trigger_kwargs=encode_value(kwargs),
                             next_method="done", next_kwargs={"n": 1}, timeout_at=timeout_at, now=NOW)
    assert state == "deferred"
    return key


def ti(db: Any, key: TaskKey) -> TaskInstance:
    with db.session_scope() as s:
        return s.scalars(select(TaskInstance).where(TaskInstance.task_id == key.task_id,
                                                    TaskInstance.run_id == key.run_id)).one()


def trigger_ids(db: Any) -> list[int]:
    with db.session_scope() as s:
        return list(s.scalars(select(Trigger.id)))


@pytest.fixture
def runner(config: Any, db: Any):
    runner = TriggererRunner(config, db)
    runner.start()
    yield runner
    runner.close()


def step_until(runner: TriggererRunner, condition: Any, what: str) -> Any:
    def check() -> Any:
        runner.run_once()
        return condition()
    return wait_until(check, what=what)


# ----------------------------------------------------------------------------- deferral row
def test_defer_try_steps_the_try_back_and_keeps_the_try_row(db: Any) -> None:
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(FUTURE), timeout_at=FUTURE)
    row = ti(db, key)
    assert (row.state, row.try_number, row.next_method, row.next_kwargs) == ("deferred", 0, "done", {"n": 1})
    assert row.trigger_timeout == FUTURE
    with db.session_scope() as s:
        trig = s.get(Trigger, row.trigger_id)
        assert trig.classpath.endswith("DateTimeTrigger") and trig.triggerer_id is None
        assert [t.state for t in s.scalars(select(TaskInstanceTry))] == ["deferred"]


def test_defer_try_of_an_instance_that_moved_on_stores_nothing(db: Any) -> None:
    add_run(db)
    key = TaskKey("d", "r", "t", -1, 1)
    with db.session_scope() as s:
        s.add(TaskInstance(dag_id="d", run_id="r", task_id="t", state="success", try_number=1))
    with db.session_scope() as s:
        state = tr.defer_try(s, key, classpath="x.Y", trigger_kwargs={}, next_method="done", next_kwargs=None,
                             timeout_at=None, now=NOW)
    assert state == "success" and trigger_ids(db) == []


# ------------------------------------------------------------------------------ the triggerer
def test_a_fired_trigger_schedules_its_instance_with_the_event(db: Any, runner: TriggererRunner) -> None:
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(PAST))
    row = step_until(runner, lambda: ti(db, key).state == "scheduled" and ti(db, key), "the trigger to fire")
    assert row.next_method == "done"
    assert row.next_kwargs == {"n": 1, "event": encode_value(PAST)}
    assert row.trigger_id is None and row.try_number == 0
    assert trigger_ids(db) == [] and runner.running == set()
    # queue_ti then queues the same try number, whose row is reused by the claim
    with db.session_scope() as s:
        obj = s.get(TaskInstance, row.id)
        assert tr.queue_ti(s, obj, NOW) == 1
    with db.session_scope() as s:
        claimed = tr.claim_try_row(s, key, hostname="h", pid=2, now=NOW)
        assert claimed.next_method == "done"
        assert [t.state for t in s.scalars(select(TaskInstanceTry))] == ["running"]


def test_a_file_trigger_fires_when_the_file_appears(db: Any, runner: TriggererRunner, tmp_path: Path) -> None:
    add_run(db)
    flag = tmp_path / "go"
    key = defer(db, "t", FileTrigger(str(flag), poke_interval=0.05))
    runner.run_once()
    assert runner.running and ti(db, key).state == "deferred"
    flag.write_text("now")
    step_until(runner, lambda: ti(db, key).state == "scheduled", "the file trigger to fire")


def test_a_trigger_that_raises_fails_its_instance_through_fail(db: Any, runner: TriggererRunner) -> None:
    add_run(db)
    key = TaskKey("d", "r", "t", -1, 1)
    with db.session_scope() as s:
        s.add(TaskInstance(dag_id="d", run_id="r", task_id="t", state="queued", try_number=1))
    with db.session_scope() as s:
        tr.claim_try_row(s, key, hostname="h", pid=1, now=NOW)
        tr.defer_try(s, key, classpath="tradewind.definition.triggers.file.FileTrigger",
                     trigger_kwargs={"filepath": "/tmp/x", "poke_interval": -1}, next_method="done",
                     next_kwargs=None, timeout_at=None, now=NOW)
    row = step_until(runner, lambda: ti(db, key).state == "scheduled" and ti(db, key), "the failure")
    assert row.next_method == FAIL_METHOD
    assert "poke_interval must be positive" in row.next_kwargs["error"]
    assert row.next_kwargs["traceback"]
    assert trigger_ids(db) == []


def test_a_trigger_nobody_waits_on_is_cancelled_and_deleted(db: Any, runner: TriggererRunner) -> None:
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(FUTURE))
    runner.run_once()
    assert len(runner.running) == 1
    with db.session_scope() as s:  # cleared by hand
        tr.clear_task_instances(s, [s.get(TaskInstance, ti(db, key).id)], now=NOW)
    runner.run_once()
    assert runner.running == set() and trigger_ids(db) == []
    row = ti(db, key)
    assert (row.state, row.next_method, row.trigger_id) == ("none", None, None)


def test_capacity_limits_the_triggers_one_triggerer_takes(config: Any, db: Any) -> None:
    add_run(db)
    for n in range(3):
        defer(db, f"t{n}", DateTimeTrigger(FUTURE))
    small = TriggererRunner(config, db, capacity=2)
    small.start()
    try:
        small.run_once()
        assert len(small.running) == 2
        with db.session_scope() as s:
            assert sorted(t.triggerer_id is None for t in s.scalars(select(Trigger))) == [False, False, True]
    finally:
        small.close()
    with db.session_scope() as s:  # a stopping triggerer hands its triggers back
        assert all(t.triggerer_id is None for t in s.scalars(select(Trigger)))
        assert s.get(Job, small_job_id(s)).state == "success"


def small_job_id(session: Any) -> int:
    return session.scalars(select(Job.id).where(Job.job_type == "triggerer")).one()


def test_triggers_of_a_dead_triggerer_are_taken_over(config: Any, db: Any) -> None:
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(PAST))
    trigger_id = ti(db, key).trigger_id
    with db.session_scope() as s:  # a triggerer that stopped heartbeating long ago holds the trigger
        dead = job_queries.start_job(s, "triggerer", "elsewhere", 999999, NOW - timedelta(hours=1))
        s.get(Trigger, trigger_id).triggerer_id = dead.id
    alive_runner = TriggererRunner(config, db)
    alive_runner.start()
    try:
        with db.session_scope() as s:  # while it was alive, nobody else would have taken it
            from tradewind.persist.queries.triggers import alive_triggerer_ids
            assert dead.id not in alive_triggerer_ids(s, NOW, alive_runner.health_threshold)
        step_until(alive_runner, lambda: ti(db, key).state == "scheduled", "the takeover")
    finally:
        alive_runner.close()


def test_a_live_triggerers_triggers_are_left_alone(config: Any, db: Any) -> None:
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(PAST))
    trigger_id = ti(db, key).trigger_id
    with db.session_scope() as s:
        other = job_queries.start_job(s, "triggerer", "elsewhere", 999999, datetime.now(timezone.utc))
        s.get(Trigger, trigger_id).triggerer_id = other.id
    second = TriggererRunner(config, db)
    second.start()
    try:
        second.run_once()
        assert second.running == set() and ti(db, key).state == "deferred"
    finally:
        second.close()


# ---------------------------------------------------------------------------- timeouts
def test_the_scheduler_times_out_a_deferral_at_its_interval(config: Any, db: Any) -> None:
    clock = FakeClock(NOW)
    snap = make_snapshot("d", [task_dict("t")])
    with db.session_scope() as s:
        store_dag(s, snap, now=NOW)
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(FUTURE), timeout_at=NOW + timedelta(seconds=10))
    scheduler = Scheduler(config, db, SteppingExecutor(db), clock=clock)
    scheduler.run_once()
    assert ti(db, key).state == "deferred"
    clock.advance(seconds=11)  # past the timeout, but before the next check (every 15 s)
    scheduler.run_once()
    assert ti(db, key).state == "deferred"
    clock.advance(seconds=5)
    scheduler.run_once()
    row = ti(db, key)
    assert row.next_method == FAIL_METHOD and row.next_kwargs == {"error": TRIGGER_TIMEOUT}
    assert row.state in ("scheduled", "queued") and row.trigger_id is None


# ----------------------------------------------------------------------------- inline
def test_run_deferred_inline_fires_the_runs_triggers(db: Any) -> None:
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(datetime.now(timezone.utc) + timedelta(seconds=0.2)))
    assert run_deferred_inline(db, "d", "r") is True
    assert ti(db, key).state == "scheduled" and trigger_ids(db) == []
    assert run_deferred_inline(db, "d", "r") is False


def test_run_deferred_inline_times_out_a_deferral(db: Any) -> None:
    add_run(db)
    key = defer(db, "t", DateTimeTrigger(FUTURE), timeout_at=datetime.now(timezone.utc) + timedelta(seconds=0.2))
    assert run_deferred_inline(db, "d", "r") is True
    row = ti(db, key)
    assert row.state == "scheduled" and row.next_kwargs == {"error": TRIGGER_TIMEOUT}
