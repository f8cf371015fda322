"""wait_for_downstream over two runs (fake clock): a task waits for the previous run's instance of
itself (depends_on_past, implied) and of its immediate downstream tasks to succeed or skip."""

from __future__ import annotations

from datetime import timedelta

from schedhelp import T0, make_snapshot, task_dict, ti_states
from stepenv import StepEnv
from tradewind.persist.models import DagRun
from tradewind.schedule import deps


def two_runs(config, db, snap):
    env = StepEnv(config, db, snap)
    first = env.trigger(logical_date=T0)
    second = env.trigger(logical_date=T0 + timedelta(days=1))
    env.step()
    return env, first, second


def chain_snapshot():
    return make_snapshot("wfd", [task_dict("a", wait_for_downstream=True, depends_on_past=True),
                                 task_dict("b", ("a",)), task_dict("c", ("b",))])


def test_waits_for_the_previous_runs_immediate_downstream(config, db):
    env, first, second = two_runs(config, db, chain_snapshot())
    assert env.queued() == ["a"] and env.queued(first) == ["a"]  # the second run's a waits for the first's
    env.complete("a", run_id=first)
    env.step()
    assert env.queued() == ["b"]  # first run's a succeeded, but its downstream b has not
    assert ti_states(db, "wfd", second)["a"] == "none"
    env.complete("b", run_id=first)
    env.step()
    # b (the immediate downstream) is done; c, further down, is not waited for
    assert sorted((w.key.run_id, w.key.task_id) for w in env.ex.queued) == [(first, "c"), (second, "a")]


def test_a_failed_previous_instance_blocks_it(config, db):
    env, first, second = two_runs(config, db, chain_snapshot())
    env.complete("a", "failed", run_id=first)
    env.step()
    env.step()
    assert env.run_state(first) == "failed"
    assert env.queued() == []
    assert ti_states(db, "wfd", second)["a"] == "none"
    with db.session_scope() as s:
        run = s.query(DagRun).filter_by(run_id=second).one()
        previous = env.sched.running_runs.decider.previous_states(s, run)
    assert "depends_on_past: previous run's a is failed" in deps.past_run_allows(env.snap.task("a"), previous)


def test_a_failed_previous_downstream_blocks_it(config, db):
    env, first, second = two_runs(config, db, chain_snapshot())
    env.complete("a", run_id=first)
    env.step()
    env.complete("b", "failed", run_id=first)
    env.step()
    env.step()
    assert env.queued() == [] and ti_states(db, "wfd", second)["a"] == "none"
    reason = deps.past_run_allows(env.snap.task("a"), ti_states(db, "wfd", first))
    assert reason == "wait_for_downstream: previous run's b is failed, not success or skipped"


def test_a_skipped_previous_downstream_lets_it_run(config, db):
    env, first, second = two_runs(config, db, chain_snapshot())
    env.complete("a", run_id=first)
    env.step()
    env.complete("b", "skipped", run_id=first)
    env.step()
    assert (second, "a") in {(w.key.run_id, w.key.task_id) for w in env.ex.queued}


def test_without_wait_for_downstream_only_the_task_itself_is_waited_for(config, db):
    snap = make_snapshot("dop", [task_dict("a", depends_on_past=True), task_dict("b", ("a",))])
    env, first, second = two_runs(config, db, snap)
    env.complete("a", run_id=first)
    env.step()
    assert sorted((w.key.run_id, w.key.task_id) for w in env.ex.queued) == [(first, "b"), (second, "a")]
