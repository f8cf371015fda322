"""The graph view's layered layout: layers, crossings, coordinates, groups and edge routes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tradewind.observe.ui.graph_layout import (
    _count_crossings,
    _isotonic,
    layered_layout,
    layout_dag,
)
from tradewind.parse.snapshot import DagSnapshot


def _snapshot(edges: list[tuple[str, str]], tasks: list[str], groups: dict[str, Any] | None = None,
              labels: dict[str, dict[str, dict[str, str]]] | None = None, **flags: dict[str, Any]) -> DagSnapshot:
    """A snapshot with these tasks/edges; ``groups`` is the task_group tree below the root."""
    task_dicts = []
    for tid in tasks:
        task_dicts.append({"task_id": tid, "operator": "EmptyOperator",
                           "upstream": [u for u, v in edges if v == tid],
                           "downstream": [v for u, v in edges if u == tid], **flags.get(tid, {})})
    tree = {"group_id": None, "tooltip": "", "children": groups or list(tasks)}
    return DagSnapshot.from_dict({"dag_id": "d", "fileloc": "/d.py", "timetable": {}, "timetable_summary": "None",
                                  "tasks": task_dicts, "task_group": tree, "edge_info": labels or {}})


def _box(sizes: dict[str, tuple[float, float]], edges: list[tuple[str, str]], **kw: Any):
    return layered_layout(sizes, edges, **kw)


def test_layers_follow_the_longest_path_left_to_right() -> None:
    sizes = dict.fromkeys("abcd", (100.0, 40.0))
    flat = _box(sizes, [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")])
    xs = {n: flat.positions[n][0] for n in "abcd"}
    assert xs["a"] < xs["b"] < xs["c"] < xs["d"]
    # a -> c spans two layers: it bends through one dummy point between a and c
    bend = flat.bends[("a", "c")]
    assert len(bend) == 1 and xs["a"] < bend[0][0] < xs["c"]
    assert ("a", "b") not in flat.bends


def test_nodes_in_a_layer_never_overlap_and_keep_the_gap() -> None:
    sizes = {"root": (100.0, 40.0), **{f"t{i}": (100.0, 30.0 + i) for i in range(6)}}
    flat = _box(sizes, [("root", f"t{i}") for i in range(6)], node_gap=10.0)
    column = sorted((flat.positions[f"t{i}"][1], sizes[f"t{i}"][1]) for i in range(6))
    for (y1, h1), (y2, _) in itertools.pairwise(column):
        assert y2 - (y1 + h1) >= 10.0 - 1e-6
    # the root sits at the mean of its children's centres
    middle = sum(y + h / 2 for y, h in column) / len(column)
    assert flat.positions["root"][1] + 20 == pytest.approx(middle, abs=1.0)
    assert min(y for _, y in flat.positions.values()) == 0.0
    assert flat.height == pytest.approx(max(y + sizes[n][1] for n, (_, y) in flat.positions.items()))


def test_barycenter_sweeps_untangle_crossings() -> None:
    # two chains drawn crossed by their insertion order: a1->b2, a2->b1 (+ tails) untangle to 0 crossings
    sizes = dict.fromkeys(["a1", "a2", "b1", "b2", "c1", "c2"], (80.0, 30.0))
    edges = [("a1", "b2"), ("a2", "b1"), ("b2", "c2"), ("b1", "c1")]
    flat = _box(sizes, edges)
    assert flat.crossings == 0
    ys = {n: flat.positions[n][1] for n in sizes}
    assert (ys["a1"] < ys["a2"]) == (ys["b2"] < ys["b1"]) == (ys["c2"] < ys["c1"])


def test_crossing_count_is_exact() -> None:
    upper, lower = ["a", "b", "c"], ["x", "y", "z"]
    assert _count_crossings(upper, lower, [("a", "x"), ("b", "y"), ("c", "z")]) == 0
    assert _count_crossings(upper, lower, [("a", "z"), ("b", "y"), ("c", "x")]) == 3
    assert _count_crossings(upper, lower, [("a", "y"), ("a", "z"), ("b", "x")]) == 2
    assert _count_crossings(upper, lower, [("a", "x"), ("b", "x")]) == 0  # shared end: no crossing


def test_isotonic_regression_pools_violators() -> None:
    assert _isotonic([1.0, 2.0, 3.0], [1, 1, 1]) == [1.0, 2.0, 3.0]
    assert _isotonic([3.0, 1.0], [1, 1]) == [2.0, 2.0]
    assert _isotonic([5.0, 1.0, 0.0, 10.0], [1, 1, 1, 1]) == [2.0, 2.0, 2.0, 10.0]
    assert _isotonic([4.0, 0.0], [3, 1]) == [3.0, 3.0]


def test_cycles_from_lifting_are_broken_not_fatal() -> None:
    flat = _box(dict.fromkeys("gb", (80.0, 30.0)), [("g", "b"), ("b", "g")])
    assert set(flat.positions) == {"g", "b"} and flat.positions["g"][0] != flat.positions["b"][0]


def test_the_same_input_gives_the_same_layout() -> None:
    sizes = {f"n{i}": (90.0, 30.0) for i in range(12)}
    edges = [(f"n{i}", f"n{j}") for i in range(12) for j in range(i + 1, 12) if (i * 7 + j) % 5 == 0]
    assert _box(sizes, edges) == _box(dict(sizes), list(edges))


def test_collapsed_group_is_one_node_with_lifted_edges() -> None:
    groups = ["start", {"group_id": "g", "tooltip": "", "children": ["g.a", "g.b"]}, "end"]
    snap = _snapshot([("start", "g.a"), ("g.a", "g.b"), ("g.b", "end")], ["start", "g.a", "g.b", "end"], groups)
    out = layout_dag(snap)
    assert {n["id"]: n["kind"] for n in out["nodes"]} == {"start": "task", "end": "task", "g": "group"}
    assert [(e["source"], e["target"]) for e in out["edges"]] == [("start", "g"), ("g", "end")]
    assert out["groups"] == [] and out["crossings"] == 0


def test_expanded_groups_are_boxes_around_their_members() -> None:
    inner = {"group_id": "g.h", "tooltip": "", "children": ["g.h.x"]}
    groups = ["start", {"group_id": "g", "tooltip": "tip", "children": ["g.a", inner]}, "end"]
    snap = _snapshot([("start", "g.a"), ("g.a", "g.h.x"), ("g.h.x", "end"), ("start", "end")],
                     ["start", "g.a", "g.h.x", "end"], groups)
    out = layout_dag(snap, ["g", "g.h"])
    boxes = {b["id"]: b for b in out["groups"]}
    nodes = {n["id"]: n for n in out["nodes"]}
    assert set(boxes) == {"g", "g.h"} and set(nodes) == {"start", "g.a", "g.h.x", "end"}
    assert nodes["g.h.x"]["label"] == "x" and boxes["g.h"]["label"] == "h" and boxes["g"]["tooltip"] == "tip"

    def inside(item: dict, box: dict) -> bool:
        return (box["x"] <= item["x"] and item["x"] + item["w"] <= box["x"] + box["w"]
                and box["y"] <= item["y"] and item["y"] + item["h"] <= box["y"] + box["h"])

    assert inside(nodes["g.a"], boxes["g"]) and inside(boxes["g.h"], boxes["g"]) and inside(nodes["g.h.x"], boxes["g.h"])
    assert not inside(nodes["start"], boxes["g"]) and not inside(nodes["end"], boxes["g"])
    # start -> end skips the group's layer: it bends around the box, not through it
    skip = next(e for e in out["edges"] if (e["source"], e["target"]) == ("start", "end"))
    assert len(skip["points"]) == 3
    bx, by = skip["points"][1]
    g = boxes["g"]
    assert not (g["x"] <= bx <= g["x"] + g["w"] and g["y"] <= by <= g["y"] + g["h"])
    # an inner group stays hidden while its parent is collapsed
    assert {n["id"] for n in layout_dag(snap, ["g.h"])["nodes"]} == {"start", "g", "end"}


def test_labels_and_setup_teardown_edges() -> None:
    snap = _snapshot([("make", "use"), ("use", "drop"), ("make", "drop")], ["make", "use", "drop"],
                     labels={"make": {"use": {"label": "rows ready"}}},
                     make={"is_setup": True}, drop={"is_teardown": True})
    out = layout_dag(snap)
    edges = {(e["source"], e["target"]): e for e in out["edges"]}
    assert edges[("make", "use")]["label"] == "rows ready" and edges[("use", "drop")]["label"] is None
    assert edges[("make", "drop")]["setup_teardown"] and not edges[("make", "use")]["setup_teardown"]
    nodes = {n["id"]: n for n in out["nodes"]}
    assert nodes["make"]["is_setup"] and nodes["drop"]["is_teardown"]
    # the labelled edge gets room: the gap after make's layer is wider than the plain one after use's
    gap_labelled = nodes["use"]["x"] - (nodes["make"]["x"] + nodes["make"]["w"])
    gap_plain = nodes["drop"]["x"] - (nodes["use"]["x"] + nodes["use"]["w"])
    assert gap_labelled > gap_plain


def test_a_wide_dag_lays_out_without_crossings_for_a_fan() -> None:
    tasks = ["start"] + [f"t{i}" for i in range(200)] + ["end"]
    edges = [("start", f"t{i}") for i in range(200)] + [(f"t{i}", "end") for i in range(200)]
    out = layout_dag(_snapshot(edges, tasks))
    assert out["crossings"] == 0 and len(out["nodes"]) == 202 and len(out["edges"]) == 400
