"""Readiness rules; every trigger rule over a table of upstream states."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schedhelp import T0, make_snapshot, task_dict
from tradewind.persist.models import TaskInstance
from tradewind.schedule import deps
from tradewind.states import TriggerRule

S, F, K, UF, N, R = "success", "failed", "skipped", "upstream_failed", "none", "running"

CASES = [
    # rule, upstream states, expected action
    ("all_success", [S, S], "run"),
    ("all_success", [S, R], "wait"),
    ("all_success", [S, F], "upstream_failed"),
    ("all_success", [R, UF], "upstream_failed"),
    ("all_success", [S, K], "skip"),
    ("all_failed", [F, UF], "run"),
    ("all_failed", [F, R], "wait"),
    ("all_failed", [F, S], "skip"),
    ("all_failed", [F, K], "skip"),
    ("all_done", [S, F, K], "run"),
    ("all_done", [S, R], "wait"),
    ("all_done_min_one_success", [S, F, K], "run"),
    ("all_done_min_one_success", [F, K], "skip"),
    ("all_done_min_one_success", [S, R], "wait"),
    ("one_success", [S, R], "run"),
    ("one_success", [F, R], "wait"),
    ("one_success", [F, K], "upstream_failed"),
    ("one_success", [K, K], "skip"),
    ("one_failed", [F, R], "run"),
    ("one_failed", [UF, N], "run"),
    ("one_failed", [S, R], "wait"),
    ("one_failed", [S, K], "skip"),
    ("one_done", [S, R], "run"),
    ("one_done", [F, R], "run"),
    ("one_done", [K, R], "wait"),
    ("one_done", [K, K], "skip"),
    ("none_failed", [S, K], "run"),
    ("none_failed", [K, K], "run"),
    ("none_failed", [S, R], "wait"),
    ("none_failed", [S, F], "upstream_failed"),
    ("none_failed", [K, UF], "upstream_failed"),
    ("none_skipped", [S, F], "run"),
    ("none_skipped", [S, R], "wait"),
    ("none_skipped", [S, K], "skip"),
    ("always", [R, N], "run"),
    ("always", [F, K], "run"),
    ("none_failed_min_one_success", [S, K], "run"),
    ("none_failed_min_one_success", [K, K], "skip"),
    ("none_failed_min_one_success", [S, R], "wait"),
    ("none_failed_min_one_success", [S, F], "upstream_failed"),
    ("all_skipped", [K, K], "run"),
    ("all_skipped", [K, R], "wait"),
    ("all_skipped", [K, S], "skip"),
    ("all_skipped", [K, F], "skip"),
    # aliases from Airflow 1/2
    ("none_failed_or_skipped", [K, K], "skip"),
    ("dummy", [F], "run"),
]


@pytest.mark.parametrize("rule,states,expected", CASES)
def test_trigger_rule_table(rule, states, expected):
    decision = deps.evaluate_trigger_rule(rule, deps.UpstreamCounts.from_states(states))
    assert decision.action == expected, decision.reason
    if expected != "run":
        assert TriggerRule.parse(rule).value in decision.reason


def test_every_rule_is_covered_by_the_table():
    assert {TriggerRule.parse(r) for r, _, _ in CASES} >= set(TriggerRule) - {TriggerRule.ALL_DONE_SETUP_SUCCESS}


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_no_upstream_always_runs(rule):
    assert deps.evaluate_trigger_rule(rule, deps.UpstreamCounts.from_states([])).action == "run"


def test_removed_upstreams_are_not_counted():
    assert deps.evaluate_trigger_rule("all_success", deps.UpstreamCounts.from_states([S, "removed"])).action == "run"


@pytest.mark.parametrize(
    "setup_state,other,expected",
    [(S, F, "run"), (F, S, "upstream_failed"), (K, S, "skip"), (S, R, "wait")],
)
def test_all_done_setup_success(setup_state, other, expected):
    snap = make_snapshot("d", [task_dict("setup", is_setup=True), task_dict("work"),
                               task_dict("t", ("setup", "work"), trigger_rule="all_done_setup_success")])
    counts = deps.upstream_counts(snap.task("t"), snap, {"setup": setup_state, "work": other})
    assert deps.evaluate_trigger_rule("all_done_setup_success", counts).action == expected


def test_bad_trigger_rule_names_the_rule():
    with pytest.raises(ValueError, match="invalid trigger_rule 'sometimes'"):
        deps.evaluate_trigger_rule("sometimes", deps.UpstreamCounts.from_states([S]))


def test_single_rules_report_reasons():
    snap = make_snapshot("d", [task_dict("a", depends_on_past=True, start_date="2024-02-01T00:00:00+00:00",
                                         end_date="2024-03-01T00:00:00+00:00")])
    task = snap.task("a")
    assert "before the task's start_date" in deps.task_dates_allow(task, T0)
    assert deps.task_dates_allow(task, T0.replace(month=2, day=15)) is None
    assert "after the task's end_date" in deps.task_dates_allow(task, T0.replace(month=4))
    assert deps.past_run_allows(task, None) is None
    assert deps.past_run_allows(task, {"a": "skipped"}) is None
    assert "previous run's a is failed" in deps.past_run_allows(task, {"a": "failed"})
    assert deps.past_run_allows(task, {}) is None  # task new since the previous run
    assert "pool 'p' does not exist" in deps.pool_has_slots("p", 1, {})
    assert "needs 2" in deps.pool_has_slots("p", 2, {"p": 1})
    assert deps.pool_has_slots("p", 1, {"p": 1}) is None
    assert "max_active_tasks=2" in deps.dag_concurrency_allows("d", 2, 2)
    assert "parallelism=4" in deps.parallelism_allows(4, 4)
    ti = TaskInstance(state="up_for_retry", next_retry_at=T0 + timedelta(seconds=5))
    assert "retry delay" in deps.retry_delay_passed(ti, T0)
    assert deps.retry_delay_passed(ti, T0 + timedelta(seconds=5)) is None
    assert "only" in deps.ti_state_is_schedulable(TaskInstance(state="success"))


def test_wait_for_downstream():
    snap = make_snapshot("d", [task_dict("a", wait_for_downstream=True), task_dict("b", ("a",))])
    assert "previous run's b is failed" in deps.past_run_allows(snap.task("a"), {"a": "success", "b": "failed"})
    assert deps.past_run_allows(snap.task("a"), {"a": "success", "b": "success"}) is None


def test_active_usage_matches_the_separate_queries(db):
    from tradewind.persist.models import DagModel, DagRun, Pool

    with db.session_scope() as s:
        s.add(Pool(pool="small", slots=3))
        for dag in ("d1", "d2"):
            s.add(DagModel(dag_id=dag, fileloc=f"/{dag}.py", tags=[]))
        s.flush()
        for dag in ("d1", "d2"):
            s.add(DagRun(dag_id=dag, run_id="r", run_type="manual", state="running", run_after=T0, conf={}))
        rows = [("d1", "a", "queued", "small", 2), ("d1", "b", "running", "default_pool", 1),
                ("d1", "c", "success", "small", 1), ("d2", "a", "running", "small", 1),
                ("d2", "b", "scheduled", "default_pool", 1)]
        for dag, task, state, pool, slots in rows:
            s.add(TaskInstance(dag_id=dag, run_id="r", task_id=task, map_index=-1, state=state, pool=pool,
                               pool_slots=slots))
    with db.session_scope() as s:
        active, pools = deps.active_usage(s)
        assert active == deps.active_counts(s) == {"d1": 2, "d2": 1}
        assert pools == deps.pool_open_slots(s)
        assert pools["small"] == 0 and pools["default_pool"] == 127
