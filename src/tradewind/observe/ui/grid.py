"""The grid's data: runs x tasks as compact arrays (``GET /ui/data/dags/{dag_id}/grid``).

Shape (everything the page needs in one answer, sized for 1,000 runs x 50 tasks)::

    {
      "dag_id": "etl",
      "codes": {"s": "success", "f": "failed", ...},   # one letter per state; " " = no instance
      "rows": [                                         # display order: groups before their children
        {"id": "extract", "label": "extract", "depth": 0, "parent": null, "kind": "task", "mapped": false},
        {"id": "load", "label": "load", "depth": 0, "parent": null, "kind": "group", "children": 2},
        {"id": "load.a", "label": "a", "depth": 1, "parent": "load", "kind": "task", "mapped": true},
        ...
      ],
      "runs": {"run_id": [...], "run_type": [...], "state": [...], "logical_date": [...], ...},  # oldest first
      "states": {"extract": "ssf r", ...},              # one code per run (same order as runs)
      "mapped": {"load.a": {"3": {"success": 3, "failed": 2}}},   # run index -> counts per state
      "active": true                                    # a shown run is queued or running
    }

A group row has no states of its own: the page summarises its children (the most urgent
state wins, as in Airflow's grid). A mapped task's cell is the most urgent state among its
instances, with the counts per state beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.queries.ui_grid import RUN_COLUMNS

#: One character per task-instance state; a space means the run has no instance of the task.
STATE_CODES: dict[str, str] = {
    "none": "n", "scheduled": "c", "queued": "q", "running": "r", "success": "s", "failed": "f",
    "skipped": "k", "upstream_failed": "u", "up_for_retry": "y", "up_for_reschedule": "e", "removed": "x",
    "deferred": "d", "restarting": "t",
}
NO_INSTANCE = " "

#: Which state a summary shows when several are present (a group row, a mapped task's cell):
#: the first one present in this list, Airflow's order of what needs attention.
SUMMARY_PRIORITY: tuple[str, ...] = (
    "failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled", "deferred",
    "running", "restarting", "none", "removed", "skipped", "success",
)
_RANK = {state: i for i, state in enumerate(SUMMARY_PRIORITY)}

ACTIVE_RUN_STATES = frozenset({"queued", "running"})


def summary_state(states: Sequence[str]) -> str:
    """The state a summary cell shows for a set of instance states (the most urgent one)."""
    return min(states, key=lambda s: _RANK.get(s, len(_RANK)))


def display_rows(snapshot: DagSnapshot) -> list[dict[str, Any]]:
    """Task and group rows in display order: the group tree, each level in topological order.

    A child (task or group) sorts by the topological position of its earliest task, so a
    group sits where its first task would. Tasks the group tree does not mention (older
    snapshots) follow at the top level in topological order.
    """
    topo = {tid: i for i, tid in enumerate(snapshot.topological_order)}
    rows: list[dict[str, Any]] = []
    placed: set[str] = set()

    def first_rank(child: Any) -> int:
        if isinstance(child, str):
            return topo.get(child, len(topo))
        ranks = [first_rank(c) for c in child.get("children", [])]
        return min(ranks) if ranks else len(topo)

    def label_of(full_id: str, parent: str | None) -> str:
        prefix = f"{parent}."
        return full_id[len(prefix):] if parent and full_id.startswith(prefix) else full_id

    def walk(group: dict[str, Any], parent: str | None, depth: int) -> None:
        for child in sorted(group.get("children", []), key=first_rank):
            if isinstance(child, str):
                task = snapshot.tasks.get(child)
                if task is None or child in placed:
                    continue
                placed.add(child)
                rows.append(_task_row(snapshot, child, label_of(child, parent), parent, depth))
            else:
                gid = child.get("group_id") or ""
                row = {"id": gid, "label": label_of(gid, parent), "depth": depth, "parent": parent, "kind": "group",
                       "tooltip": child.get("tooltip") or ""}
                rows.append(row)
                start = len(rows)
                walk(child, gid, depth + 1)
                row["children"] = sum(1 for r in rows[start:] if r["parent"] == gid)

    if snapshot.task_group:
        walk(snapshot.task_group, None, 0)
    for tid in snapshot.topological_order:
        if tid not in placed:
            rows.append(_task_row(snapshot, tid, tid, None, 0))
    return rows


def _task_row(snapshot: DagSnapshot, task_id: str, label: str, parent: str | None, depth: int) -> dict[str, Any]:
    task = snapshot.tasks[task_id]
    return {"id": task_id, "label": task.task_display_name or label, "depth": depth, "parent": parent,
            "kind": "task", "mapped": bool(task.extra.get("is_mapped")), "operator": task.operator}


def build_grid(snapshot: DagSnapshot, runs_newest_first: Sequence[tuple[Any, ...]],
               instances: Sequence[tuple[str, str, int, str]]) -> dict[str, Any]:
    """The grid answer (see the module docstring) from the rows of :mod:`persist.queries.ui_grid`."""
    runs = list(reversed(runs_newest_first))  # oldest left, newest right
    column_of = {row[0]: i for i, row in enumerate(runs)}
    rows = display_rows(snapshot)
    task_ids = [r["id"] for r in rows if r["kind"] == "task"]
    n = len(runs)
    cells: dict[str, list[str]] = {tid: [NO_INSTANCE] * n for tid in task_ids}
    mapped_states: dict[str, dict[int, list[str]]] = {}
    code = STATE_CODES
    for run_id, task_id, map_index, state in instances:
        line = cells.get(task_id)
        if line is None:
            continue  # a task the latest version no longer has
        col = column_of[run_id]
        if map_index < 0:
            line[col] = code.get(state, "n")
        else:
            mapped_states.setdefault(task_id, {}).setdefault(col, []).append(state)
    mapped: dict[str, dict[str, dict[str, int]]] = {}
    for task_id, by_col in mapped_states.items():
        out: dict[str, dict[str, int]] = {}
        for col, states in by_col.items():
            counts: dict[str, int] = {}
            for s in states:
                counts[s] = counts.get(s, 0) + 1
            out[str(col)] = counts
            cells[task_id][col] = code.get(summary_state(states), "n")
        mapped[task_id] = out
    run_arrays: dict[str, list[Any]] = {name: [] for name in RUN_COLUMNS}
    for row in runs:
        for name, value in zip(RUN_COLUMNS, row):
            run_arrays[name].append(value.isoformat() if hasattr(value, "isoformat") else value)
    return {
        "dag_id": snapshot.dag_id,
        "codes": {c: s for s, c in STATE_CODES.items()},
        "rows": rows,
        "runs": run_arrays,
        "states": {tid: "".join(line) for tid, line in cells.items()},
        "mapped": mapped,
        "active": any(s in ACTIVE_RUN_STATES for s in run_arrays["state"]),
    }


def encode(grid: dict[str, Any]) -> tuple[bytes, str]:
    """The JSON body and its strong ETag (a digest of the body: unchanged data answers 304)."""
    body = json.dumps(grid, separators=(",", ":")).encode()
    return body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
