"""Setup/teardown in the scheduler: teardowns run after failed work, are skipped with their
setup, do not decide the run's outcome (unless on_failure_fail_dagrun), and clearing a task
brings its setups and teardowns along."""

from __future__ import annotations

import pytest

from schedhelp import make_snapshot, task_dict, ti_states
from stepenv import StepEnv
from tradewind.schedule.setup_teardown import failed_outcome_leaves, outcome_leaves, with_setups_and_teardowns

TD = "all_done_setup_success"


def cluster(**teardown_extra):
    """create_cluster >> run_query >> delete_cluster (teardown of create_cluster)."""
    return make_snapshot("st", [
        task_dict("create_cluster", is_setup=True),
        task_dict("run_query", ("create_cluster",)),
        task_dict("delete_cluster", ("create_cluster", "run_query"), is_teardown=True, trigger_rule=TD,
                  **teardown_extra),
    ])


def test_teardown_runs_after_failed_work_and_the_run_fails(config, db):
    env = StepEnv(config, db, cluster())
    run_id = env.trigger()
    env.drain({"run_query": "failed"})
    assert ti_states(db, "st", run_id) == {"create_cluster": "success", "run_query": "failed",
                                           "delete_cluster": "success"}
    assert env.run_state(run_id) == "failed"


def test_a_failing_teardown_does_not_fail_the_run(config, db):
    env = StepEnv(config, db, cluster())
    run_id = env.trigger()
    env.drain({"delete_cluster": "failed"})
    assert ti_states(db, "st", run_id)["delete_cluster"] == "failed"
    assert env.run_state(run_id) == "success"


def test_on_failure_fail_dagrun_makes_the_teardown_count(config, db):
    env = StepEnv(config, db, cluster(on_failure_fail_dagrun=True))
    run_id = env.trigger()
    env.drain({"delete_cluster": "failed"})
    assert env.run_state(run_id) == "failed"


def test_skipped_setup_skips_work_and_teardown(config, db):
    env = StepEnv(config, db, cluster())
    run_id = env.trigger()
    env.step()
    env.complete("create_cluster", "skipped")
    env.drain({})
    assert ti_states(db, "st", run_id) == {"create_cluster": "skipped", "run_query": "skipped",
                                           "delete_cluster": "skipped"}
    assert env.run_state(run_id) == "success"


def test_failed_setup_leaves_nothing_to_tear_down_and_fails_the_run(config, db):
    env = StepEnv(config, db, cluster())
    run_id = env.trigger()
    env.drain({"create_cluster": "failed"})
    assert ti_states(db, "st", run_id) == {"create_cluster": "failed", "run_query": "upstream_failed",
                                           "delete_cluster": "upstream_failed"}
    assert env.run_state(run_id) == "failed"


def test_teardown_runs_when_one_of_its_setups_succeeded(config, db):
    snap = make_snapshot("two", [
        task_dict("s1", is_setup=True), task_dict("s2", is_setup=True),
        task_dict("work", ("s1", "s2")),
        task_dict("td", ("s1", "s2", "work"), is_teardown=True, trigger_rule=TD),
    ])
    env = StepEnv(config, db, snap)
    run_id = env.trigger()
    env.drain({"s2": "failed"})
    assert ti_states(db, "two", run_id) == {"s1": "success", "s2": "failed", "work": "upstream_failed",
                                            "td": "success"}
    assert env.run_state(run_id) == "failed"


# ------------------------------------------------------------------------ outcome leaves
def test_outcome_leaves_replace_teardown_leaves_by_their_work():
    assert outcome_leaves(cluster()) == ["run_query"]
    assert outcome_leaves(cluster(on_failure_fail_dagrun=True)) == ["delete_cluster"]
    plain = make_snapshot("p", [task_dict("a"), task_dict("b", ("a",))])
    assert outcome_leaves(plain) == ["b"]


def test_work_before_a_teardown_counts_even_when_work_follows_the_teardown():
    snap = make_snapshot("after", [
        task_dict("s", is_setup=True), task_dict("w", ("s",)),
        task_dict("t", ("s", "w"), is_teardown=True, trigger_rule=TD), task_dict("report", ("t",)),
    ])
    assert outcome_leaves(snap) == ["w", "report"]
    assert failed_outcome_leaves(snap, [("w", "failed"), ("t", "success"), ("report", "success")]) == ["w"]


def test_a_dag_of_only_teardowns_falls_back_to_its_leaves():
    snap = make_snapshot("only", [task_dict("t", is_teardown=True, trigger_rule=TD)])
    assert outcome_leaves(snap) == ["t"]
    assert failed_outcome_leaves(snap, [("t", "failed")]) == ["t"]


def test_any_failed_mapped_instance_of_a_leaf_fails_the_run():
    assert failed_outcome_leaves(cluster(), [("run_query", "success"), ("run_query", "failed")]) == ["run_query"]


# ------------------------------------------------------------------------ clearing
def nested():
    """outer_s >> inner_s >> w1 >> inner_t >> outer_t;  outer_s >> w2 >> outer_t;
    (inner_s, inner_t) and (outer_s, outer_t) are pairs; lone_s is a setup without teardown."""
    return make_snapshot("clr", [
        task_dict("outer_s", is_setup=True),
        task_dict("lone_s", is_setup=True),
        task_dict("inner_s", ("outer_s",), is_setup=True),
        task_dict("w1", ("inner_s", "lone_s")),
        task_dict("w2", ("outer_s",)),
        task_dict("inner_t", ("inner_s", "w1"), is_teardown=True, trigger_rule=TD),
        task_dict("outer_t", ("outer_s", "inner_t", "w2"), is_teardown=True, trigger_rule=TD),
        task_dict("after", ("outer_t",)),
    ])


@pytest.mark.parametrize("chosen,expected", [
    ({"w1"}, {"w1", "inner_s", "inner_t", "outer_s", "outer_t", "lone_s"}),
    ({"w2"}, {"w2", "outer_s", "outer_t"}),
    ({"inner_s"}, {"inner_s", "inner_t"}),
    ({"inner_t"}, {"inner_t"}),
    # outer_s's teardown is upstream of "after" (the resource is gone by then): not cleared;
    # lone_s has no teardown, so everything downstream of it may need it
    ({"after"}, {"after", "lone_s"}),
])
def test_clearing_brings_the_scoping_setups_and_teardowns(chosen, expected):
    assert with_setups_and_teardowns(nested(), chosen) == expected


def test_clearing_without_setups_changes_nothing():
    snap = make_snapshot("p", [task_dict("a"), task_dict("b", ("a",))])
    assert with_setups_and_teardowns(snap, {"b"}) == {"b"}
