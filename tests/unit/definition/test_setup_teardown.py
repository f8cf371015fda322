"""Setup/teardown authoring: as_setup/as_teardown, @setup/@teardown, the context-manager form,
task groups ignoring teardowns, the snapshot fields and the errors for misuse."""

from __future__ import annotations

from datetime import datetime

import pytest

from tradewind import DAG, EmptyOperator, TaskGroup, setup, task, teardown
from tradewind.definition.exceptions import DagDefinitionError, InvalidTaskArgumentError
from tradewind.definition.setup_teardown import SetupTeardownError
from tradewind.parse.snapshot import DagSnapshot, serialize_dag
from tradewind.states import TriggerRule


def ops(*ids: str) -> list[EmptyOperator]:
    return [EmptyOperator(task_id=i) for i in ids]


def edges(dag: DAG) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


def test_as_teardown_with_setups_marks_both_and_wires_them() -> None:
    with DAG("basic") as d:
        create, query, delete = ops("create_cluster", "run_query", "delete_cluster")
        result = create >> query >> delete.as_teardown(setups=create)
    assert result is delete
    assert create.is_setup and not create.is_teardown
    assert delete.is_teardown and not delete.is_setup
    assert delete.trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert delete.on_failure_fail_dagrun is False
    assert edges(d) == {("create_cluster", "run_query"), ("run_query", "delete_cluster"),
                        ("create_cluster", "delete_cluster")}
    d.validate()


def test_as_setup_returns_the_task_and_teardown_accepts_several_setups() -> None:
    with DAG("many"):
        s1, s2, work, td = ops("s1", "s2", "work", "td")
        assert s1.as_setup() is s1
        [s1, s2] >> work >> td.as_teardown(setups=[s1, s2], on_failure_fail_dagrun=True)
    assert s2.is_setup and td.upstream_task_ids == {"s1", "s2", "work"}
    assert td.on_failure_fail_dagrun is True


def test_decorators_create_setup_and_teardown_tasks() -> None:
    with DAG("deco") as d:
        @setup
        def create_bucket() -> str:
            return "bucket"

        @task
        def load(bucket: str) -> None:
            pass

        @teardown(on_failure_fail_dagrun=True)
        def delete_bucket(bucket: str) -> None:
            pass

        bucket = create_bucket()
        load(bucket) >> delete_bucket(bucket)
    by_id = d.task_dict
    assert by_id["create_bucket"].is_setup and by_id["create_bucket"].operator_name == "@task"
    assert by_id["delete_bucket"].is_teardown and by_id["delete_bucket"].on_failure_fail_dagrun
    assert by_id["delete_bucket"].trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert by_id["delete_bucket"].upstream_task_ids == {"create_bucket", "load"}
    d.validate()


def test_decorators_wrap_task_variants_and_keep_override() -> None:
    with DAG("variants") as d:
        @setup
        @task.bash
        def prepare() -> str:
            return "echo hi"

        @teardown
        def cleanup() -> None:
            pass

        prepare() >> cleanup.override(task_id="cleanup_now", retries=2)()
    assert d.task_dict["prepare"].is_setup and d.task_dict["prepare"].operator_name == "@task.bash"
    assert d.task_dict["cleanup_now"].is_teardown and d.task_dict["cleanup_now"].retries == 2


def test_xcomarg_results_chain_setup_and_teardown_methods() -> None:
    with DAG("xcomarg") as d:
        @task
        def create() -> int:
            return 1

        @task
        def delete() -> None:
            pass

        made = create().as_setup()
        gone = delete().as_teardown(setups=made)
    assert made.operator.is_setup and gone.operator.is_teardown
    assert d.task_dict["delete"].upstream_task_ids == {"create"}


def test_teardown_as_context_manager_wraps_the_block() -> None:
    with DAG("ctx") as d:
        create, delete = ops("create", "delete")
        with delete.as_teardown(setups=create):
            q1, q2, other = ops("q1", "q2", "other")
            [q1, q2] >> other
            w1, w2 = ops("w1", "w2")
            w1 >> w2
    assert edges(d) == {
        ("create", "delete"),
        ("create", "q1"), ("create", "q2"), ("q1", "other"), ("q2", "other"), ("other", "delete"),
        ("create", "w1"), ("w1", "w2"), ("w2", "delete"),
    }
    d.validate()


def test_setup_rshift_teardown_as_context_manager() -> None:
    with DAG("ctx2") as d:
        @setup
        def make() -> int:
            return 1

        @teardown
        def drop() -> None:
            pass

        @task
        def work() -> None:
            pass

        with make() >> drop():
            work() >> work()
    assert edges(d) == {("make", "drop"), ("make", "work"), ("work", "work__1"), ("work__1", "drop")}


