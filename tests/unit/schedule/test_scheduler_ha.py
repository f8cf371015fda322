"""Schedulers that share a database and executors that lose work: an executor whose broker is down,
instances stuck in queued (task_queued_timeout), row locks between schedulers (zombie check,
re-queue, the queueing critical section), and two schedulers racing over one 50-task run."""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from schedhelp import FakeClock, SteppingExecutor, get_ti, make_snapshot, store_dag, task_dict
from tradewind.config import Config
from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, Pool, TaskInstance, TaskInstanceTry
from tradewind.schedule import transitions as tr
from tradewind.schedule.executor_interface import BaseExecutor, ExecutorEvent, ExecutorUnavailable
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import UNAVAILABLE_RETRY, Scheduler


def _config(tw_home, **scheduler):
    return Config.load(home=tw_home, environ={}, overrides={"core": {"load_examples": "False"},
                                                             "scheduler": scheduler})


def _trigger(db, snap, clock):
    with db.session_scope() as s:
        vid = store_dag(s, snap)
        return create_manual_run(s, snap, vid, now=clock()).run_id


class BrokerDownExecutor(SteppingExecutor):
    """A stepping executor whose broker can be down: then queue_workload takes nothing."""

    def __init__(self, db) -> None:
        super().__init__(db)
        self.down = True
        self.calls = 0

    def queue_workload(self, workload) -> None:
        self.calls += 1
        if self.down:
            raise ExecutorUnavailable("broker redis://10.0.0.9:6379/0 unreachable")
        super().queue_workload(workload)


def test_unavailable_executor_returns_instances_to_scheduled_with_the_same_try(config, any_db, caplog):
    snap = make_snapshot("bd", [task_dict(f"t{i}") for i in range(3)])
    clock = FakeClock()
    run_id = _trigger(any_db, snap, clock)
    ex = BrokerDownExecutor(any_db)
    sched = Scheduler(config, any_db, ex, clock=clock)
    with caplog.at_level(logging.WARNING, logger="tradewind.schedule.handover"):
        sched.run_once()
        assert ex.calls == 1  # the rest of the step's instances are not offered to a dead broker
        for i in range(3):
            ti = get_ti(any_db, "bd", run_id, f"t{i}")
            assert (ti.state, ti.try_number) == ("scheduled", 0)
            assert "executor unavailable" in ti.note and "unreachable" in ti.note
        clock.advance(seconds=1)
        sched.run_once()
        assert ex.calls == 1  # resting: not asked again before UNAVAILABLE_RETRY
        clock.advance(seconds=UNAVAILABLE_RETRY.total_seconds())
        sched.run_once()
        assert ex.calls == 2  # asked again, still down
    outages = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outages) == 1, [r.getMessage() for r in caplog.records]
    ex.down = False
    clock.advance(seconds=UNAVAILABLE_RETRY.total_seconds())
    sched.run_once()
    assert sorted(k.task_id for k in ex.keys()) == ["t0", "t1", "t2"]
    assert {k.try_number for k in ex.keys()} == {1}
    for i in range(3):
        ex.complete(f"t{i}", snapshot=snap, now=clock())
    sched.run_once()
    with any_db.session_scope() as s:
        assert s.scalars(select(DagRun.state)).one() == "success"
        assert sorted(s.execute(select(TaskInstanceTry.task_id, TaskInstanceTry.try_number)).all()) == [
            ("t0", 1), ("t1", 1), ("t2", 1)]


def test_executor_refusing_with_any_error_returns_the_try_to_scheduled_and_rests(config, db, caplog):
    class Broken(SteppingExecutor):
        broken = True
        calls = 0

        def queue_workload(self, workload):
            self.calls += 1
            if self.broken:
                raise ValueError("bad workload")
            super().queue_workload(workload)

    snap = make_snapshot("br", [task_dict("a", retries=0), task_dict("b", retries=0)])
    clock = FakeClock()
    run_id = _trigger(db, snap, clock)
    ex = Broken(db)
    sched = Scheduler(config, db, ex, clock=clock)
    with caplog.at_level(logging.WARNING):
        sched.run_once()
        clock.advance(seconds=1)
        sched.run_once()
    assert ex.calls == 1  # the rest of the step's tries were not offered; then it rests
    for task_id in ("a", "b"):
        ti = get_ti(db, "br", run_id, task_id)
        assert (ti.state, ti.try_number) == ("scheduled", 0)  # never failed: the try never started
        assert "ValueError: bad workload" in ti.note
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ValueError: bad workload" in warnings[0], warnings
    ex.broken = False
    clock.advance(seconds=UNAVAILABLE_RETRY.total_seconds())
    sched.run_once()
    assert sorted((k.task_id, k.try_number) for k in ex.keys()) == [("a", 1), ("b", 1)]
    ex.complete("a", snapshot=snap, now=clock())
    ex.complete("b", snapshot=snap, now=clock())
    sched.run_once()
    with db.session_scope() as s:
        assert s.scalars(select(DagRun.state)).one() == "success"


