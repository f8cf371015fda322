"""The scheduler's memory of running runs (schedule/run_rows.py): steps after the first read only
what changed, decide only the tasks whose upstream changed, and notice moves made elsewhere (a
mark from the UI, a try recorded by a runner) without being told."""

from __future__ import annotations

from schedhelp import make_snapshot, task_dict, ti_states
from stepenv import StepEnv
from tradewind.schedule import actions
from tradewind.schedule.run_rows import RunRows, RunRowsMemory

ALICE = actions.Actor("alice", "api")


def fan_snapshot(width: int):
    work = [task_dict(f"w{i:02d}", ("start",)) for i in range(width)]
    end = task_dict("end", tuple(t["task_id"] for t in work))
    return make_snapshot("fan", [task_dict("start"), *work, end], max_active_tasks=width)


def memory(env: StepEnv) -> RunRowsMemory:
    return env.sched.running_runs.memory


def test_a_wide_run_is_read_in_full_once_then_refreshed(config, db):
    env = StepEnv(config, db, fan_snapshot(20))
    run_id = env.trigger()
    env.step()
    assert env.queued() == ["start"]
    env.complete("start")
    env.step()
    assert len(env.queued()) == 20
    for _ in range(20):
        env.complete(env.ex.queued[0].key.task_id)
        env.step()
    assert env.queued() == ["end"]
    env.complete("end")
    env.step()
    assert env.run_state(run_id) == "success"
    assert memory(env).full_reads == 1
    assert memory(env).refreshes >= 20


def test_only_tasks_whose_upstream_changed_are_decided(config, db):
    snap = make_snapshot("two", [task_dict("a"), task_dict("b", ("a",)), task_dict("x"), task_dict("y", ("x",))])
    env = StepEnv(config, db, snap)
    env.trigger()
    env.step()
    assert env.queued() == ["a", "x"]
    env.complete("a")
    env.step()
    kept = next(iter(memory(env)._kept.values()))
    assert isinstance(kept, RunRows) and kept.incremental
    # b was decided in that step; y waits on x, which did not move: nothing is marked to decide
    assert kept.dirty == set()
    assert [task for _, task in kept.to_decide()] == []
    env.complete("x")
    env.step()
    assert env.queued() == ["b", "y"]


def test_a_mark_made_elsewhere_is_noticed(config, db):
    snap = make_snapshot("join", [task_dict("a"), task_dict("b"), task_dict("c", ("a", "b"))])
    env = StepEnv(config, db, snap)
    run_id = env.trigger()
    env.step()
    env.complete("a")
    env.step()
    reads = memory(env).full_reads
    with db.session_scope() as s:  # the UI marks a failed while b still runs
        actions.set_task_instance_state(s, ALICE, "join", run_id, "a", None, "failed", now=env.clock())
    env.step()
    assert memory(env).full_reads == reads + 1  # the per-state tally differed: read again in full
    env.complete("b")
    env.step()
    states = ti_states(db, "join", run_id)
    assert states["c"] == "upstream_failed"
    assert env.run_state(run_id) == "failed"


def test_a_try_finished_between_steps_is_read_back_by_id(config, db):
    env = StepEnv(config, db, fan_snapshot(3))
    run_id = env.trigger()
    env.step()
    env.complete("start")
    env.step()
    # all three finish before the scheduler looks again: they left the queued state unseen
    for _ in range(3):
        env.complete(env.ex.queued[0].key.task_id)
    reads = memory(env).full_reads
    env.step()
    assert env.queued() == ["end"]
    assert memory(env).full_reads == reads
    env.complete("end")
    env.step()
    assert env.run_state(run_id) == "success"


def test_queueing_takes_the_highest_priority_first_within_the_free_slots(config, db):
    tasks = [task_dict(f"t{i}", priority_weight_total=i) for i in range(6)]
    env = StepEnv(config, db, make_snapshot("prio", tasks, max_active_tasks=2))
    env.trigger()
    env.step()
    assert env.queued() == ["t4", "t5"]
    env.complete("t5")
    env.step()
    assert env.queued() == ["t3", "t4"]
