"""serialize_dag: the DagSnapshot JSON format built from definition DAGs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tradewind.definition.dag import DAG
from tradewind.definition.operators.empty import EmptyOperator
from tradewind.definition.operators.python import PythonOperator
from tradewind.definition.params import Param
from tradewind.definition.taskgroup import TaskGroup
from tradewind.parse.snapshot import DagSnapshot, serialize_dag, snapshot_hash


def _noop() -> None:
    return None


def _graph_dag() -> DAG:
    with DAG(
        "graph",
        schedule="0 8 * * *",
        start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")),
        end_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        timezone="Europe/Amsterdam",
        dagrun_timeout=timedelta(minutes=90),
        max_active_runs=3,
        max_active_tasks=5,
        catchup=True,
        tags=["b", "a"],
        description="a graph",
        doc_md="# docs",
        is_paused_upon_creation=True,
        params={"n": Param(5, type="integer", minimum=1, description="how many"), "plain": "x"},
        default_args={"owner": "ann", "retries": 2},
        on_failure_callback=_noop,
    ) as dag:
        start = EmptyOperator(task_id="start", priority_weight=3)
        with TaskGroup("grp", tooltip="the group") as grp:
            one = PythonOperator(
                task_id="one", python_callable=_noop, on_retry_callback=_noop,
                retry_delay=timedelta(seconds=45), execution_timeout=timedelta(minutes=2),
            )
            with TaskGroup("inner"):
                two = EmptyOperator(task_id="two", weight_rule="upstream", owner="bob")
            one >> two
        end = EmptyOperator(task_id="end", weight_rule="absolute", priority_weight=7, trigger_rule="all_done")
        start >> grp >> end
    return dag


def test_tasks_come_in_topological_order_with_sorted_edges() -> None:
    data = serialize_dag(_graph_dag())
    ids = [t["task_id"] for t in data["tasks"]]
    assert ids == ["start", "grp.one", "grp.inner.two", "end"]
    by_id = {t["task_id"]: t for t in data["tasks"]}
    assert by_id["start"]["downstream"] == ["grp.one"]
    assert by_id["end"]["upstream"] == ["grp.inner.two"]
    assert by_id["grp.inner.two"]["task_group"] == "grp.inner"
    assert by_id["start"]["task_group"] is None


def test_priority_weight_total_follows_weight_rule() -> None:
    by_id = {t["task_id"]: t for t in serialize_dag(_graph_dag())["tasks"]}
    assert by_id["start"]["priority_weight_total"] == 3 + 1 + 1 + 7  # downstream: all below it
    assert by_id["grp.one"]["priority_weight_total"] == 1 + 1 + 7
    assert by_id["grp.inner.two"]["priority_weight_total"] == 1 + 1 + 3  # upstream
    assert by_id["end"]["priority_weight_total"] == 7  # absolute


def test_task_fields_durations_callbacks_and_operator_names() -> None:
    by_id = {t["task_id"]: t for t in serialize_dag(_graph_dag())["tasks"]}
    one = by_id["grp.one"]
    assert one["operator"] == "PythonOperator"
    assert one["retries"] == 2 and one["retry_delay"] == 45.0 and one["execution_timeout"] == 120.0
    assert one["callbacks"] == ["on_retry_callback"]
    assert one["owner"] == "ann" and by_id["grp.inner.two"]["owner"] == "bob"
    assert by_id["end"]["trigger_rule"] == "all_done"
    assert by_id["start"]["retry_delay"] == 300.0 and by_id["start"]["execution_timeout"] is None
    assert one["extra"]["operator_class"] == "tradewind.definition.operators.python.PythonOperator"


def test_dag_fields() -> None:
    data = serialize_dag(_graph_dag())
    assert data["format_version"] == 1
    assert data["timetable"]["expression"] == "0 8 * * *"
    assert data["timetable_summary"] == "0 8 * * *"
    assert data["timezone"] == "Europe/Amsterdam"
    assert data["start_date"] == "2023-12-31T23:00:00+00:00"
    assert data["end_date"] == "2025-01-01T00:00:00+00:00"
    assert data["dagrun_timeout"] == 5400.0
    assert (data["max_active_runs"], data["max_active_tasks"], data["catchup"]) == (3, 5, True)
    assert data["tags"] == ["a", "b"]
    assert data["owners"] == ["ann", "bob"]
    assert data["is_paused_upon_creation"] is True
    assert data["callbacks"] == ["on_failure_callback"]
    assert data["doc_md"] == "# docs" and data["description"] == "a graph"
    assert data["params"] == {
        "n": {"default": 5, "has_default": True, "schema": {"type": "integer", "minimum": 1},
              "description": "how many"},
        "plain": {"default": "x", "has_default": True, "schema": {}, "description": None},
    }


def test_param_without_default() -> None:
    dag = DAG("p", schedule=None, params={"must": Param(type="string")})
    assert serialize_dag(dag)["params"]["must"] == {
        "default": None, "has_default": False, "schema": {"type": "string"}, "description": None,
    }


def test_task_group_structure_is_nested() -> None:
    group = serialize_dag(_graph_dag())["task_group"]
    assert group == {
        "group_id": None,
        "tooltip": "",
        "children": [
            "start",
            {
                "group_id": "grp",
                "tooltip": "the group",
                "children": ["grp.one", {"group_id": "grp.inner", "tooltip": "", "children": ["grp.inner.two"]}],
            },
            "end",
        ],
    }


def test_round_trips_through_json_and_dagsnapshot() -> None:
    data = json.loads(json.dumps(serialize_dag(_graph_dag())))
    snap = DagSnapshot.from_dict(data)
    assert snap.topological_order == ("start", "grp.one", "grp.inner.two", "end")
    assert snap.task("grp.one").retry_delay_td == timedelta(seconds=45)
    assert snap.dagrun_timeout_td == timedelta(minutes=90)
    assert snap.start_date_dt == datetime(2023, 12, 31, 23, tzinfo=timezone.utc)
    assert snap.tags == ("a", "b") and snap.owners == ("ann", "bob")
    assert snap.task("end").trigger_rule == "all_done"
    assert snap.all_downstream("start") == {"grp.one", "grp.inner.two", "end"}


def test_hash_changes_with_the_dag_and_not_otherwise() -> None:
    assert snapshot_hash(serialize_dag(_graph_dag())) == snapshot_hash(serialize_dag(_graph_dag()))
    changed = _graph_dag()
    changed.get_task("end").retries = 9
    assert snapshot_hash(serialize_dag(changed)) != snapshot_hash(serialize_dag(_graph_dag()))
