"""max_consecutive_failed_dag_runs: the scheduler pauses a DAG whose last N runs all failed,
records it in the audit log and leaves DAGs with a success in between (or the limit off) alone."""

from __future__ import annotations

import logging
from datetime import timedelta

from schedhelp import T0, make_snapshot, task_dict
from stepenv import StepEnv
from tradewind.config import Config
from tradewind.persist.queries.audit import list_audit


def failing_dag(**dag_fields):
    return make_snapshot("flaky", [task_dict("a"), task_dict("b", ("a",))], **dag_fields)


def run_once(env, day: int, outcome: str) -> str:
    """One run at T0 + day whose task a ends with ``outcome``; returns its state."""
    run_id = env.trigger(logical_date=T0 + timedelta(days=day))
    env.drain({"a": outcome})
    return env.run_state(run_id)


def auto_pauses(db):
    with db.session_scope() as s:
        return [(e.event, e.owner, e.dag_id) for e in list_audit(s, event="dag.auto_pause")]


def test_pauses_after_the_limit_of_failed_runs_in_a_row(config, db, caplog):
    env = StepEnv(config, db, failing_dag(max_consecutive_failed_dag_runs=2))
    assert run_once(env, 0, "failed") == "failed"
    assert not env.is_paused()
    with caplog.at_level(logging.WARNING, logger="tradewind.schedule.auto_pause"):
        assert run_once(env, 1, "failed") == "failed"
    assert env.is_paused()
    assert auto_pauses(db) == [("dag.auto_pause", "scheduler", "flaky")]
    assert "Pausing DAG flaky: its last 2 DAG runs failed" in caplog.text


def test_a_success_in_between_resets_the_count(config, db):
    env = StepEnv(config, db, failing_dag(max_consecutive_failed_dag_runs=2))
    assert [run_once(env, d, o) for d, o in ((0, "failed"), (1, "success"), (2, "failed"))] == \
        ["failed", "success", "failed"]
    assert not env.is_paused() and auto_pauses(db) == []


def test_runs_are_ordered_by_logical_date_not_by_finishing_order(config, db):
    env = StepEnv(config, db, failing_dag(max_consecutive_failed_dag_runs=2))
    assert run_once(env, 3, "failed") == "failed"
    assert run_once(env, 1, "success") == "success"  # an older interval, finished after day 3
    assert not env.is_paused()
    assert run_once(env, 5, "failed") == "failed"  # newest by logical date: day 5 and day 3, both failed
    assert env.is_paused()


def test_the_config_default_applies_when_the_dag_leaves_it_at_zero(tw_home, db):
    config = Config.load(home=tw_home, environ={}, overrides={
        "core": {"load_examples": "False", "max_consecutive_failed_dag_runs_per_dag": "1"}})
    env = StepEnv(config, db, failing_dag())
    run_once(env, 0, "failed")
    assert env.is_paused()


def test_off_by_default(config, db):
    env = StepEnv(config, db, failing_dag())
    for day in range(4):
        assert run_once(env, day, "failed") == "failed"
    assert not env.is_paused() and auto_pauses(db) == []


def test_a_timed_out_run_counts_as_failed(config, db):
    env = StepEnv(config, db, failing_dag(max_consecutive_failed_dag_runs=1, dagrun_timeout=60.0))
    run_id = env.trigger(logical_date=T0)
    env.step()
    assert env.queued() == ["a"]
    env.clock.advance(seconds=61)
    env.step()
    assert env.run_state(run_id) == "failed"
    assert env.is_paused()
    assert auto_pauses(db) == [("dag.auto_pause", "scheduler", "flaky")]
