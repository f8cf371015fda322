"""Schedulers adopt the dead: the queued instances of a scheduler whose job stopped heartbeating
go back to scheduled within ``scheduler_health_check_threshold`` plus one step; a live other
scheduler's are left alone; a restarted scheduler adopts what its previous self queued."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, update

from schedhelp import FakeClock, SteppingExecutor, get_ti, make_snapshot, store_dag, task_dict
from tradewind.config import Config
from tradewind.persist.models import Job, TaskInstance
from tradewind.schedule import transitions as tr
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler

THRESHOLD = 30


def _config(tw_home):
    return Config.load(home=tw_home, environ={}, overrides={
        "core": {"load_examples": "False"},
        "scheduler": {"scheduler_health_check_threshold": str(THRESHOLD)}})


def _trigger(db, dag_id, clock, n=2):
    snap = make_snapshot(dag_id, [task_dict(f"t{i}") for i in range(n)])
    with db.session_scope() as s:
        return snap, create_manual_run(s, snap, store_dag(s, snap), now=clock()).run_id


def _job(db, job_id):
    with db.session_scope() as s:
        return s.get(Job, job_id)


def _queued_by(db, dag_id):
    with db.session_scope() as s:
        return dict(s.execute(select(TaskInstance.task_id, TaskInstance.queued_by_job_id)
                              .where(TaskInstance.dag_id == dag_id)).all())


def test_a_dead_schedulers_queued_instances_are_adopted_within_the_threshold(tw_home, any_db):
    config = _config(tw_home)
    clock = FakeClock()
    live = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock)
    live.run_once()  # registered before the other one queues anything
    snap, run_id = _trigger(any_db, "dead", clock)
    dying_ex = SteppingExecutor(any_db, parallelism=2)
    dying = Scheduler(config, any_db, dying_ex, clock=clock)
    dying.run_once()  # queues both instances, heartbeats at T0 ... then is killed: its messages are lost
    assert set(_queued_by(any_db, "dead").values()) == {dying.job_id}
    old_keys = dying_ex.keys()
    died_at = clock()
    clock.advance(seconds=THRESHOLD - 1)
    live.run_once()
    assert {get_ti(any_db, "dead", run_id, t).state for t in ("t0", "t1")} == {"queued"}  # not dead yet
    assert _job(any_db, dying.job_id).state == "running"
    assert min(live._deadlines) <= died_at + timedelta(seconds=THRESHOLD)  # the loop wakes when it turns stale
    clock.advance(seconds=1)  # threshold reached: one step adopts
    live.run_once()
    job = _job(any_db, dying.job_id)
    assert job.state == "failed" and job.end_date == clock()
    for task_id in ("t0", "t1"):
        ti = get_ti(any_db, "dead", run_id, task_id)
        assert ti.try_number == 1 and ti.state == "queued"  # re-queued by the live one, same try number
    assert set(_queued_by(any_db, "dead").values()) == {live.job_id}
    assert sorted(k.try_number for k in live.executor.keys()) == [1, 1]
    # A late copy of the dead scheduler's message and the new one name the same try: one claim wins.
    with any_db.session_scope() as s:
        assert tr.claim_try(s, old_keys[0], hostname="late", pid=2, now=clock()) is not None
    with any_db.session_scope() as s:
        assert tr.claim_try(s, old_keys[0], hostname="new", pid=3, now=clock()) is None


def test_a_live_other_schedulers_queued_instances_are_not_touched(tw_home, any_db):
    config = _config(tw_home)
    clock = FakeClock()
    first = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock)
    first.run_once()
    _, run_id = _trigger(any_db, "alive", clock)
    other = Scheduler(config, any_db, SteppingExecutor(any_db, parallelism=2), clock=clock)
    other.run_once()
    for _ in range(2 * THRESHOLD // 5):  # both keep stepping well past the threshold
        clock.advance(seconds=5)
        other.run_once()
        first.run_once()
    assert {get_ti(any_db, "alive", run_id, t).state for t in ("t0", "t1")} == {"queued"}
    assert set(_queued_by(any_db, "alive").values()) == {other.job_id}
    assert _job(any_db, other.job_id).state == "running"
    assert first.executor.keys() == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_restarted_scheduler_adopts_its_previous_self_at_start(tw_home, any_db):
    config = _config(tw_home)
    clock = FakeClock()
    _, run_id = _trigger(any_db, "restart", clock)
    before = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock)
    before.run_once()
    with any_db.session_scope() as s:  # it was killed a moment ago: fresh heartbeat, process gone
        s.execute(update(Job).where(Job.id == before.job_id).values(pid=_dead_pid()))
    clock.advance(seconds=1)
    after = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock)
    after.run_once()  # adopts at start and queues them again in the same step
    assert _job(any_db, before.job_id).state == "failed"
    for task_id in ("t0", "t1"):
        ti = get_ti(any_db, "restart", run_id, task_id)
        assert (ti.state, ti.try_number, ti.queued_by_job_id) == ("queued", 1, after.job_id)
    assert sorted(k.task_id for k in after.executor.keys()) == ["t0", "t1"]


def test_a_dags_test_scheduler_leaves_other_schedulers_alone(tw_home, any_db):
    config = _config(tw_home)
    clock = FakeClock()
    _, run_id = _trigger(any_db, "scoped", clock)
    stale = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock)
    stale.run_once()
    _, own_run = _trigger(any_db, "mine", clock)
    clock.advance(seconds=THRESHOLD * 2)
    only = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock, only_run=("mine", own_run))
    only.run_once()
    only.run_once()
    assert _job(any_db, stale.job_id).state == "running"
    assert {get_ti(any_db, "scoped", run_id, t).state for t in ("t0", "t1")} == {"queued"}


def test_a_scheduler_declared_dead_while_alive_goes_on_under_a_new_job(tw_home, any_db):
    config = _config(tw_home)
    clock = FakeClock()
    slow = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock)
    slow.run_once()
    watcher = Scheduler(config, any_db, SteppingExecutor(any_db), clock=clock)
    watcher.run_once()
    clock.advance(seconds=THRESHOLD + 1)  # one long step of the slow one: no heartbeat meanwhile
    watcher.run_once()
    old_id = slow.job_id
    assert _job(any_db, old_id).state == "failed"
    slow.run_once()
    assert slow.job_id != old_id and _job(any_db, slow.job_id).state == "running"
