"""The Graph view's data: the structure and states of a large DAG, and the cross-DAG links and
assets real operators declare. (How fast it is built is bench/ui.py's to measure.)"""

from __future__ import annotations

import json
from types import SimpleNamespace

from tradewind.observe.ui.dag_graph import _groups_of, graph_structure, node_states
from tradewind.parse.snapshot import DagSnapshot, TaskSnapshot


def _huge() -> DagSnapshot:
    tasks: dict[str, TaskSnapshot] = {}
    children: list[dict] = []
    for g in range(100):
        ids = [f"g{g}.t{i}" for i in range(100)]
        for i, tid in enumerate(ids):
            tasks[tid] = TaskSnapshot(task_id=tid, operator="EmptyOperator", task_group=f"g{g}",
                                      upstream=(ids[i - 1],) if i else (), downstream=(ids[i + 1],) if i < 99 else (),
                                      extra={"is_mapped": i == 50})
        children.append({"group_id": f"g{g}", "tooltip": "", "children": ids})
    return DagSnapshot(dag_id="huge", fileloc="x.py", timetable={}, timetable_summary="None", tasks=tasks,
                       task_group={"group_id": None, "children": children})


def test_a_10000_task_dags_structure_and_states() -> None:
    snapshot = _huge()
    instances = [SimpleNamespace(task_id=tid, map_index=-1, state="success", try_number=1) for tid in snapshot.tasks]
    structure = graph_structure(snapshot)  # once per DAG version (kept by version_graph)
    states = node_states({t: bool(s.extra.get("is_mapped")) for t, s in snapshot.tasks.items()}, _groups_of(snapshot),
                         instances)
    body = json.dumps({"states": states})
    assert len(structure["nodes"]) == 10_000 and len(structure["groups"]) == 100 and len(structure["edges"]) == 9_900
    assert structure["groups"][0] == {"id": "g0", "label": "g0", "parent": None, "tooltip": "", "task_count": 100}
    assert structure["nodes"][1]["label"] == "t1" and structure["nodes"][1]["group"] == "g0"
    assert states["g0"] == {"state": "success", "try_number": None, "map_count": None, "counts": {"success": 100}}
    assert states["g0.t50"]["map_count"] == 0  # mapped, not expanded yet
    assert len(body) < 2_000_000


def test_triggers_sensors_markers_and_inlets_reach_the_graph_from_real_operators() -> None:
    from datetime import datetime

    from tradewind import DAG
    from tradewind.definition.assets import Asset
    from tradewind.definition.operators.empty import EmptyOperator
    from tradewind.definition.operators.trigger_dagrun import TriggerDagRunOperator
    from tradewind.definition.sensors.external_task import ExternalTaskMarker, ExternalTaskSensor
    from tradewind.parse.snapshot import serialize_dag

    with DAG("links", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        wait = ExternalTaskSensor(task_id="wait", external_dag_id="upstream_dag", external_task_id="load")
        read = EmptyOperator(task_id="read", inlets=[Asset("s3://bucket/raw")])
        fire = TriggerDagRunOperator(task_id="fire", trigger_dag_id="downstream_dag")
        templated = TriggerDagRunOperator(task_id="templated", trigger_dag_id="{{ params.target }}")
        mark = ExternalTaskMarker(task_id="mark", external_dag_id="child_dag", external_task_id="t")
        wait >> read >> [fire, templated, mark]
    structure = graph_structure(DagSnapshot.from_dict(serialize_dag(dag)))
    assert {d["dag_id"] for d in structure["dags"]} == {"upstream_dag", "downstream_dag", "child_dag"}
    links = {(link["source"], link["target"], link["kind"]) for link in structure["links"]}
    assert ("dag:upstream_dag", "wait", "sensor") in links and ("fire", "dag:downstream_dag", "trigger") in links
    assert ("mark", "dag:child_dag", "marker") in links  # the templated target is not drawn
    assert [a["uri"] for a in structure["assets"]] == ["s3://bucket/raw"]
    assert any(link["kind"] == "inlet" and link["target"] == "read" for link in structure["links"])
