"""``Label`` on edges and ``dag_display_name`` / ``task_display_name``, in the DAG and its snapshot."""

from __future__ import annotations

from datetime import datetime

import pytest

from tradewind import DAG, EmptyOperator, Label, TaskGroup, task
from tradewind.definition.exceptions import DagDefinitionError
from tradewind.parse.snapshot import DagSnapshot, serialize_dag


def _dag(**kwargs):
    return DAG("edges", schedule=None, start_date=datetime(2024, 1, 1), **kwargs)


def test_label_between_two_tasks():
    with _dag() as dag:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        result = a >> Label("ok") >> b
    assert result is b
    assert a.downstream_task_ids == {"b"} and b.upstream_task_ids == {"a"}
    assert dag.get_edge_info("a", "b") == {"label": "ok"}
    assert dag.get_edge_info("b", "a") == {}


def test_label_fans_out_and_in():
    with _dag() as dag:
        a, b, c, d = (EmptyOperator(task_id=t) for t in "abcd")
        a >> Label("split") >> [b, c]
        [b, c] >> Label("join") >> d
    assert a.downstream_task_ids == {"b", "c"} and d.upstream_task_ids == {"b", "c"}
    assert dag.get_edge_info("a", "b") == dag.get_edge_info("a", "c") == {"label": "split"}
    assert dag.get_edge_info("b", "d") == dag.get_edge_info("c", "d") == {"label": "join"}


def test_label_with_left_shift_and_task_groups():
    with _dag() as dag:
        a = EmptyOperator(task_id="a")
        with TaskGroup("grp") as grp:
            EmptyOperator(task_id="first") >> EmptyOperator(task_id="last")
        z = EmptyOperator(task_id="z")
        z << Label("after group") << grp
        grp << Label("into group") << a
    assert dag.get_edge_info("grp.last", "z") == {"label": "after group"}
    assert dag.get_edge_info("a", "grp.first") == {"label": "into group"}
    assert dag.get_task("grp.first").upstream_task_ids == {"a"}


def test_label_on_tasks_without_a_dag_is_kept_until_they_join_one():
    a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
    a >> Label("later") >> b
    dag = _dag()
    dag.add_tasks([a, b])
    assert dag.get_edge_info("a", "b") == {"label": "later"}


def test_labels_cannot_be_chained_and_must_be_text():
    with _dag():
        a = EmptyOperator(task_id="a")
        with pytest.raises(DagDefinitionError, match="cannot chain two edge modifiers"):
            Label("x") >> Label("y")
        with pytest.raises(TypeError, match="Label text must be a string"):
            a >> Label(3)


def test_display_names_default_to_ids():
    with _dag() as dag:
        op = EmptyOperator(task_id="plain")
    assert dag.dag_display_name == "edges" and op.task_display_name == "plain"


def test_display_names_from_arguments_and_task_decorator():
    with _dag(dag_display_name="Édition — nightly") as dag:
        op = EmptyOperator(task_id="load", task_display_name="Load the warehouse 🚚")

        @task(task_display_name="Compute totals")
        def totals():
            return 1

        totals()
    assert dag.dag_display_name == "Édition — nightly"
    assert op.task_display_name == "Load the warehouse 🚚"
    assert dag.get_task("totals").task_display_name == "Compute totals"


def test_snapshot_carries_display_names_and_edge_labels():
    with _dag(dag_display_name="Nice name") as dag:
        a = EmptyOperator(task_id="a", task_display_name="Start here")
        b, c = EmptyOperator(task_id="b"), EmptyOperator(task_id="c")
        a >> Label("yes") >> b
        a >> c
    data = serialize_dag(dag)
    assert data["dag_display_name"] == "Nice name"
    assert data["edge_info"] == {"a": {"b": {"label": "yes"}}}
    snap = DagSnapshot.from_dict(data)
    assert snap.dag_display_name == "Nice name"
    assert snap.edge_info == {"a": {"b": {"label": "yes"}}}
    assert snap.task("a").task_display_name == "Start here"
    assert snap.task("b").task_display_name == "b"


def test_older_snapshots_without_the_new_fields_still_load():
    with _dag() as dag:
        EmptyOperator(task_id="a")
    data = serialize_dag(dag)
    for key in ("dag_display_name", "edge_info"):
        del data[key]
    for t in data["tasks"]:
        del t["task_display_name"]
    snap = DagSnapshot.from_dict(data)
    assert snap.dag_display_name is None and snap.edge_info == {}
    assert snap.task("a").task_display_name is None
