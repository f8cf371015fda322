"""Dependency operators, chain/cross_downstream, task groups and priority weights."""

from __future__ import annotations

import pytest

from tradewind import DAG, EmptyOperator, TaskGroup, chain, cross_downstream, task, task_group
from tradewind.definition.exceptions import DagDefinitionError, DuplicateTaskIdError, InvalidIdError


def ops(*ids: str) -> list[EmptyOperator]:
    return [EmptyOperator(task_id=i) for i in ids]


def edges(dag: DAG) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


def test_rshift_and_lshift_between_tasks_return_right_operand() -> None:
    with DAG("shift") as d:
        a, b, c = ops("a", "b", "c")
        result = a >> b
        c << b
    assert result is b
    assert edges(d) == {("a", "b"), ("b", "c")}
    assert b.upstream_task_ids == {"a"} and b.downstream_task_ids == {"c"}
    assert a.downstream_list == [b] and c.upstream_list == [b]


def test_lists_on_either_side() -> None:
    with DAG("lists") as d:
        a, b, c, e, f = ops("a", "b", "c", "e", "f")
        a >> [b, c] >> e
        [a, e] << f
    assert edges(d) == {("a", "b"), ("a", "c"), ("b", "e"), ("c", "e"), ("f", "a"), ("f", "e")}


def test_list_on_left_of_lshift() -> None:
    with DAG("lists2") as d:
        a, b, c = ops("a", "b", "c")
        [a, b] << c
    assert edges(d) == {("c", "a"), ("c", "b")}


def test_set_upstream_and_set_downstream_methods() -> None:
    with DAG("methods") as d:
        a, b, c = ops("a", "b", "c")
        b.set_upstream(a)
        b.set_downstream([c])
    assert edges(d) == {("a", "b"), ("b", "c")}


def test_shift_with_non_task_is_a_type_error() -> None:
    with DAG("typeerr"):
        (a,) = ops("a")
        with pytest.raises(TypeError, match="cannot set a dependency"):
            a >> "b"


def test_task_without_dag_joins_the_dag_of_its_relative() -> None:
    d = DAG("join")
    a = EmptyOperator(task_id="a", dag=d)
    loose = EmptyOperator(task_id="loose")
    a >> loose
    assert loose.dag is d and d.has_task("loose")


def test_relationships_across_dags_are_rejected() -> None:
    a = EmptyOperator(task_id="a", dag=DAG("one"))
    b = EmptyOperator(task_id="b", dag=DAG("two"))
    with pytest.raises(DagDefinitionError, match="more than one DAG"):
        a >> b


def test_chain_with_single_tasks_and_equal_length_lists() -> None:
    with DAG("chain") as d:
        a, b, c, e, f, g = ops("a", "b", "c", "e", "f", "g")
        chain(a, [b, c], [e, f], g)
    assert edges(d) == {("a", "b"), ("a", "c"), ("b", "e"), ("c", "f"), ("e", "g"), ("f", "g")}


def test_chain_rejects_lists_of_different_lengths() -> None:
    with DAG("chain_bad"):
        a, b, c = ops("a", "b", "c")
        with pytest.raises(ValueError, match="different lengths"):
            chain([a, b], [c])


def test_cross_downstream() -> None:
    with DAG("cross") as d:
        a, b, c, e = ops("a", "b", "c", "e")
        cross_downstream([a, b], [c, e])
    assert edges(d) == {("a", "c"), ("a", "e"), ("b", "c"), ("b", "e")}


def test_task_group_prefixes_ids_and_wires_roots_and_leaves() -> None:
    with DAG("groups") as d:
        start, end = ops("start", "end")
        with TaskGroup("extract", tooltip="pull data") as tg:
            x1, x2 = ops("x1", "x2")
            x3 = EmptyOperator(task_id="x3")
            [x1, x2] >> x3
        start >> tg >> end
    assert {t.task_id for t in tg.iter_tasks()} == {"extract.x1", "extract.x2", "extract.x3"}
    assert x1.label == "x1" and x1.task_group is tg
    assert edges(d) == {
        ("start", "extract.x1"), ("start", "extract.x2"),
        ("extract.x1", "extract.x3"), ("extract.x2", "extract.x3"), ("extract.x3", "end"),
    }
    assert d.task_group_dict["extract"] is tg
    assert d.task_group.structure() == {
        "group_id": None, "tooltip": "",
        "children": ["start", "end", {"group_id": "extract", "tooltip": "pull data",
                                      "children": ["extract.x1", "extract.x2", "extract.x3"]}],
    }


