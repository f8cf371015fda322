"""A layered (Sugiyama-style) layout of a DAG's graph, left to right, with task groups as boxes.

The browser only draws what this module computes, so the layout is plain Python and unit-tested.

:func:`layered_layout` lays out one flat graph of boxes:

1. **Cycles** (a DAG has none, but lifting edges onto task groups can make one: ``a -> b -> c``
   with ``a`` and ``c`` in the same collapsed group) are broken by reversing DFS back edges for
   the layout only.
2. **Layers by longest path**: a node sits one layer after its furthest predecessor.
3. **Dummy nodes** split edges that span several layers, so long edges take part in crossing
   reduction and bend around the nodes in between.
4. **Order within layers** by barycenter sweeps (down, then up), keeping the ordering with the
   fewest crossings (counted exactly with a Fenwick tree per pair of layers).
5. **Coordinates**: layers are columns; within a column each node is pulled towards the centre
   of its neighbours while keeping its order and a gap, which is an isotonic regression solved
   exactly by pool-adjacent-violators.

:func:`layout_dag` builds the visible graph of a DAG snapshot (collapsed groups become one node;
expanded groups are laid out recursively and become one large box in their parent's layout)
and returns absolute coordinates for nodes, group boxes and edge paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradewind.parse.snapshot import DagSnapshot

#: Task node size: width grows with the label, within these bounds.
NODE_HEIGHT = 42.0
NODE_MIN_WIDTH = 110.0
NODE_MAX_WIDTH = 260.0
CHAR_WIDTH = 7.0
#: Space between layers (plus room for edge labels), between nodes in a layer, inside group boxes.
RANK_GAP = 56.0
NODE_GAP = 18.0
GROUP_PAD = 14.0
GROUP_HEADER = 24.0
LABEL_CHAR_WIDTH = 6.5
SWEEPS = 12


@dataclass
class FlatLayout:
    """The result of :func:`layered_layout`: top-left corners, overall size, and per-edge bend points."""

    positions: dict[str, tuple[float, float]]
    width: float
    height: float
    #: (source, target) -> points (centres of the dummy nodes the edge passes through), left to right.
    bends: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    #: Number of edge crossings of the chosen ordering (0 for a tree drawn well).
    crossings: int = 0


# --------------------------------------------------------------------------- flat layout
def _break_cycles(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Edges to reverse so the graph is acyclic (DFS back edges, visiting nodes in the given order)."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for u, v in edges:
        succ[u].append(v)
    colour: dict[str, int] = dict.fromkeys(nodes, 0)  # 0 new, 1 on the stack, 2 done
    reversed_edges: set[tuple[str, str]] = set()
    for root in nodes:
        if colour[root]:
            continue
        colour[root] = 1
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(succ[root]))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if colour[child] == 1:
                    reversed_edges.add((node, child))
                elif colour[child] == 0:
                    colour[child] = 1
                    stack.append((child, iter(succ[child])))
                    break
            else:
                colour[node] = 2
                stack.pop()
    return reversed_edges


def _longest_path_layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for u, v in edges:
        preds[v].append(u)
        succ[u].append(v)
        indegree[v] += 1
    layer: dict[str, int] = {}
    ready = [n for n in nodes if indegree[n] == 0]
    while ready:
        node = ready.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for child in succ[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return layer


def _count_crossings(upper: list[str], lower: list[str], edges: list[tuple[str, str]]) -> int:
    """Crossings between two adjacent layers: inversions of the lower ends, edges sorted by upper end."""
    if len(edges) < 2:
        return 0
    up_pos = {n: i for i, n in enumerate(upper)}
    low_pos = {n: i for i, n in enumerate(lower)}
    ends = [low_pos[v] for _, v in sorted(edges, key=lambda e: (up_pos[e[0]], low_pos[e[1]]))]
    tree = [0] * (len(lower) + 1)
    crossings = 0
    for seen, end in enumerate(ends):
        # how many earlier edges end strictly after this one = seen - (earlier edges ending at or before it)
        i, at_or_before = end + 1, 0
        while i > 0:
            at_or_before += tree[i]
            i -= i & -i
        crossings += seen - at_or_before
        i = end + 1
        while i <= len(lower):
            tree[i] += 1
            i += i & -i
    return crossings


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """Non-decreasing values closest (weighted least squares) to ``targets``: pool adjacent violators."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for t, w in zip(targets, weights):
        blocks.append([t, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, w2, c2 = blocks.pop()
            mean1, w1, c1 = blocks[-1]
            blocks[-1] = [(mean1 * w1 + mean2 * w2) / (w1 + w2), w1 + w2, c1 + c2]
    out: list[float] = []
    for mean, _, count in blocks:
        out.extend([mean] * int(count))
    return out


def layered_layout(
    sizes: dict[str, tuple[float, float]],
    edges: Sequence[tuple[str, str]],
    *,
    rank_gaps: dict[str, float] | None = None,
    node_gap: float = NODE_GAP,
) -> FlatLayout:
    """Lay out boxes ``{id: (width, height)}`` joined by ``edges`` in layers from left to right.

    ``rank_gaps``: extra horizontal room after a node's layer (for edge labels), by source node.
    Node order in ``sizes`` is the tie-breaker everywhere, so the same input gives the same layout.
    """
    nodes = list(sizes)
    edges = list(dict.fromkeys((u, v) for u, v in edges if u != v and u in sizes and v in sizes))
    flipped = _break_cycles(nodes, edges)
    dag_edges = [(v, u) if (u, v) in flipped else (u, v) for u, v in edges]
    layer = _longest_path_layers(nodes, list(dict.fromkeys(dag_edges)))

    # dummy nodes for long edges: each edge becomes a chain of unit-span segments
    all_layer = dict(layer)
    chains: dict[tuple[str, str], list[str]] = {}
    segments: list[tuple[str, str]] = []
    for (u, v), (a, b) in zip(edges, dag_edges):
        chain = [a]
        for step in range(layer[a] + 1, layer[b]):
            dummy = f"\0{a}\0{b}\0{step}"
            all_layer[dummy] = step
            chain.append(dummy)
        chain.append(b)
        chains[(u, v)] = chain[1:-1] if (u, v) not in flipped else list(reversed(chain[1:-1]))
        segments.extend(zip(chain, chain[1:]))
    segments = list(dict.fromkeys(segments))
    depth = max(all_layer.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for node in nodes:
        layers[layer[node]].append(node)
    for node, at in all_layer.items():
        if node not in sizes:
            layers[at].append(node)
    preds: dict[str, list[str]] = {n: [] for n in all_layer}
    succs: dict[str, list[str]] = {n: [] for n in all_layer}
    for a, b in segments:
        succs[a].append(b)
        preds[b].append(a)

    by_upper_layer: list[list[tuple[str, str]]] = [[] for _ in range(depth)]
    for a, b in segments:
        by_upper_layer[all_layer[a]].append((a, b))

    def total_crossings(order: list[list[str]]) -> int:
        return sum(_count_crossings(order[i], order[i + 1], by_upper_layer[i]) for i in range(depth - 1))

    best = [list(layer_nodes) for layer_nodes in layers]
    best_crossings = total_crossings(best)
    current = [list(layer_nodes) for layer_nodes in layers]
    for sweep in range(SWEEPS):
        if best_crossings == 0:
            break
        downward = sweep % 2 == 0
        indices = range(1, depth) if downward else range(depth - 2, -1, -1)
        for i in indices:
            ref = current[i - 1] if downward else current[i + 1]
            ref_pos = {n: k for k, n in enumerate(ref)}
            keyed = []
            for k, node in enumerate(current[i]):
                neighbours = preds[node] if downward else succs[node]
                positions = [ref_pos[n] for n in neighbours if n in ref_pos]
                centre = sum(positions) / len(positions) if positions else float(k)
                keyed.append((centre, k, node))
            current[i] = [node for _, _, node in sorted(keyed)]
        crossings = total_crossings(current)
        if crossings < best_crossings:
            best, best_crossings = [list(x) for x in current], crossings

    def size(node: str) -> tuple[float, float]:
        return sizes.get(node, (0.0, 0.0))

    # x: one column per layer, nodes centred in their column
    xs: dict[str, float] = {}
    column_x = 0.0
    gaps = rank_gaps or {}
    for layer_nodes in best:
        width = max((size(n)[0] for n in layer_nodes), default=0.0)
        for node in layer_nodes:
            xs[node] = column_x + (width - size(node)[0]) / 2
        extra = max((gaps.get(n, 0.0) for n in layer_nodes), default=0.0)
        column_x += width + RANK_GAP + extra
    total_width = max(column_x - RANK_GAP, 0.0) if best else 0.0
    if best:
        last_extra = max((gaps.get(n, 0.0) for n in best[-1]), default=0.0)
        total_width -= last_extra

    # y: stacked, then pulled towards neighbours' centres (keeping order and gaps)
    ys: dict[str, float] = {}
    for layer_nodes in best:
        top = 0.0
        for node in layer_nodes:
            ys[node] = top
            top += size(node)[1] + (node_gap if node in sizes else node_gap / 2)
    centre = lambda n: ys[n] + size(n)[1] / 2  # noqa: E731 - a tiny local helper
    for sweep in range(4):
        downward = sweep % 2 == 0
        order = range(1, depth) if downward else range(depth - 2, -1, -1)
        for i in order:
            layer_nodes = best[i]
            targets, weights, offsets = [], [], []
            offset = 0.0
            for node in layer_nodes:
                neighbours = preds[node] if downward else succs[node]
                wanted = (sum(centre(n) for n in neighbours) / len(neighbours) if neighbours else centre(node))
                offsets.append(offset)
                targets.append(wanted - size(node)[1] / 2 - offset)
                weights.append(1.0 if neighbours else 0.25)
                offset += size(node)[1] + (node_gap if node in sizes else node_gap / 2)
            for node, value, off in zip(layer_nodes, _isotonic(targets, weights), offsets):
                ys[node] = value + off
    lowest = min(ys.values(), default=0.0)
    for node in ys:
        ys[node] -= lowest
    total_height = max((ys[n] + size(n)[1] for n in ys), default=0.0)

    positions = {n: (xs[n], ys[n]) for n in nodes}
    bends = {e: [(xs[d], ys[d]) for d in chain] for e, chain in chains.items() if chain}
    return FlatLayout(positions, total_width, total_height, bends, best_crossings)


# --------------------------------------------------------------------------- the DAG graph
@dataclass
class _Group:
    group_id: str | None
    tooltip: str
    tasks: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    parent: str | None = None


def _groups(snapshot: DagSnapshot) -> dict[str | None, _Group]:
    """The task-group tree by group id (None is the root); tasks missing from the tree go to the root."""
    tree: dict[str | None, _Group] = {}

    def visit(node: dict[str, Any], parent: str | None) -> None:
        gid = node.get("group_id")
        group = _Group(gid, str(node.get("tooltip") or ""), parent=parent)
        tree[gid] = group
        for child in node.get("children") or []:
            if isinstance(child, dict):
                visit(child, gid)
                group.groups.append(child.get("group_id"))
            elif child in snapshot.tasks:
                group.tasks.append(child)

    visit(snapshot.task_group or {"group_id": None, "children": []}, None)
    tree.setdefault(None, _Group(None, ""))
    placed = {t for g in tree.values() for t in g.tasks}
    tree[None].tasks.extend(t for t in snapshot.tasks if t not in placed)
    return tree


def _short(name: str, group_id: str | None) -> str:
    """A task's or group's label inside its group: the id without the group's prefix."""
    if group_id and name.startswith(group_id + "."):
        return name[len(group_id) + 1:]
    return name


def _task_width(label: str, subtitle: str = "") -> float:
    """Room for the label (bold) and the smaller subtitle (operator) after the state mark."""
    return min(NODE_MAX_WIDTH, max(NODE_MIN_WIDTH, len(label) * CHAR_WIDTH + 34, len(subtitle) * 6.3 + 34))


def layout_dag(snapshot: DagSnapshot, expanded: Iterable[str] = ()) -> dict[str, Any]:
    """The graph view of a DAG: nodes, group boxes and edges with absolute coordinates.

    ``expanded``: ids of the task groups shown open (a group inside a collapsed group stays
    hidden). Every other group is one node. Unknown group ids are ignored.
    """
    tree = _groups(snapshot)
    open_groups = {g for g in expanded if g in tree and g is not None}
    task_group_of = {t: gid for gid, g in tree.items() for t in g.tasks}

    def chain_of(task_id: str) -> list[str | None]:
        """The groups containing a task, outermost first (root included)."""
        chain: list[str | None] = []
        gid: str | None = task_group_of[task_id]
        while gid is not None:
            chain.append(gid)
            gid = tree[gid].parent
        chain.append(None)
        return list(reversed(chain))

    chains = {t: chain_of(t) for t in snapshot.tasks}

    def visible(task_id: str) -> str:
        for gid in chains[task_id][1:]:
            if gid not in open_groups:
                return gid  # type: ignore[return-value]
        return task_id

    def is_visible_group(gid: str | None) -> bool:
        while gid is not None:
            parent = tree[gid].parent
            if parent is not None and parent not in open_groups:
                return False
            gid = parent
        return True

    # visible edges between visible items, with labels and setup/teardown marks
    vis_edges: dict[tuple[str, str], dict[str, Any]] = {}
    for tid in snapshot.topological_order:
        for down in snapshot.tasks[tid].downstream:
            a, b = visible(tid), visible(down)
            if a == b:
                continue
            info = vis_edges.setdefault((a, b), {"label": None, "setup_teardown": False})
            if a == tid and b == down:
                label = (snapshot.edge_info.get(tid, {}).get(down) or {}).get("label")
                if label:
                    info["label"] = str(label)
                up_task, down_task = snapshot.tasks[tid], snapshot.tasks[down]
                info["setup_teardown"] = bool(up_task.is_setup and down_task.is_teardown)

    def container_of(item: str) -> str | None:
        if item in snapshot.tasks:
            return task_group_of[item]
        return tree[item].parent

    def ancestors(item: str) -> list[str]:
        """item, then each expanded group containing it, innermost first."""
        out = [item]
        gid = container_of(item)
        while gid is not None:
            out.append(gid)
            gid = tree[gid].parent
        return out

    nodes_out: list[dict[str, Any]] = []
    boxes_out: list[dict[str, Any]] = []
    level_layouts: dict[str | None, tuple[FlatLayout, tuple[float, float]]] = {}
    box_sizes: dict[str, tuple[float, float]] = {}

    def lay(container: str | None) -> tuple[float, float]:
        """Lay out a container's direct members; returns its inner size (recursing into open groups)."""
        group = tree[container]
        members: list[str] = []
        sizes: dict[str, tuple[float, float]] = {}
        for tid in [t for t in snapshot.topological_order if t in group.tasks]:
            members.append(tid)
            sizes[tid] = (_task_width(_label(tid), snapshot.tasks[tid].operator), NODE_HEIGHT)
        for gid in group.groups:
            members.append(gid)
            if gid in open_groups:
                w, h = lay(gid)
                box_sizes[gid] = (w + 2 * GROUP_PAD, h + GROUP_HEADER + GROUP_PAD)
                sizes[gid] = box_sizes[gid]
            else:
                sizes[gid] = (_task_width(_short(gid, container) + "  +00"), NODE_HEIGHT + 4)
        member_set = set(members)
        level_edges: list[tuple[str, str]] = []
        gaps: dict[str, float] = {}
        for (a, b), info in vis_edges.items():
            lift_a = next((x for x in ancestors(a) if x in member_set), None)
            lift_b = next((x for x in ancestors(b) if x in member_set), None)
            if lift_a is None or lift_b is None or lift_a == lift_b:
                continue
            level_edges.append((lift_a, lift_b))
            if info["label"]:
                room = min(len(info["label"]), 24) * LABEL_CHAR_WIDTH + 12
                gaps[lift_a] = max(gaps.get(lift_a, 0.0), room)
        flat = layered_layout(sizes, level_edges, rank_gaps=gaps)
        level_layouts[container] = (flat, (0.0, 0.0))
        return flat.width, flat.height

    def _label(tid: str) -> str:
        task = snapshot.tasks[tid]
        return _short(task.task_display_name or tid, task_group_of[tid])

    width, height = lay(None)
    origin: dict[str | None, tuple[float, float]] = {None: (0.0, 0.0)}
    absolute: dict[str, tuple[float, float, float, float]] = {}

    def place(container: str | None) -> None:
        flat, _ = level_layouts[container]
        ox, oy = origin[container]
        group = tree[container]
        for tid in group.tasks:
            x, y = flat.positions[tid]
            absolute[tid] = (ox + x, oy + y, _task_width(_label(tid), snapshot.tasks[tid].operator), NODE_HEIGHT)
        for gid in group.groups:
            x, y = flat.positions[gid]
            if gid in open_groups:
                w, h = box_sizes[gid]
                absolute[gid] = (ox + x, oy + y, w, h)
                origin[gid] = (ox + x + GROUP_PAD, oy + y + GROUP_HEADER)
                place(gid)
            else:
                absolute[gid] = (ox + x, oy + y, _task_width(_short(gid, container) + "  +00"), NODE_HEIGHT + 4)

    place(None)

    def tasks_under(gid: str) -> list[str]:
        out = list(tree[gid].tasks)
        for child in tree[gid].groups:
            out.extend(tasks_under(child))
        return out

    for tid in snapshot.topological_order:
        if visible(tid) != tid:
            continue
        task = snapshot.tasks[tid]
        x, y, w, h = absolute[tid]
        nodes_out.append({
            "id": tid, "kind": "task", "label": _label(tid), "group": task_group_of[tid],
            "operator": task.operator, "is_setup": task.is_setup, "is_teardown": task.is_teardown,
            "is_mapped": bool(task.extra.get("is_mapped")), "x": x, "y": y, "w": w, "h": h,
        })
    for gid, group in tree.items():
        if gid is None or not is_visible_group(gid):
            continue
        x, y, w, h = absolute[gid]
        entry = {"id": gid, "label": _short(gid, group.parent), "group": group.parent, "tooltip": group.tooltip,
                 "task_count": len(tasks_under(gid)), "x": x, "y": y, "w": w, "h": h}
        if gid in open_groups:
            boxes_out.append({**entry, "kind": "group_box"})
        else:
            nodes_out.append({**entry, "kind": "group"})

    edges_out: list[dict[str, Any]] = []
    for (a, b), info in vis_edges.items():
        ax, ay, aw, ah = absolute[a]
        bx, by, bw, bh = absolute[b]
        points = [(ax + aw, ay + ah / 2)]
        # bend points of the lifted edge at the level where both ends meet
        anc_a, anc_b = ancestors(a), ancestors(b)
        common = next((c for c in (container_of(x) for x in anc_a) if c in {container_of(y) for y in anc_b}), None)
        flat, _ = level_layouts[common]
        ox, oy = origin[common]
        lifted = (next(x for x in anc_a if container_of(x) == common), next(y for y in anc_b if container_of(y) == common))
        points.extend((ox + px, oy + py) for px, py in flat.bends.get(lifted, []))
        points.append((bx, by + bh / 2))
        mid = points[len(points) // 2] if len(points) > 2 else (
            (points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2)
        edges_out.append({"source": a, "target": b, "points": [[round(px, 1), round(py, 1)] for px, py in points],
                          "label": info["label"], "label_at": [round(mid[0], 1), round(mid[1], 1)],
                          "setup_teardown": info["setup_teardown"]})
    for item in nodes_out + boxes_out:
        for key in ("x", "y", "w", "h"):
            item[key] = round(item[key], 1)
    return {"nodes": nodes_out, "groups": boxes_out, "edges": edges_out,
            "width": round(width, 1), "height": round(height, 1),
            "crossings": sum(flat.crossings for flat, _ in level_layouts.values())}
