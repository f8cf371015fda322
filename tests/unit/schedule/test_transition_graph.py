"""The two state graphs (task instance, try row) and the fast SQL paths that must stay inside them:
every conditional UPDATE's from-states come from the graph, and a finished try row never changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from schedhelp import FakeClock, SteppingExecutor, get_ti, make_snapshot, store_dag, task_dict
from tradewind.persist.models import TaskInstanceTry
from tradewind.schedule import fast_paths, transitions as tr
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler
from tradewind.states import (
    TI_TRANSITIONS,
    TRY_START_STATES,
    TRY_TRANSITIONS,
    TaskInstanceState as TI,
    allowed_from,
    from_states,
)


# ------------------------------------------------------------------ the graphs themselves
def test_every_instance_state_has_a_row_and_finished_ones_are_final():
    assert set(TI_TRANSITIONS) == set(TI)
    for state in (TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UPSTREAM_FAILED):
        assert TI_TRANSITIONS[state] == frozenset()


def test_try_graph_is_closed_and_a_finished_try_row_never_changes():
    reachable = set(TRY_START_STATES) | {t for targets in TRY_TRANSITIONS.values() for t in targets}
    assert reachable == set(TRY_TRANSITIONS)  # every state a row can reach has a row in the graph
    for state in (TI.SUCCESS, TI.FAILED, TI.SKIPPED):
        assert TRY_TRANSITIONS[state] == frozenset()
    assert allowed_from(TI.SUCCESS, TRY_TRANSITIONS) == {TI.RUNNING}


def test_from_states_refuses_a_move_the_graph_forbids():
    assert from_states([TI.SCHEDULED], only=[TI.QUEUED]) == ("queued",)
    with pytest.raises(ValueError, match="success -> running"):
        from_states([TI.RUNNING], only=[TI.SUCCESS])
    with pytest.raises(ValueError, match="does not allow"):
        from_states([TI.RUNNING], TRY_TRANSITIONS, only=[TI.FAILED])


@pytest.mark.parametrize("name", sorted(tr.FAST_PATHS))
def test_every_fast_path_moves_only_along_its_graph(name):
    path = tr.FAST_PATHS[name]
    graph = tr.GRAPHS[path.graph]
    assert path.from_values and path.targets
    for target in path.targets:
        assert {TI(v) for v in path.from_values} <= allowed_from(target, graph), (name, target)


def _where_states(stmt):
    """The state values a compiled conditional UPDATE's WHERE lists."""
    value = stmt.compile().params["state_1"]
    return tuple(sorted(value if isinstance(value, list) else [value]))


@pytest.mark.parametrize("build, path", [
    (fast_paths.claim_stmt, "claim"),
    (fast_paths.resume_try_stmt, "claim_resume_try"),
    (fast_paths.outcome_ti_stmt, "outcome"),
    (lambda: fast_paths.finish_try_stmt(("state", "end_date")), "outcome_try"),
    (fast_paths.heartbeat_stmt, "outcome"),  # a try beats while its outcome could still be recorded
])
def test_the_prebuilt_statements_take_their_from_states_from_the_graph(build, path):
    assert _where_states(build()) == tuple(sorted(tr.FAST_PATHS[path].from_values))


# ------------------------------------------------------------------ late outcomes
def _run_with_zombie(config, db, *, retries):
    """A try claimed and then silent until the scheduler fails it as a zombie."""
    snap = make_snapshot("late", [task_dict("a", retries=retries, retry_delay=0)])
    clock = FakeClock()
    with db.session_scope() as s:
        run_id = create_manual_run(s, snap, store_dag(s, snap), now=clock()).run_id
    ex = SteppingExecutor(db)
    sched = Scheduler(config, db, ex, clock=clock)
    sched.run_once()
    key = ex.take("a").key
    with db.session_scope() as s:
        assert tr.claim_try(s, key, hostname="h", pid=1, now=clock()) is not None
    clock.advance(seconds=config.heartbeat_timeout.total_seconds() + 1)
    sched.run_once()
    return snap, clock, ex, sched, run_id, key


def _try_rows(db):
    with db.session_scope() as s:
        return [(r.try_number, r.state, r.error) for r in
                s.scalars(select(TaskInstanceTry).order_by(TaskInstanceTry.try_number))]


def test_a_late_success_does_not_overwrite_a_try_the_scheduler_failed(config, db):
    snap, clock, ex, sched, run_id, key = _run_with_zombie(config, db, retries=0)
    assert get_ti(db, "late", run_id, "a").state == "failed"
    with db.session_scope() as s:  # the runner's outcome arrives after all
        state = tr.record_try_outcome(s, key, "success", task=snap.task("a"), now=clock(),
                                      rendered_fields={"x": 1})
    assert state == TI.FAILED  # the runner is told what the instance is
    [(number, row_state, error)] = _try_rows(db)
    assert (number, row_state) == (1, "failed") and error.startswith("zombie")
    assert get_ti(db, "late", run_id, "a").state == "failed"


def test_a_late_outcome_of_a_retried_try_runs_the_retry_once_and_closes_no_row_twice(config, db):
    snap, clock, ex, sched, run_id, key = _run_with_zombie(config, db, retries=1)
    assert get_ti(db, "late", run_id, "a").state in ("up_for_retry", "scheduled", "queued")
    with db.session_scope() as s:
        assert tr.record_try_outcome(s, key, "success", task=snap.task("a"), now=clock()) != TI.SUCCESS
    clock.advance(seconds=1)
    sched.run_once()
    sched.run_once()
    assert [k.try_number for k in ex.history] == [1, 2]  # the retry was queued once
    ex.complete("a", snapshot=snap, now=clock())
    sched.run_once()
    assert get_ti(db, "late", run_id, "a").state == "success"
    rows = _try_rows(db)
    assert [(n, st) for n, st, _ in rows] == [(1, "failed"), (2, "success")]
    assert not [r for r in rows if r[1] == "success" and r[2]]  # no success row carries an error


def test_a_late_deferral_or_reschedule_leaves_a_failed_try_row_alone(config, db):
    snap, clock, ex, sched, run_id, key = _run_with_zombie(config, db, retries=0)
    with db.session_scope() as s:
        assert tr.reschedule_try(s, key, reschedule_date=clock() + timedelta(seconds=5), now=clock()) == TI.FAILED
        assert tr.defer_try(s, key, classpath="x.Trigger", trigger_kwargs={}, next_method="resume",
                            next_kwargs=None, timeout_at=None, now=clock()) == TI.FAILED
    assert [(n, st) for n, st, _ in _try_rows(db)] == [(1, "failed")]


def test_the_db_store_tells_the_runner_its_late_finish_recorded_nothing(config, db):
    from tradewind.execute.db_store import DbTryStore
    from tradewind.execute.try_store import FinishRequest, TryStoreRefused

    snap, clock, ex, sched, run_id, key = _run_with_zombie(config, db, retries=0)
    store = DbTryStore(db, config)
    with pytest.raises(TryStoreRefused, match="already ended by someone else"):
        store.finish(key, FinishRequest(outcome="success", xcoms={"late": 1}))
    assert store.xcom_values(key, "late", run_id, ["a"], "late") == {}
    [(number, row_state, error)] = _try_rows(db)
    assert (number, row_state) == (1, "failed") and error.startswith("zombie")
    assert get_ti(db, "late", run_id, "a").state == "failed"
