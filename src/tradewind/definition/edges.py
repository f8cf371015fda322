"""Edge modifiers: ``Label`` puts text on the edges it sits on (Airflow's ``Label``).

``a >> Label("ok") >> b`` wires ``a >> b`` and records ``{"label": "ok"}`` for that edge
on the DAG (``dag.get_edge_info("a", "b")``); lists work on either side
(``a >> Label("x") >> [b, c]``, ``[a, b] >> Label("y") >> c``) and so does ``<<``.

How it plugs into ``>>``: a label is a dependency node that is its own root and
leaf. When a task is wired to it, :meth:`BaseOperator._add_downstream_edge`
hands the task to :meth:`EdgeModifier.add_upstream_task`; when the label is wired
to a task its own :meth:`_add_downstream_edge` runs. Each side links every task
already seen on the other side, so the order of the two ``>>`` does not matter.
"""

from __future__ import annotations

from typing import Any

from tradewind.definition.exceptions import DagDefinitionError
from tradewind.definition.helpers import DependencyMixin

__all__ = ["EdgeModifier", "Label", "record_edge_info"]


def record_edge_info(up: Any, down: Any, info: dict[str, Any]) -> None:
    """Store ``info`` for the edge ``up -> down`` on their DAG (or on ``up`` until it joins one)."""
    dag = up.dag if up.dag is not None else down.dag
    if dag is not None:
        dag.set_edge_info(up.task_id, down.task_id, info)
        return
    # Neither task has a DAG yet: DAG.add_task picks this up when ``up`` joins one.
    pending = up.__dict__.setdefault("_pending_edge_info", {})
    pending[down.task_id] = dict(info)


class EdgeModifier(DependencyMixin):
    """A node between two sets of tasks that adds ``info`` to every edge it creates."""

    is_edge_modifier = True

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = dict(info)
        self._upstream: list[Any] = []
        self._downstream: list[Any] = []

    @property
    def roots(self) -> list[Any]:
        return [self]

    @property
    def leaves(self) -> list[Any]:
        return [self]

    def add_upstream_task(self, task: Any) -> None:
        """``task >> self``: link ``task`` to every downstream task already known."""
        if any(t is task for t in self._upstream):
            return
        self._upstream.append(task)
        for down in self._downstream:
            self._link(task, down)

    def _add_downstream_edge(self, other: Any) -> None:
        """``self >> other``: link every upstream task already known to ``other``."""
        if getattr(other, "is_edge_modifier", False):
            raise DagDefinitionError(
                f"cannot chain two edge modifiers ({self!r} >> {other!r}): put a task between them"
            )
        if any(t is other for t in self._downstream):
            return
        self._downstream.append(other)
        for up in self._upstream:
            self._link(up, other)

    def _link(self, up: Any, down: Any) -> None:
        up._add_downstream_edge(down)
        record_edge_info(up, down, self.info)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info!r}>"


class Label(EdgeModifier):
    """``Label("text")``: the text shown on the edges it sits on in the graph view."""

    def __init__(self, label: str) -> None:
        if not isinstance(label, str):
            raise TypeError(f"Label text must be a string, got {type(label).__name__}: {label!r}")
        super().__init__({"label": label})
        self.label = label

    def __repr__(self) -> str:
        return f"<Label {self.label!r}>"
