"""The scheduler driven step by step: a fake clock and a stepping executor completing tries
through the real transitions (as the task runner does)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from schedhelp import T0, FakeClock, SteppingExecutor, get_ti, make_snapshot, runs, store_dag, task_dict, ti_states
from tradewind.config import Config
from tradewind.definition.timetables import CronDataIntervalTimetable
from tradewind.persist.models import DagModel, DagRun, Job, Pool, TaskInstance, TaskInstanceTry
from tradewind.schedule import deps, transitions as tr
from tradewind.schedule.runs import DuplicateRunError, RunCreationError, create_manual_run
from tradewind.schedule.scheduler import Scheduler

DAILY = CronDataIntervalTimetable("0 0 * * *", "UTC").serialize()


class Env:
    """One DAG stored, a scheduler with a fake clock, a stepping executor and a callback list."""

    def __init__(self, config, db, snap, *, paused=False, parallelism=32):
        self.db, self.snap, self.config = db, snap, config
        self.clock = FakeClock()
        self.ex = SteppingExecutor(db, parallelism=parallelism)
        self.callbacks = []
        with db.session_scope() as s:
            self.version_id = store_dag(s, snap, paused=paused)
        self.sched = Scheduler(config, db, self.ex, clock=self.clock, callback_sink=self.callbacks.append)

    def trigger(self, run_id=None, conf=None, logical_date=None):
        with self.db.session_scope() as s:
            run = create_manual_run(s, self.snap, self.version_id, run_id=run_id, conf=conf,
                                    logical_date=logical_date, now=self.clock())
            return run.run_id

    def step(self):
        return self.sched.run_once()

    def complete(self, task_id, outcome="success", **kw):
        return self.ex.complete(task_id, outcome, snapshot=self.snap, now=self.clock(), **kw)

    def queued_ids(self):
        return sorted(w.key.task_id for w in self.ex.queued)

    def run_state(self, run_id):
        with self.db.session_scope() as s:
            return s.scalars(select(DagRun).where(DagRun.run_id == run_id)).one().state


def linear(**task_extra):
    return make_snapshot("lin", [task_dict("a", **task_extra), task_dict("b", ("a",)), task_dict("c", ("b",))],
                         callbacks=["on_success_callback", "on_failure_callback"])


def test_linear_run_succeeds_and_emits_success_callback(config, db):
    env = Env(config, db, linear())
    run_id = env.trigger(conf={"x": 1})
    assert env.step()
    assert env.queued_ids() == ["a"]
    assert env.ex.queued[0].key.try_number == 1
    assert env.ex.queued[0].fileloc == "/dags/lin.py"
    assert env.ex.queued[0].environ["TRADEWIND_HOME"] == str(config.home)
    env.complete("a")
    env.step()
    assert env.queued_ids() == ["b"]
    env.complete("b")
    env.step()
    env.complete("c")
    env.step()
    assert env.run_state(run_id) == "success"
    assert [(c.run_id, c.success, c.reason) for c in env.callbacks] == [(run_id, True, "success")]
    assert not env.step()  # nothing left to do


def test_failure_propagates_upstream_failed_and_fails_run(config, db):
    env = Env(config, db, linear())
    run_id = env.trigger()
    env.step()
    assert env.complete("a", "failed") == "failed"
    env.step()
    assert ti_states(db, "lin") == {"a": "failed", "b": "upstream_failed", "c": "upstream_failed"}
    assert env.run_state(run_id) == "failed"
    assert [(c.success, c.reason) for c in env.callbacks] == [(False, "task_failure")]


def test_retry_waits_for_delay_then_queues_next_try(config, db):
    env = Env(config, db, linear(retries=1, retry_delay=60))
    run_id = env.trigger()
    env.step()
    assert env.complete("a", "failed") == "up_for_retry"
    env.step()
    assert env.queued_ids() == []
    assert "waiting for retry delay" in " ".join(_failed_deps(db, env, run_id, "a"))
    env.clock.advance(seconds=61)
    env.step()
    assert [w.key.try_number for w in env.ex.queued] == [2]
    assert env.complete("a", "failed") == "failed"
    env.step()
    assert env.run_state(run_id) == "failed"


def _failed_deps(db, env, run_id, task_id):
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == task_id)).one()
        return deps.failed_deps(s, ti, env.snap, now=env.clock(), parallelism=32)


def test_branch_skips_propagate_and_join_runs(config, db):
    snap = make_snapshot("br", [
        task_dict("branch"),
        task_dict("x", ("branch",)), task_dict("y", ("branch",)),
        task_dict("y2", ("y",)),
        task_dict("join", ("x", "y2"), trigger_rule="none_failed_min_one_success"),
        task_dict("after_y2", ("y2",)),
    ])
    env = Env(config, db, snap)
    run_id = env.trigger()
    env.step()
    env.complete("branch", skip=("y",))
    env.step()
    assert env.queued_ids() == ["x"]
    states = ti_states(db, "br")
    assert (states["y"], states["y2"], states["after_y2"], states["join"]) == ("skipped", "skipped", "skipped", "none")
    env.complete("x")
    env.step()
    assert env.queued_ids() == ["join"]
    env.complete("join")
    env.step()
    assert env.run_state(run_id) == "success"


def test_leaf_failure_under_all_done_still_fails_run(config, db):
    snap = make_snapshot("ad", [task_dict("a"), task_dict("cleanup", ("a",), trigger_rule="all_done"),
                                 task_dict("b", ("a",))])
    env = Env(config, db, snap)
    run_id = env.trigger()
    env.step()
    env.complete("a", "failed")
    env.step()
    assert env.queued_ids() == ["cleanup"]
    env.complete("cleanup")
    env.step()
    assert ti_states(db, "ad")["b"] == "upstream_failed"
    assert env.run_state(run_id) == "failed"


def test_pool_and_priority_ordering(config, db):
    snap = make_snapshot("pp", [
        task_dict("low", pool="small", priority_weight_total=1),
        task_dict("high", pool="small", priority_weight_total=10),
        task_dict("mid", pool="small", priority_weight_total=5),
        task_dict("free", priority_weight_total=0),
    ])
    with db.session_scope() as s:
        s.add(Pool(pool="small", slots=1))
    env = Env(config, db, snap)
    env.trigger()
    env.step()
    assert env.queued_ids() == ["free", "high"]
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.task_id == "mid")).one()
        assert "pool 'small' has 0 open slot(s)" in " ".join(deps.failed_deps(s, ti, snap, now=env.clock()))
    env.complete("high")
    env.step()
    assert env.queued_ids() == ["free", "mid"]
    env.complete("mid")
    env.step()
    assert env.queued_ids() == ["free", "low"]


def test_missing_pool_keeps_task_scheduled(config, db):
    snap = make_snapshot("mp", [task_dict("a", pool="nope")])
    env = Env(config, db, snap)
    env.trigger()
    env.step()
    assert env.queued_ids() == []
    assert ti_states(db, "mp") == {"a": "scheduled"}


def test_max_active_tasks(config, db):
    snap = make_snapshot("mat", [task_dict(t) for t in "abc"], max_active_tasks=2)
    env = Env(config, db, snap)
    env.trigger()
    env.step()
    assert len(env.ex.queued) == 2
    env.complete(env.ex.queued[0].key.task_id)
    env.step()
    assert len(env.ex.queued) == 2


def test_parallelism_limits_queued_and_running(tw_home, db):
    cfg = Config.load(home=tw_home, environ={}, overrides={"core": {"load_examples": "False", "parallelism": "1"}})
    snap = make_snapshot("par", [task_dict(t) for t in "abc"])
    env = Env(cfg, db, snap)
    env.trigger()
    env.step()
    assert len(env.ex.queued) == 1
    env.step()
    assert len(env.ex.queued) == 1  # the queued one still counts
    env.complete(env.ex.queued[0].key.task_id)
    env.step()
    assert len(env.ex.queued) == 1


def test_executor_slots_limit_queueing(config, db):
    snap = make_snapshot("slots", [task_dict(t) for t in "abcd"])
    env = Env(config, db, snap, parallelism=2)
    env.trigger()
    env.step()
    assert len(env.ex.queued) == 2
    assert sorted(ti_states(db, "slots").values()) == ["queued", "queued", "scheduled", "scheduled"]


def test_catchup_true_creates_every_due_run(config, db):
    snap = make_snapshot("cu", [task_dict("a")], timetable=DAILY, start_date=T0.isoformat(), catchup=True)
    env = Env(config, db, snap)
    env.clock.now = T0 + timedelta(days=3, hours=12)
    env.step()
    ids = [r.run_id for r in runs(db, "cu")]
    assert ids == ["scheduled__2024-01-01T00:00:00+00:00", "scheduled__2024-01-02T00:00:00+00:00",
                   "scheduled__2024-01-03T00:00:00+00:00"]
    first = runs(db, "cu")[0]
    assert (first.data_interval_start, first.data_interval_end, first.run_after) == (T0, T0 + timedelta(days=1),
                                                                                     T0 + timedelta(days=1))
    with db.session_scope() as s:
        dag = s.get(DagModel, "cu")
        assert dag.next_dagrun == T0 + timedelta(days=3)
        assert dag.next_dagrun_create_after == T0 + timedelta(days=4)
    env.step()
    assert len(runs(db, "cu")) == 3  # nothing new until the next interval ends
    env.clock.now = T0 + timedelta(days=4)
    env.step()
    assert runs(db, "cu")[-1].run_id == "scheduled__2024-01-04T00:00:00+00:00"


def test_catchup_false_creates_only_latest(config, db):
    snap = make_snapshot("nocu", [task_dict("a")], timetable=DAILY, start_date=T0.isoformat(), catchup=False)
    env = Env(config, db, snap)
    env.clock.now = T0 + timedelta(days=3, hours=12)
    env.step()
    assert [r.run_id for r in runs(db, "nocu")] == ["scheduled__2024-01-03T00:00:00+00:00"]


def test_paused_dag_gets_no_runs(config, db):
    snap = make_snapshot("pz", [task_dict("a")], timetable=DAILY, start_date=T0.isoformat(), catchup=True)
    env = Env(config, db, snap, paused=True)
    env.clock.now = T0 + timedelta(days=3)
    env.step()
    assert runs(db, "pz") == []


def test_max_active_runs_limits_creation_and_start(config, db):
    snap = make_snapshot("mar", [task_dict("a")], timetable=DAILY, start_date=T0.isoformat(), catchup=True,
                         max_active_runs=1)
    env = Env(config, db, snap)
    env.clock.now = T0 + timedelta(days=3, hours=1)
    env.step()
    assert [r.state for r in runs(db, "mar")] == ["running"]
    env.complete("a")
    env.step()
    env.step()
    assert [r.state for r in runs(db, "mar")] == ["success", "running"]


def test_manual_run_conf_and_duplicate_run_id(config, db):
    env = Env(config, db, linear())
    run_id = env.trigger(conf={"k": "v"})
    assert run_id == "manual__2024-01-01T00:00:00+00:00"
    with db.session_scope() as s:
        run = s.scalars(select(DagRun)).one()
        assert (run.conf, run.state, run.run_type, run.logical_date, run.dag_version_id) == (
            {"k": "v"}, "queued", "manual", T0, env.version_id)
    with pytest.raises(DuplicateRunError, match="already has a run with run_id 'manual__2024-01-01"):
        env.trigger()
    with pytest.raises(RunCreationError, match="conf"):
        env.trigger(run_id="other", conf=[1, 2])


def test_dagrun_timeout_fails_run_and_skips_unfinished(config, db):
    snap = make_snapshot("to", [task_dict("a"), task_dict("b", ("a",))], dagrun_timeout=60,
                         callbacks=["on_failure_callback"])
    env2 = Env(config, db, snap)
    run_id = env2.trigger()
    env2.step()
    with db.session_scope() as s:
        tr.claim_try(s, env2.ex.queued[0].key, hostname="h", pid=1, now=env2.clock())
    env2.clock.advance(seconds=61)
    env2.step()
    assert env2.run_state(run_id) == "failed"
    assert ti_states(db, "to") == {"a": "skipped", "b": "skipped"}
    assert [(c.dag_id, c.success, c.reason) for c in env2.callbacks] == [("to", False, "timed_out")]


def test_zombie_is_failed_with_retry(config, db):
    env = Env(config, db, linear(retries=1, retry_delay=10))
    run_id = env.trigger()
    env.step()
    with db.session_scope() as s:
        tr.claim_try(s, env.ex.queued[0].key, hostname="h", pid=1, now=env.clock())
    env.clock.advance(seconds=20)
    env.step()
    assert get_ti(db, "lin", run_id, "a").state == "running"  # within the 30 s heartbeat timeout
    env.clock.advance(seconds=20)
    env.step()
    ti = get_ti(db, "lin", run_id, "a")
    assert ti.state == "up_for_retry" and "zombie" in ti.note
    assert ti.next_retry_at == env.clock() + timedelta(seconds=10)


def test_dead_process_event_fails_try(config, db):
    env = Env(config, db, linear(retries=1, retry_delay=0))
    run_id = env.trigger()
    env.step()
    env.ex.die("a", -9, now=env.clock())
    env.step()
    ti = get_ti(db, "lin", run_id, "a")
    # retry_delay 0: up_for_retry and, in the same step, re-queued as try 2
    assert ti.state == "queued" and ti.try_number == 2
    with db.session_scope() as s:
        row = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.try_number == 1)).one()
        assert row.state == "failed" and row.error == "process exited with code -9"
    env.ex.die("a", 1, claim=False, now=env.clock())  # died before even claiming
    env.step()
    ti = get_ti(db, "lin", run_id, "a")
    assert ti.state == "failed"
    assert ti.note == "process exited with code 1"
    assert env.run_state(run_id) == "failed"


def test_restart_requeues_unclaimed_try_with_same_number(config, db):
    env = Env(config, db, linear())
    env.trigger()
    env.step()
    old_key = env.ex.queued[0].key
    # The scheduler dies (its process is gone); a new one starts on the same database with a fresh executor.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with db.session_scope() as s:
        s.execute(update(Job).where(Job.id == env.sched.job_id).values(pid=dead.pid))
    ex2 = SteppingExecutor(db)
    sched2 = Scheduler(config, db, ex2, clock=env.clock)
    sched2.run_once()
    assert [w.key for w in ex2.queued] == [old_key]  # same try number, queued once
    with db.session_scope() as s:
        assert tr.claim_try(s, old_key, hostname="new", pid=2, now=env.clock()) is not None
    with db.session_scope() as s:
        assert tr.claim_try(s, old_key, hostname="old", pid=1, now=env.clock()) is None  # the stale workload loses
        tr.record_try_outcome(s, old_key, "success", task=env.snap.task("a"), now=env.clock())
    ex2.queued.clear()
    sched2.run_once()
    assert [w.key.task_id for w in ex2.queued] == ["b"]
    with db.session_scope() as s:
        assert len(s.scalars(select(TaskInstanceTry)).all()) == 1


def test_depends_on_past(config, db):
    snap = make_snapshot("dop", [task_dict("a", depends_on_past=True)], timetable=DAILY,
                         start_date=T0.isoformat(), catchup=True)
    env = Env(config, db, snap)
    env.clock.now = T0 + timedelta(days=2, hours=1)
    env.step()
    assert env.queued_ids() == ["a"]  # first run has no previous run; second waits
    first, second = runs(db, "dop")
    assert env.ex.queued[0].key.run_id == first.run_id
    assert "depends_on_past" in " ".join(_failed_deps(db, env, second.run_id, "a"))
    env.complete("a", "failed")
    env.step()
    assert env.queued_ids() == []
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.run_id == first.run_id)).one()
        tr.set_ti_state(s, ti, "success", env.clock())
    env.step()
    assert [w.key.run_id for w in env.ex.queued] == [second.run_id]


def test_task_start_date_after_logical_date_is_skipped(config, db):
    snap = make_snapshot("sd", [task_dict("a", start_date=(T0 + timedelta(days=5)).isoformat()), task_dict("b")])
    env = Env(config, db, snap)
    env.trigger()
    env.step()
    assert env.queued_ids() == ["b"]
    assert ti_states(db, "sd")["a"] == "skipped"


def test_cleared_run_runs_again(config, db):
    env = Env(config, db, linear())
    run_id = env.trigger()
    env.step()
    env.complete("a", "failed")
    env.step()
    assert env.run_state(run_id) == "failed"
    with db.session_scope() as s:
        tis = s.scalars(select(TaskInstance)).all()
        tr.clear_task_instances(s, tis, now=env.clock())
    env.step()
    assert [(w.key.task_id, w.key.try_number) for w in env.ex.queued] == [("a", 2)]
    env.complete("a")
    env.step()
    env.complete("b")
    env.step()
    env.complete("c")
    env.step()
    assert env.run_state(run_id) == "success"


def _set_paused(db, dag_id, paused):
    with db.session_scope() as s:
        s.get(DagModel, dag_id).is_paused = paused


def test_a_paused_dags_triggered_run_stays_queued_until_unpaused(config, db):
    env = Env(config, db, linear(), paused=True)
    run_id = env.trigger()
    env.step()
    assert env.run_state(run_id) == "queued"
    assert env.queued_ids() == []
    with db.session_scope() as s:
        ti_rows = s.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id)).all()
    assert ti_rows == []
    _set_paused(db, "lin", False)
    env.step()
    assert env.run_state(run_id) == "running"
    assert env.queued_ids() == ["a"]


def test_pausing_freezes_a_running_run_but_lets_the_running_try_finish(config, db):
    env = Env(config, db, linear())
    run_id = env.trigger()
    env.step()
    assert env.queued_ids() == ["a"]
    _set_paused(db, "lin", True)
    env.complete("a")
    env.step()
    assert ti_states(db, "lin", run_id)["a"] == "success"
    assert env.queued_ids() == []
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == "b")).one()
        run = s.scalars(select(DagRun).where(DagRun.run_id == run_id)).one()
        reasons = deps.failed_deps(s, ti, env.snap, now=env.clock(), run=run)
    assert any("paused" in r for r in reasons)
    _set_paused(db, "lin", False)
    env.step()
    assert env.queued_ids() == ["b"]


def test_only_run_ignores_pausing_like_dags_test(config, db):
    env = Env(config, db, linear(), paused=True)
    run_id = env.trigger()
    sched = Scheduler(config, db, env.ex, clock=env.clock, only_run=("lin", run_id))
    sched.run_once()
    assert env.queued_ids() == ["a"]


def test_step_rows_have_the_query_columns_in_order():
    # TiRow is built positionally from ti_rows_for_runs' rows.
    import dataclasses

    from tradewind.persist.queries.task_instances import TI_ROW_COLUMNS
    from tradewind.schedule.run_rows import TiRow

    assert tuple(f.name for f in dataclasses.fields(TiRow)) == TI_ROW_COLUMNS


def test_max_active_tis_per_dag_limits_one_task_across_runs(config, db):
    snap = make_snapshot("lim", [task_dict("slow", max_active_tis_per_dag=1), task_dict("free")])
    env = Env(config, db, snap)
    first = env.trigger(run_id="r1", logical_date=T0)
    second = env.trigger(run_id="r2", logical_date=T0 + timedelta(days=1))
    env.step()
    queued = sorted((w.key.run_id, w.key.task_id) for w in env.ex.queued)
    assert queued.count((first, "slow")) + queued.count((second, "slow")) == 1
    assert (first, "free") in queued and (second, "free") in queued
    waiting_run = second if (first, "slow") in queued else first
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.run_id == waiting_run, TaskInstance.task_id == "slow")).one()
        run = s.scalars(select(DagRun).where(DagRun.run_id == waiting_run)).one()
        reasons = deps.failed_deps(s, ti, snap, now=env.clock(), run=run)
    assert any("max_active_tis_per_dag=1" in r for r in reasons)
    env.complete("slow")  # the only queued "slow" try ends; the other run's may start
    env.step()
    assert (waiting_run, "slow") in [(w.key.run_id, w.key.task_id) for w in env.ex.queued]
