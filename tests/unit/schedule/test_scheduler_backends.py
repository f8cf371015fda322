"""The same scheduling scenarios on SQLite and PostgreSQL, including two schedulers at once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from schedhelp import FakeClock, SteppingExecutor, make_snapshot, store_dag, task_dict
from tradewind.persist.models import DagRun, TaskInstance, TaskInstanceTry
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler


def _setup(any_db, n_tasks=6):
    snap = make_snapshot("fan", [task_dict("start")] + [task_dict(f"t{i}", ("start",)) for i in range(n_tasks)])
    clock = FakeClock()
    with any_db.session_scope() as s:
        vid = store_dag(s, snap)
        run_id = create_manual_run(s, snap, vid, now=clock()).run_id
    return snap, clock, run_id


def test_run_completes_on_each_backend(config, any_db):
    snap, clock, run_id = _setup(any_db)
    ex = SteppingExecutor(any_db)
    sched = Scheduler(config, any_db, ex, clock=clock)
    sched.run_once()
    ex.complete("start", snapshot=snap, now=clock())
    sched.run_once()
    assert sorted(w.key.task_id for w in ex.queued) == [f"t{i}" for i in range(6)]
    for i in range(6):
        ex.complete(f"t{i}", snapshot=snap, now=clock())
    sched.run_once()
    with any_db.session_scope() as s:
        assert s.scalars(select(DagRun.state)).one() == "success"


@pytest.mark.postgres
def test_two_schedulers_never_queue_a_try_twice(config, pg_db):
    """PostgreSQL only: several schedulers share a server there (SKIP LOCKED); SQLite means one."""
    any_db = pg_db
    snap, clock, run_id = _setup(any_db)
    ex1, ex2 = SteppingExecutor(any_db), SteppingExecutor(any_db)
    s1 = Scheduler(config, any_db, ex1, clock=clock)
    s2 = Scheduler(config, any_db, ex2, clock=clock)
    s1.run_once()
    s2.run_once()
    assert len(ex1.history) + len(ex2.history) == 1
    owner = ex1 if ex1.queued else ex2
    owner.complete("start", snapshot=snap, now=clock())
    for _ in range(3):
        s1.run_once()
        s2.run_once()
    keys = ex1.history + ex2.history
    assert len(keys) == len(set(keys)) == 7  # every task queued exactly once, by one of them
    for ex in (ex1, ex2):
        for w in list(ex.queued):
            ex.complete(w.key.task_id, snapshot=snap, now=clock())
    s1.run_once()
    s2.run_once()
    with any_db.session_scope() as s:
        assert s.scalars(select(DagRun.state)).one() == "success"
        assert len(s.scalars(select(TaskInstanceTry)).all()) == 7
        assert {ti.try_number for ti in s.scalars(select(TaskInstance))} == {1}
