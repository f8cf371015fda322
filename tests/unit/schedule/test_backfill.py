"""Backfills driven by the real scheduler, step by step (FakeClock + SteppingExecutor)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from schedhelp import FakeClock, SteppingExecutor, make_snapshot, store_dag, task_dict
from tradewind.definition.timetables import CronDataIntervalTimetable
from tradewind.persist.models import Backfill, BackfillDagRun, DagRun
from tradewind.schedule import backfill as bf
from tradewind.schedule.runs import start_run
from tradewind.schedule.scheduler import Scheduler

DAILY = CronDataIntervalTimetable("0 0 * * *", "UTC").serialize()
JAN = datetime(2024, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2024, 2, 1, 12, tzinfo=timezone.utc)


def day(n: int) -> datetime:
    return JAN + timedelta(days=n - 1)


def daily(dag_id="bf", tasks=None, **fields):
    tasks = tasks or [task_dict("a"), task_dict("b", ("a",))]
    return make_snapshot(dag_id, tasks, timetable=DAILY, timetable_summary="@daily",
                         start_date="2024-01-01T00:00:00+00:00", **fields)


class Env:
    def __init__(self, config, db, snap, *, paused=True, slots=32):
        self.db, self.snap = db, snap
        self.clock = FakeClock(NOW)
        self.ex = SteppingExecutor(db, parallelism=slots)
        with db.session_scope() as s:
            self.version_id = store_dag(s, snap, paused=paused, now=NOW)
        self.sched = Scheduler(config, db, self.ex, clock=self.clock)

    def create(self, frm, to, **kw) -> int:
        with self.db.session_scope() as s:
            return bf.create_backfill(s, self.snap, from_date=frm, to_date=to, now=self.clock(), **kw).id

    def step(self):
        return self.sched.run_once()

    def runs(self):
        with self.db.session_scope() as s:
            return [(r.run_id, r.state, r.backfill_id, r.run_type)
                    for r in s.scalars(select(DagRun).order_by(DagRun.logical_date, DagRun.id))]

    def finish_all_queued(self, outcome="success"):
        """Complete every queued try, stepping (as run_forever loops) until the scheduler is idle."""
        while True:
            if self.ex.queued:
                w = self.ex.queued[0]
                self.ex.complete(w.key.task_id, outcome, snapshot=self.snap, now=self.clock())
            elif not self.step():
                return
            self.step()

    def backfill(self, backfill_id):
        with self.db.session_scope() as s:
            b = s.get(Backfill, backfill_id)
            rows = s.scalars(select(BackfillDagRun).where(BackfillDagRun.backfill_id == backfill_id)
                             .order_by(BackfillDagRun.sort_ordinal)).all()
            return b, [(r.logical_date, r.dag_run_id is not None, r.exception_reason) for r in rows]


def test_dates_are_inclusive_and_runs_are_created_by_the_scheduler_within_max_active_runs(config, db):
    env = Env(config, db, daily())
    bid = env.create(day(1), day(5), max_active_runs=2)
    b, rows = env.backfill(bid)
    assert [r[0] for r in rows] == [day(n) for n in range(1, 6)]
    assert env.runs() == []  # creating the backfill created no run: the scheduler does
    env.step()
    assert [r[0] for r in env.runs()] == [f"backfill__{day(1).isoformat()}", f"backfill__{day(2).isoformat()}"]
    assert {(r[2], r[3]) for r in env.runs()} == {(bid, "backfill")}
    assert sorted(w.key.run_id for w in env.ex.queued) == [r[0] for r in env.runs()]
    env.finish_all_queued()
    assert len(env.runs()) == 5 and {r[1] for r in env.runs()} == {"success"}
    b, rows = env.backfill(bid)
    assert b.completed_at == NOW and all(has_run for _, has_run, _ in rows)
    assert not env.step()


def test_run_backwards_runs_newest_first_and_is_refused_with_depends_on_past(config, db):
    env = Env(config, db, daily())
    env.create(day(1), day(3), max_active_runs=1, run_backwards=True)
    env.step()
    assert [r[0] for r in env.runs()] == [f"backfill__{day(3).isoformat()}"]
    past = daily("past", [task_dict("a", depends_on_past=True)])
    with db.session_scope() as s:
        store_dag(s, past, paused=True)
        with pytest.raises(bf.BackfillError, match="depends_on_past.*|tasks a have depends_on_past"):
            bf.create_backfill(s, past, from_date=day(1), to_date=day(3), run_backwards=True, now=NOW)


@pytest.mark.parametrize(("frm", "to", "snap_kw", "message"), [
    (day(5), day(1), {}, "is after --to-date"),
    (datetime(2023, 1, 1, tzinfo=timezone.utc), datetime(2023, 1, 5, tzinfo=timezone.utc), {}, "no runs to backfill"),
    (day(1), day(3), {"timetable": {"__type": "null"}, "timetable_summary": "None"}, "needs a time-based schedule"),
])
def test_bad_input_is_refused_and_writes_nothing(config, db, frm, to, snap_kw, message):
    snap = make_snapshot("bad", [task_dict("a")], **({"timetable": DAILY, "timetable_summary": "@daily",
                                                     "start_date": "2024-01-01T00:00:00+00:00"} | snap_kw))
    with db.session_scope() as s:
        store_dag(s, snap)
        with pytest.raises(bf.BackfillError, match=message):
            bf.create_backfill(s, snap, from_date=frm, to_date=to, now=NOW)
    with db.session_scope() as s:
        assert s.scalars(select(Backfill)).all() == [] and s.scalars(select(BackfillDagRun)).all() == []


def test_one_active_backfill_per_dag_and_bad_options(config, db):
    env = Env(config, db, daily())
    bid = env.create(day(1), day(2))
    with db.session_scope() as s:
        with pytest.raises(bf.BackfillError, match=f"already has an active backfill \\(id {bid}\\)"):
            bf.create_backfill(s, env.snap, from_date=day(3), to_date=day(4), now=NOW)
        with pytest.raises(bf.BackfillError, match="reprocess behavior 'sometimes'"):
            bf.plan_backfill(s, env.snap, day(1), day(2), reprocess_behavior="sometimes", now=NOW)
        with pytest.raises(bf.BackfillError, match="max_active_runs must be at least 1"):
            bf.validate_backfill(s, env.snap, reprocess_behavior="none", max_active_runs=0, run_backwards=False,
                                 conf=None)


def _existing_run(env, n, state, run_type="scheduled"):
    with env.db.session_scope() as s:
        s.add(DagRun(dag_id=env.snap.dag_id, run_id=f"{run_type}__{day(n).isoformat()}", run_type=run_type,
                     state=state, logical_date=day(n), data_interval_start=day(n), data_interval_end=day(n + 1),
                     run_after=day(n + 1), start_date=day(n + 1), conf={}, dag_version_id=env.version_id))


@pytest.mark.parametrize(("behavior", "expected"), [
    ("none", {1: "already exists", 2: "already exists", 3: "in flight", 4: None}),
    ("failed", {1: "already exists", 2: None, 3: "in flight", 4: None}),
    ("completed", {1: None, 2: None, 3: "in flight", 4: None}),
])
def test_reprocess_behavior_decides_per_date(config, db, behavior, expected):
    env = Env(config, db, daily())
    _existing_run(env, 1, "success")
    _existing_run(env, 2, "failed")
    _existing_run(env, 3, "running")
    with db.session_scope() as s:
        plan = bf.plan_backfill(s, env.snap, day(1), day(4), reprocess_behavior=behavior, now=NOW)
    assert {p.logical_date.day: p.reason for p in plan} == expected
    bid = env.create(day(1), day(4), reprocess_behavior=behavior)
    env.step()
    b, rows = env.backfill(bid)
    assert {d.day: reason for d, _, reason in rows} == expected
    with db.session_scope() as s:
        taken = {r.logical_date.day: (r.run_id, r.state, r.run_type)
                 for r in s.scalars(select(DagRun).where(DagRun.backfill_id == bid))}
    reprocessed = {n for n, reason in expected.items() if reason is None and n != 4}
    for n in reprocessed:  # the existing run was cleared and taken over, not duplicated
        assert taken[n][0].startswith("scheduled__") and taken[n][1] == "running" and taken[n][2] == "backfill"
    assert taken[4][0] == f"backfill__{day(4).isoformat()}"


def test_cancel_fails_queued_runs_lets_running_finish_and_creates_no_more(config, db):
    env = Env(config, db, daily(max_active_runs=16), slots=32)
    bid = env.create(day(1), day(6), max_active_runs=2)
    with db.session_scope() as s:
        assert bf.step_backfills(s, NOW).created == 2  # the scheduler's backfill step: two queued runs
        first = s.scalars(select(DagRun).where(DagRun.backfill_id == bid).order_by(DagRun.logical_date)).first()
        start_run(s, first, env.snap, NOW)  # only the first has started when the backfill is cancelled
    with db.session_scope() as s:
        assert bf.cancel_backfill(s, s.get(Backfill, bid), NOW) == 1
        with pytest.raises(bf.BackfillError, match="already completed"):
            bf.cancel_backfill(s, s.get(Backfill, bid), NOW)
    env.finish_all_queued()
    states = [r[1] for r in env.runs()]
    assert states == ["success", "failed"]  # no run for days 3..6
    b, rows = env.backfill(bid)
    assert [reason for *_, reason in rows][2:] == ["cancelled"] * 4
    assert b.completed_at == NOW


def test_backfill_runs_on_a_paused_dag_without_its_schedule(config, db):
    env = Env(config, db, daily(), paused=True)
    env.create(day(1), day(1))
    env.step()
    env.finish_all_queued()
    assert [(r[0], r[1]) for r in env.runs()] == [(f"backfill__{day(1).isoformat()}", "success")]


def test_backfill_runs_do_not_use_the_dags_max_active_runs(config, db):
    env = Env(config, db, daily(max_active_runs=1), paused=False)
    env.create(day(1), day(3), max_active_runs=3)
    env.step()
    by_type = {}
    for run_id, state, _, run_type in env.runs():
        by_type.setdefault(run_type, []).append(state)
    assert by_type["backfill"] == ["running"] * 3
    assert by_type["scheduled"] == ["running"]  # the DAG's own run is not blocked by the backfill's three


def test_fair_share_a_scheduled_runs_task_is_queued_while_a_big_backfill_runs(config, db):
    wide = daily("wide", [task_dict(f"t{i}") for i in range(4)], max_active_tasks=100)
    env = Env(config, db, wide, paused=True, slots=2)
    env.create(day(1), day(20), max_active_runs=10)
    env.step()
    assert len(env.ex.queued) == 2 and all(w.key.run_id.startswith("backfill__") for w in env.ex.queued)
    live = make_snapshot("live", [task_dict("x")], timetable=DAILY, timetable_summary="@daily",
                         start_date="2024-01-01T00:00:00+00:00")
    with db.session_scope() as s:
        store_dag(s, live, paused=False, now=NOW)
    for _ in range(2):  # free both slots: 30+ backfill instances and the live one now compete for them
        w = env.ex.queued[0]
        env.ex.complete(w.key.task_id, snapshot=wide, now=env.clock())
        env.step()
    assert "live" in {w.key.dag_id for w in env.ex.queued}
    assert any(w.key.run_id.startswith("backfill__") for w in env.ex.queued)  # interleaved, not starved either


def test_fair_share_order_holds_back_only_the_backfills_excess():
    cands = ["b1", "b2", "b3", "l1", "b4"]
    order = list(bf.fair_share_order(cands, 2, lambda c: c.startswith("b")))
    assert order[:2] == ["b1", "l1"] and sorted(order) == sorted(cands)
    assert list(bf.fair_share_order(["b1", "b2"], 2, lambda c: True)) == ["b1", "b2"]  # nothing else waits
    assert bf.backfill_slot_cap(1, 1) == 0 and bf.backfill_slot_cap(10, 2) == 8 and bf.backfill_slot_cap(10, 50) == 5


def test_progress_counts_settled_dates(config, db):
    env = Env(config, db, daily())
    _existing_run(env, 1, "success")
    bid = env.create(day(1), day(3), max_active_runs=1)
    env.step()
    with db.session_scope() as s:
        p = bf.progress(s, s.get(Backfill, bid))
    assert (p.total, p.done, p.failed, p.completed) == (3, 1, 0, False)
    env.finish_all_queued("failed")
    with db.session_scope() as s:
        p = bf.progress(s, s.get(Backfill, bid))
    assert (p.total, p.done, p.failed, p.completed) == (3, 3, 2, True)


def test_backfill_on_each_backend(config, any_db):
    env = Env(config, any_db, daily())
    env.create(day(1), day(2), max_active_runs=1)
    env.step()
    env.finish_all_queued()
    assert [r[1] for r in env.runs()] == ["success", "success"]
