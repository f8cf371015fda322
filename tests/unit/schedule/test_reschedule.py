"""Sensor reschedule mode in the scheduler and the transitions: up_for_reschedule frees the slot,
waits for next_retry_at, and the same try (same number, same try row) continues."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from schedhelp import FakeClock, SteppingExecutor, get_ti, make_snapshot, store_dag, task_dict
from tradewind.persist.models import TaskInstanceTry, TaskReschedule
from tradewind.persist.queries.reschedules import list_reschedules, reschedule_summary
from tradewind.schedule import deps, transitions as tr
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler


class Env:
    def __init__(self, config, db, snap, parallelism=32):
        self.db, self.snap = db, snap
        self.clock = FakeClock()
        self.ex = SteppingExecutor(db, parallelism=parallelism)
        with db.session_scope() as s:
            self.version_id = store_dag(s, snap)
        self.sched = Scheduler(config, db, self.ex, clock=self.clock)

    def trigger(self):
        with self.db.session_scope() as s:
            return create_manual_run(s, self.snap, self.version_id, now=self.clock()).run_id

    def queued_ids(self):
        return sorted(w.key.task_id for w in self.ex.queued)

    def reschedule(self, task_id, seconds):
        """Claim the queued try of ``task_id`` and end it as a reschedule-mode sensor would."""
        w = self.ex.take(task_id)
        now = self.clock()
        with self.db.session_scope() as s:
            assert tr.claim_try(s, w.key, hostname="test", pid=1, now=now) is not None
            self.clock.advance(seconds=2)  # the poke takes a while
            state = tr.reschedule_try(s, w.key, reschedule_date=self.clock() + timedelta(seconds=seconds),
                                      now=self.clock())
        del self.ex.running[w.key]
        from tradewind.schedule.executor_interface import ExecutorEvent

        self.ex.events.append(ExecutorEvent(w.key, 0, recorded=True))
        return w.key, state


def sensor_dag():
    return make_snapshot("sens", [task_dict("wait", operator="PythonSensor"), task_dict("after", ("wait",))])


def test_reschedule_frees_the_slot_waits_and_continues_the_same_try(config, db):
    env = Env(config, db, sensor_dag())
    run_id = env.trigger()
    env.sched.run_once()
    assert env.queued_ids() == ["wait"]
    key, state = env.reschedule("wait", 60)
    assert state.value == "up_for_reschedule"
    ti = get_ti(db, "sens", run_id, "wait")
    assert ti.state == "up_for_reschedule"
    assert ti.try_number == 0  # stepped back: the next queue gives the same number
    assert ti.next_retry_at == env.clock() + timedelta(seconds=60)
    assert reschedule_summary_of(db, key) == (env.clock() - timedelta(seconds=2), 1)

    env.sched.run_once()
    assert env.queued_ids() == []  # not before next_retry_at
    assert ti.next_retry_at in env.sched._deadlines  # the scheduler wakes up then
    assert deps.retry_delay_passed(ti, env.clock()).startswith("sensor rescheduled: next poke at")

    env.clock.advance(seconds=61)
    env.sched.run_once()
    assert env.queued_ids() == ["wait"]
    assert env.ex.queued[0].key.try_number == 1  # the same try
    env.ex.complete("wait", snapshot=env.snap, now=env.clock())
    with db.session_scope() as s:
        tries = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.task_id == "wait")).all()
        assert [(t.try_number, t.state) for t in tries] == [(1, "success")]
    env.sched.run_once()
    assert env.queued_ids() == ["after"]


def reschedule_summary_of(db, key):
    with db.session_scope() as s:
        return reschedule_summary(s, key.dag_id, key.run_id, key.task_id, key.map_index, key.try_number)


def test_each_reschedule_is_recorded_and_the_first_one_marks_the_start(config, db):
    env = Env(config, db, sensor_dag())
    run_id = env.trigger()
    env.sched.run_once()
    first_start = env.clock()
    for _ in range(3):
        key, _ = env.reschedule("wait", 10)
        env.clock.advance(seconds=11)
        env.sched.run_once()
        assert env.ex.queued[0].key.try_number == 1
    start, count = reschedule_summary_of(db, key)
    assert (start, count) == (first_start, 3)
    with db.session_scope() as s:
        rows = list_reschedules(s, "sens", run_id, "wait")
        assert [r.try_number for r in rows] == [1, 1, 1]
        assert all(r.reschedule_date == r.end_date + timedelta(seconds=10) for r in rows)
        assert all(r.duration == 2.0 for r in rows)
        assert len(s.scalars(select(TaskInstanceTry)).all()) == 1


def test_a_reschedule_after_the_instance_moved_on_changes_nothing(config, any_db):
    env = Env(config, any_db, sensor_dag())
    env.trigger()
    env.sched.run_once()
    w = env.ex.take("wait")
    with any_db.session_scope() as s:
        assert tr.claim_try(s, w.key, hostname="h", pid=1, now=env.clock()) is not None
        tr.set_ti_state(s, tr.get_ti(s, w.key), "success", env.clock())  # marked by hand while the poke ran
    with any_db.session_scope() as s:
        state = tr.reschedule_try(s, w.key, reschedule_date=env.clock() + timedelta(minutes=1), now=env.clock())
        assert state.value == "success"
        assert s.scalars(select(TaskReschedule)).all() == []
        assert tr.get_ti(s, w.key).try_number == 1


def test_reschedule_on_both_backends_reuses_the_try_row(config, any_db):
    env = Env(config, any_db, sensor_dag())
    run_id = env.trigger()
    for poke in range(2):
        env.sched.run_once()
        w = env.ex.take("wait")
        del env.ex.running[w.key]
        assert w.key.try_number == 1
        with any_db.session_scope() as s:
            assert tr.claim_try(s, w.key, hostname="h", pid=1, now=env.clock()) is not None
            env.clock.advance(seconds=1)
            state = tr.reschedule_try(s, w.key, reschedule_date=env.clock() + timedelta(seconds=5),
                                      now=env.clock(), rendered_fields={"poke": poke})
            assert state.value == "up_for_reschedule"
        with any_db.session_scope() as s:
            tries = s.scalars(select(TaskInstanceTry)).all()
            assert [(t.try_number, t.state, t.rendered_fields) for t in tries] == [
                (1, "up_for_reschedule", {"poke": poke})]
        env.clock.advance(seconds=5)
    with any_db.session_scope() as s:
        start, count = reschedule_summary(s, "sens", run_id, "wait", -1, 1)
    assert count == 2 and start is not None and start.tzinfo is not None