def test_instance_queued_longer_than_task_queued_timeout_is_queued_again(tw_home, any_db):
    config = _config(tw_home, task_queued_timeout="60")
    snap = make_snapshot("qt", [task_dict("lost"), task_dict("held")])
    clock = FakeClock()
    run_id = _trigger(any_db, snap, clock)
    ex = SteppingExecutor(any_db)
    sched = Scheduler(config, any_db, ex, clock=clock)
    sched.run_once()
    lost = ex.take("lost")  # the broker lost this message; "held" is still with the executor
    del ex.running[lost.key]
    clock.advance(seconds=40)
    sched.run_once()
    assert get_ti(any_db, "qt", run_id, "lost").state == "queued"  # not yet over the timeout
    clock.advance(seconds=40)
    sched.run_once()
    ti = get_ti(any_db, "qt", run_id, "lost")
    assert (ti.state, ti.try_number) == ("scheduled", 0)
    assert "task_queued_timeout=60s" in ti.note
    assert get_ti(any_db, "qt", run_id, "held").state == "queued"  # the executor still holds it
    sched.run_once()
    assert [k for k in ex.history if k.task_id == "lost"] == [lost.key, lost.key]  # same try, offered again
    ex.complete("lost", snapshot=snap, now=clock())
    # The lost message turning up late finds its try already claimed: it runs nothing.
    with any_db.session_scope() as s:
        assert tr.claim_try(s, lost.key, hostname="late", pid=2, now=clock()) is None
    ex.complete("held", snapshot=snap, now=clock())
    sched.run_once()
    with any_db.session_scope() as s:
        assert s.scalars(select(DagRun.state)).one() == "success"
        assert s.scalar(select(func.count()).select_from(TaskInstanceTry)) == 2


def test_queued_timeout_is_checked_periodically_not_every_step(tw_home, db):
    config = _config(tw_home, task_queued_timeout="60")
    snap = make_snapshot("qp", [task_dict("a")])
    clock = FakeClock()
    run_id = _trigger(db, snap, clock)
    ex = SteppingExecutor(db)
    sched = Scheduler(config, db, ex, clock=clock)
    sched.run_once()  # queues "a" and checks (nothing stuck yet): next check in 30 s
    ex.running.clear()
    clock.advance(seconds=29)
    sched.run_once()
    with db.session_scope() as s:  # age the queued instance past the timeout behind the scheduler's back
        s.execute(TaskInstance.__table__.update().values(queued_dttm=clock() - timedelta(seconds=120)))
    clock.advance(seconds=0.5)
    sched.run_once()
    assert get_ti(db, "qp", run_id, "a").state == "queued"  # between two checks
    clock.advance(seconds=1)
    sched.run_once()
    assert get_ti(db, "qp", run_id, "a").state == "scheduled"


# ------------------------------------------------------------------ PostgreSQL row locks
def _lock_rows(pg_db, sql):
    """Another transaction holding row locks (as a second scheduler mid-step would)."""
    conn = pg_db.engine.connect()
    trans = conn.begin()
    conn.execute(text(sql)).all()
    return conn, trans


@pytest.mark.postgres
def test_zombie_check_skips_instances_another_scheduler_has_locked(config, pg_db):
    snap = make_snapshot("zl", [task_dict("a", retries=1)])
    clock = FakeClock()
    run_id = _trigger(pg_db, snap, clock)
    ex = SteppingExecutor(pg_db)
    sched = Scheduler(config, pg_db, ex, clock=clock)
    sched.run_once()
    ex.die("a", now=clock())  # claimed, then silent: a zombie once the heartbeat timeout passes
    ex.events.clear()
    clock.advance(seconds=config.heartbeat_timeout.total_seconds() + 10)
    conn, trans = _lock_rows(pg_db, "SELECT id FROM task_instance WHERE task_id = 'a' FOR UPDATE")
    try:
        sched.run_once()  # does not wait for the lock: skips the row
        assert get_ti(pg_db, "zl", run_id, "a").state == "running"
    finally:
        trans.rollback()
        conn.close()
    clock.advance(seconds=10)
    sched.run_once()
    ti = get_ti(pg_db, "zl", run_id, "a")
    assert ti.state in ("up_for_retry", "scheduled", "queued") and ti.note.startswith("zombie")


@pytest.mark.postgres
def test_queued_timeout_skips_instances_another_scheduler_has_locked(tw_home, pg_db):
    config = _config(tw_home, task_queued_timeout="60")
    snap = make_snapshot("ql", [task_dict("a")])
    clock = FakeClock()
    run_id = _trigger(pg_db, snap, clock)
    ex = SteppingExecutor(pg_db)
    sched = Scheduler(config, pg_db, ex, clock=clock)
    sched.run_once()
    ex.running.clear()
    clock.advance(seconds=90)
    conn, trans = _lock_rows(pg_db, "SELECT id FROM task_instance FOR UPDATE")
    try:
        sched.run_once()
        assert get_ti(pg_db, "ql", run_id, "a").state == "queued"
    finally:
        trans.rollback()
        conn.close()
    clock.advance(seconds=31)
    sched.run_once()
    assert get_ti(pg_db, "ql", run_id, "a").state in ("scheduled", "queued")
    assert "task_queued_timeout" in get_ti(pg_db, "ql", run_id, "a").note