def test_nested_groups_and_prefix_group_id_false() -> None:
    with DAG("nested") as d:
        with TaskGroup("outer") as outer:
            with TaskGroup("inner") as inner:
                deep = EmptyOperator(task_id="deep")
            with TaskGroup("flat", prefix_group_id=False):
                plain = EmptyOperator(task_id="plain")
    assert inner.group_id == "outer.inner" and deep.task_id == "outer.inner.deep"
    assert plain.task_id == "plain"  # Airflow: a non-prefixing group adds no prefix at all
    assert inner.parent_group is outer and outer.parent_group is d.task_group
    assert set(d.task_group_dict) == {"outer", "outer.inner", "outer.flat"}


def test_group_default_args_layer_over_dag_default_args() -> None:
    with DAG("gdefaults", default_args={"retries": 1, "owner": "dag"}):
        with TaskGroup("g", default_args={"retries": 4}):
            t = EmptyOperator(task_id="t")
    assert (t.retries, t.owner) == (4, "dag")


def test_duplicate_and_invalid_group_ids() -> None:
    with DAG("gdup"):
        TaskGroup("g")
        with pytest.raises(DuplicateTaskIdError, match="group_id 'g'"):
            TaskGroup("g")
        with pytest.raises(InvalidIdError, match="group_id"):
            TaskGroup("has.dot")


def test_task_group_outside_dag_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match="inside a DAG"):
        TaskGroup("orphan")


def test_task_group_decorator_returns_group_and_dedupes_ids() -> None:
    with DAG("tgdeco") as d:
        @task_group
        def section():
            """Section tooltip."""
            a, b = ops("a", "b")
            a >> b

        first = section()
        second = section()
        start = EmptyOperator(task_id="start")
        start >> first
    assert isinstance(first, TaskGroup) and first.group_id == "section"
    assert second.group_id == "section__1" and first.tooltip == "Section tooltip."
    assert d.has_task("section__1.a")
    assert edges(d) >= {("start", "section.a")}
    assert "start" not in d.get_task("section__1.a").upstream_task_ids


def test_task_group_decorator_returning_a_task_binds_to_it() -> None:
    with DAG("tgret") as d:
        @task
        def make():
            return 1

        @task
        def use(x):
            return x

        @task_group(group_id="grp")
        def body():
            return use(make())

        after = EmptyOperator(task_id="after")
        body() >> after
    assert d.get_task("grp.use").downstream_task_ids == {"after"}
    assert d.get_task("grp.make").downstream_task_ids == {"grp.use"}


def test_priority_weight_total_per_weight_rule() -> None:
    with DAG("weights") as d:
        a = EmptyOperator(task_id="a", priority_weight=1)
        b = EmptyOperator(task_id="b", priority_weight=2)
        c = EmptyOperator(task_id="c", priority_weight=3)
        e = EmptyOperator(task_id="e", priority_weight=4)
        a >> [b, c] >> e
        up = EmptyOperator(task_id="up", priority_weight=5, weight_rule="upstream")
        ab = EmptyOperator(task_id="ab", priority_weight=7, weight_rule="absolute")
        e >> up
        a >> ab
    # downstream: own + every task below (e and up counted once each).
    assert a.priority_weight_total == 1 + 2 + 3 + 4 + 5 + 7
    assert b.priority_weight_total == 2 + 4 + 5
    assert up.priority_weight_total == 5 + 4 + 2 + 3 + 1
    assert ab.priority_weight_total == 7
    assert d.get_task("e").priority_weight_total == 4 + 5