def test_setup_task_as_context_manager_uses_its_teardowns() -> None:
    with DAG("ctx3") as d:
        s, t = ops("s", "t")
        t.as_teardown(setups=s)
        with s:
            (w,) = ops("w")
    assert edges(d) == {("s", "t"), ("s", "w"), ("w", "t")}


def test_nested_scopes_order_setups_and_teardowns() -> None:
    with DAG("nested") as d:
        s1, t1 = ops("s1", "t1")
        with t1.as_teardown(setups=s1):
            s2, t2 = ops("s2", "t2")
            with t2.as_teardown(setups=s2):
                (w,) = ops("w")
    assert edges(d) == {("s1", "t1"), ("s2", "t2"), ("s2", "w"), ("w", "t2"), ("s1", "s2"), ("t2", "t1")}
    d.validate()


def test_task_group_leaves_skip_teardowns() -> None:
    with DAG("group") as d:
        with TaskGroup("g") as g:
            s, w, t = ops("s", "w", "t")
            s >> w >> t.as_teardown(setups=s)
        (after,) = ops("after")
        g >> after
    assert d.task_dict["after"].upstream_task_ids == {"g.w"}


def test_snapshot_carries_the_flags_and_the_failure_limit() -> None:
    with DAG("snap", max_consecutive_failed_dag_runs=3) as d:
        s, w, t = ops("s", "w", "t")
        s >> w >> t.as_teardown(setups=s, on_failure_fail_dagrun=True)
    snap = DagSnapshot.from_dict(serialize_dag(d))
    assert snap.max_consecutive_failed_dag_runs == 3
    assert snap.tasks["s"].is_setup and not snap.tasks["s"].on_failure_fail_dagrun
    assert snap.tasks["t"].is_teardown and snap.tasks["t"].on_failure_fail_dagrun
    assert snap.tasks["t"].trigger_rule == "all_done_setup_success"


# ------------------------------------------------------------------------------ misuse
def test_a_task_cannot_be_setup_and_teardown() -> None:
    with DAG("both"):
        s, t = ops("s", "t")
        s.as_setup()
        with pytest.raises(SetupTeardownError, match="'s' is a setup task and cannot also be a teardown"):
            s.as_teardown()
        t.as_teardown()
        with pytest.raises(SetupTeardownError, match="'t' is a teardown task"):
            t.as_setup()
        (u,) = ops("u")
        with pytest.raises(SetupTeardownError, match="setup 't' is a teardown task"):
            u.as_teardown(setups=t)


def test_setups_must_be_tasks() -> None:
    with DAG("bad_setups"):
        (t,) = ops("t")
        with pytest.raises(SetupTeardownError, match=r"as_teardown\(\) of task 't': setups must be a task.*'create'"):
            t.as_teardown(setups="create")
        with pytest.raises(SetupTeardownError, match="cannot be its own setup"):
            t.as_teardown(setups=t)
        with pytest.raises(SetupTeardownError, match="on_failure_fail_dagrun must be True or False"):
            t.as_teardown(on_failure_fail_dagrun="yes")
    assert not t.is_teardown  # a refused call changes nothing


def test_only_setup_or_teardown_tasks_are_context_managers() -> None:
    with DAG("plain"):
        (a,) = ops("a")
        with pytest.raises(SetupTeardownError, match="'a' is neither a setup nor a teardown"):
            with a:
                pass


def test_work_after_a_setup_must_use_all_success() -> None:
    with DAG("rule") as d:
        s, w, t = ops("s", "w", "t")
        w.trigger_rule = TriggerRule.ALL_DONE
        s >> w >> t.as_teardown(setups=s)
    with pytest.raises(SetupTeardownError, match="'w' directly follows setup task 's' with trigger rule all_done"):
        d.validate()
    assert issubclass(SetupTeardownError, DagDefinitionError)


def test_decorator_misuse() -> None:
    def plain() -> None:
        pass

    with pytest.raises(SetupTeardownError, match="cannot be both a setup and a teardown"):
        teardown(setup(plain))
    with pytest.raises(SetupTeardownError, match="@setup decorates a function"):
        setup(42)


def test_max_consecutive_failed_dag_runs_must_be_a_non_negative_int() -> None:
    with pytest.raises(InvalidTaskArgumentError, match="max_consecutive_failed_dag_runs of DAG 'x'.*-1"):
        DAG("x", max_consecutive_failed_dag_runs=-1)
    with pytest.raises(InvalidTaskArgumentError, match="got '3'"):
        DAG("y", max_consecutive_failed_dag_runs="3")


def test_wait_for_downstream_implies_depends_on_past() -> None:
    with DAG("wfd", start_date=datetime(2024, 1, 1)) as d:
        a, b = ops("a", "b")
        c = EmptyOperator(task_id="c", wait_for_downstream=True)
        a >> b
    assert c.depends_on_past is True
    snap = DagSnapshot.from_dict(serialize_dag(d))
    assert snap.tasks["c"].depends_on_past and snap.tasks["c"].wait_for_downstream