@pytest.mark.postgres
def test_queueing_waits_while_another_scheduler_holds_the_pool_rows(config, pg_db):
    snap = make_snapshot("cs", [task_dict("a"), task_dict("b", ("a",))])
    clock = FakeClock()
    run_id = _trigger(pg_db, snap, clock)
    ex = SteppingExecutor(pg_db)
    sched = Scheduler(config, pg_db, ex, clock=clock)
    conn, trans = _lock_rows(pg_db, "SELECT pool FROM slot_pool FOR UPDATE")
    try:
        sched.run_once()  # decides "a" but queues nothing, without blocking on the lock
        assert ex.history == []
        assert get_ti(pg_db, "cs", run_id, "a").state == "scheduled"  # the decision was kept
    finally:
        trans.rollback()
        conn.close()
    sched.run_once()
    assert [k.task_id for k in ex.history] == ["a"]


# ------------------------------------------------------------ two schedulers, one run
class RecordingExecutor(BaseExecutor):
    """Records every queue_workload call; a shared worker thread claims and finishes the tries
    (the first try of every fifth task fails; those tasks have one retry). At each hand-over it
    also counts the instances the pool holds, to show the pool limit held across schedulers."""

    name = "recording"

    def __init__(self, db, work: queue.Queue, pool_peak: list[int]) -> None:
        super().__init__(parallelism=64)
        self.db, self.work, self.pool_peak = db, work, pool_peak
        self.calls: list = []
        self.events: list[ExecutorEvent] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        pass

    def queue_workload(self, workload) -> None:
        self.calls.append(workload.key)
        with self.db.session_scope() as s:
            held = s.scalar(select(func.count()).select_from(TaskInstance).where(
                TaskInstance.pool == "small", TaskInstance.state.in_(("queued", "running"))))
        self.pool_peak.append(held)
        self.work.put((self, workload))

    def finished(self, event: ExecutorEvent) -> None:
        with self.lock:
            self.events.append(event)
        self.waker.wake()

    def collect_events(self) -> list[ExecutorEvent]:
        with self.lock:
            out, self.events = self.events, []
        return out

    def slots_available(self) -> int:
        return self.parallelism

    def end(self, *, wait: bool = True) -> None:
        pass


def _worker(work: queue.Queue, snap) -> None:
    while (item := work.get()) is not None:
        executor, workload = item
        key = workload.key
        outcome = "failed" if int(key.task_id[1:]) % 5 == 0 and key.try_number == 1 else "success"
        with executor.db.session_scope() as s:
            if tr.claim_try(s, key, hostname="w", pid=1, now=utcnow()) is None:
                executor.finished(ExecutorEvent(key, 3))
                continue
        with executor.db.session_scope() as s:
            tr.record_try_outcome(s, key, outcome, task=snap.task(key.task_id), now=utcnow())
        executor.finished(ExecutorEvent(key, 0, recorded=True))


@pytest.mark.postgres
def test_two_schedulers_in_threads_never_queue_a_try_twice(tw_home, pg_db):
    config = _config(tw_home, max_idle_wait="0.05")
    tasks = [task_dict(f"t{i}", (f"t{i - 10}",) if i >= 10 else (), retries=1 if i % 5 == 0 else 0,
                       retry_delay=0, pool="small" if i % 3 == 0 else "default_pool") for i in range(50)]
    snap = make_snapshot("race", tasks)
    with pg_db.session_scope() as s:
        s.add(Pool(pool="small", slots=2))
    run_id = _trigger(pg_db, snap, utcnow)
    work: queue.Queue = queue.Queue()
    pool_peak: list[int] = []
    executors = [RecordingExecutor(pg_db, work, pool_peak) for _ in range(2)]
    schedulers = [Scheduler(config, pg_db, ex) for ex in executors]
    stop = threading.Event()
    threads = [threading.Thread(target=s.run_forever, args=(stop,)) for s in schedulers]
    threads += [threading.Thread(target=_worker, args=(work, snap)) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with pg_db.session_scope() as s:
                if s.scalar(select(DagRun.state).where(DagRun.run_id == run_id)) == "success":
                    break
            time.sleep(0.1)
    finally:
        stop.set()
        for _ in range(3):
            work.put(None)
        for t in threads:
            t.join(timeout=30)
    calls = executors[0].calls + executors[1].calls
    with pg_db.session_scope() as s:
        assert s.scalar(select(DagRun.state).where(DagRun.run_id == run_id)) == "success"
        tries = s.execute(select(TaskInstanceTry.task_id, TaskInstanceTry.try_number)).all()
        ti_tries = dict(s.execute(select(TaskInstance.task_id, TaskInstance.try_number)).all())
    assert len(tries) == len(set(tries)) == 60  # 50 first tries, 10 retries, each once
    assert len(calls) == len(set(calls)) == 60  # and each handed to an executor once
    assert {t: n for t, n in ti_tries.items() if n != 1} == {f"t{i}": 2 for i in range(0, 50, 5)}
    assert max(pool_peak) <= 2  # the pool limit held across both schedulers
