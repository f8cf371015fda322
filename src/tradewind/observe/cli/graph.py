"""Text renderings of a DAG snapshot's graph for ``dags show`` and ``tasks list --tree``."""

from __future__ import annotations

from tradewind.parse.snapshot import DagSnapshot


def _label(snapshot: DagSnapshot, task_id: str) -> str:
    return f"{task_id} ({snapshot.tasks[task_id].operator})"


def tree_lines(snapshot: DagSnapshot) -> list[str]:
    """An ASCII tree from each root. A task reached a second time (diamonds) is shown once,
    then referred to with ``(see above)`` so the output stays linear in the graph size."""
    lines: list[str] = []
    shown: set[str] = set()

    def walk(task_id: str, prefix: str, is_last: bool, depth: int) -> None:
        connector = "" if depth == 0 else ("└── " if is_last else "├── ")
        if task_id in shown:
            lines.append(f"{prefix}{connector}{task_id} (see above)")
            return
        shown.add(task_id)
        lines.append(f"{prefix}{connector}{_label(snapshot, task_id)}")
        children = [t for t in snapshot.topological_order if t in set(snapshot.tasks[task_id].downstream)]
        child_prefix = prefix if depth == 0 else prefix + ("    " if is_last else "│   ")
        for i, child in enumerate(children):
            walk(child, child_prefix, i == len(children) - 1, depth + 1)

    for root in [t for t in snapshot.topological_order if not snapshot.tasks[t].upstream]:
        walk(root, "", True, 0)
    return lines


def edge_lines(snapshot: DagSnapshot) -> list[str]:
    """Each task in topological order with its direct downstream tasks."""
    lines = []
    for task_id in snapshot.topological_order:
        downstream = [t for t in snapshot.topological_order if t in set(snapshot.tasks[task_id].downstream)]
        arrow = " -> " + ", ".join(downstream) if downstream else ""
        lines.append(f"{_label(snapshot, task_id)}{arrow}")
    return lines


def show(snapshot: DagSnapshot) -> str:
    """The full ``dags show`` text: a header, the edges in topological order, then the tree."""
    count = len(snapshot.tasks)
    header = f"DAG {snapshot.dag_id}: {count} task{'s' if count != 1 else ''}, schedule {snapshot.timetable_summary}"
    parts = [header, "", "Tasks (topological order) -> downstream:"]
    parts += ["  " + line for line in edge_lines(snapshot)]
    parts += ["", "Tree:"]
    parts += ["  " + line for line in tree_lines(snapshot)]
    return "\n".join(parts)


def _dot_id(text: str) -> str:
    """A DOT quoted identifier (backslashes and quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_source(snapshot: DagSnapshot, orientation: str = "LR") -> str:
    """The DAG as Graphviz DOT text, as ``airflow dags show`` prints it: one node per task (a
    rounded box filled with the operator's ``ui_color``), one edge per dependency, the DAG id as
    the graph's label."""
    lines = [
        f"digraph {_dot_id(snapshot.dag_id)} {{",
        f"\tgraph [label={_dot_id(snapshot.dag_id)} labelloc=t rankdir={orientation}]",
    ]
    for task_id in snapshot.topological_order:
        task = snapshot.tasks[task_id]
        fill = str(task.extra.get("ui_color") or "#fff")
        font = str(task.extra.get("ui_fgcolor") or "#000")
        lines.append(f"\t{_dot_id(task_id)} [color={_dot_id(font)} fillcolor={_dot_id(fill)} "
                     f"label={_dot_id(task_id)} shape=rectangle style=\"filled,rounded\"]")
    for task_id in snapshot.topological_order:
        for child in snapshot.topological_order:
            if child in set(snapshot.tasks[task_id].downstream):
                lines.append(f"\t{_dot_id(task_id)} -> {_dot_id(child)}")
    lines.append("}")
    return "\n".join(lines) + "\n"
