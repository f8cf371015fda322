"""Task groups: ``TaskGroup`` (context manager) and the ``@task_group`` decorator.

A group prefixes the ids of the tasks created inside it (``group.task``) unless
``prefix_group_id=False``, contributes its ``default_args`` to them, and can be
wired as one node: ``a >> group >> b`` links ``a`` to the group's roots and the
group's leaves to ``b``. Every DAG has a root group (``dag.task_group``, id None).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from tradewind.definition.exceptions import DagDefinitionError, DuplicateTaskIdError
from tradewind.definition.helpers import (
    DagContext,
    DependencyMixin,
    TaskGroupContext,
    next_free_id,
    validate_key,
)


class TaskGroup(DependencyMixin):
    """A named group of tasks (and nested groups) inside one DAG."""

    def __init__(
        self,
        group_id: str,
        prefix_group_id: bool = True,
        parent_group: "TaskGroup | None" = None,
        dag: Any = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
    ) -> None:
        dag = dag or (parent_group.dag if parent_group is not None else None) or DagContext.get_current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"TaskGroup {group_id!r} must be created inside a DAG (use `with DAG(...)` or pass dag=)"
            )
        parent_group = parent_group or TaskGroupContext.get_current(dag)
        validate_key(group_id, "group_id", where=f"in DAG {dag.dag_id!r}", allow_dots=False)
        self.dag = dag
        self.parent_group = parent_group
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.children: dict[str, Any] = {}
        self._group_id = group_id
        if add_suffix_on_collision:
            self._group_id = next_free_id(group_id, self._id_taken, self._full_id_for)
        if self._id_taken(self.group_id):
            raise DuplicateTaskIdError(
                f"group_id {self.group_id!r} has already been added to the DAG {dag.dag_id!r}"
            )
        self.default_args = {**parent_group.default_args, **(default_args or {})}
        parent_group.add(self)
        dag.task_group_dict[self.group_id] = self

    @classmethod
    def create_root(cls, dag: Any) -> "TaskGroup":
        """The id-less group every DAG has; top-level tasks belong to it."""
        root = cls.__new__(cls)
        root.dag = dag
        root.parent_group = None
        root.prefix_group_id = True
        root.tooltip = ""
        root.ui_color = "CornflowerBlue"
        root.ui_fgcolor = "#000"
        root.children = {}
        root._group_id = None
        root.default_args = {}
        return root

    def __repr__(self) -> str:
        return f"<TaskGroup: {self.group_id}>"

    # -- ids -----------------------------------------------------------------------------
    @property
    def group_id(self) -> str | None:
        """The full id: the parent's id + "." + own label when the parent prefixes."""
        return self._full_id_for(self._group_id) if self._group_id is not None else None

    def _full_id_for(self, label: str) -> str:
        parent = self.parent_group
        if parent is not None and parent.prefix_group_id and parent.group_id:
            return f"{parent.group_id}.{label}"
        return label

    def _id_taken(self, full_id: str) -> bool:
        return full_id in self.dag.task_group_dict or full_id in self.dag.task_dict

    @property
    def label(self) -> str | None:
        return self._group_id

    @property
    def node_id(self) -> str | None:
        return self.group_id

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    def child_id(self, label: str) -> str:
        """The full id a child called ``label`` gets in this group."""
        if self.prefix_group_id and self.group_id:
            return f"{self.group_id}.{label}"
        return label

    # -- membership ----------------------------------------------------------------------
    def add(self, node: Any) -> None:
        """Register a task or a nested group as a child."""
        key = node.node_id
        if key in self.children:
            what = "group_id" if isinstance(node, TaskGroup) else "task_id"
            raise DuplicateTaskIdError(f"{what} {key!r} has already been added to the DAG {self.dag.dag_id!r}")
        self.children[key] = node

    def iter_tasks(self) -> Iterator[Any]:
        """Every task in this group and its nested groups (depth first, in creation order)."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child.iter_tasks()
            else:
                yield child

    def get_task_ids(self) -> set[str]:
        return {t.task_id for t in self.iter_tasks()}

    @property
    def roots(self) -> list[Any]:
        """Tasks of the group with no upstream inside the group."""
        ids = self.get_task_ids()
        return [t for t in self.iter_tasks() if not (t.upstream_task_ids & ids)]

    @property
    def leaves(self) -> list[Any]:
        """Tasks of the group with no downstream inside the group.

        Teardowns are passed over (Airflow): ``group >> next`` makes ``next`` wait for the
        group's work, not for its cleanup; the work before a teardown stands in for it.
        """
        work = [t for t in self.iter_tasks() if not getattr(t, "is_teardown", False)]
        work_ids = {t.task_id for t in work}
        leaves = [t for t in work if not (t.downstream_task_ids & work_ids)]
        if leaves:
            return leaves
        ids = self.get_task_ids()
        return [t for t in self.iter_tasks() if not (t.downstream_task_ids & ids)]

    def structure(self) -> dict[str, Any]:
        """Nested ``{"group_id", "tooltip", "children": [task_id | {...}]}`` for display."""
        children: list[Any] = []
        for child in self.children.values():
            children.append(child.structure() if isinstance(child, TaskGroup) else child.task_id)
        return {"group_id": self.group_id, "tooltip": self.tooltip, "children": children}

    # -- context manager -----------------------------------------------------------------
    def __enter__(self) -> "TaskGroup":
        TaskGroupContext.push(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        TaskGroupContext.pop()


class _TaskGroupFactory:
    """What ``@task_group`` returns: calling it builds a group and runs the function inside."""

    def __init__(self, function: Callable[..., Any], tg_kwargs: dict[str, Any]) -> None:
        self.function = function
        self.tg_kwargs = tg_kwargs
        functools.update_wrapper(self, function)

    def override(self, **kwargs: Any) -> "_TaskGroupFactory":
        return _TaskGroupFactory(self.function, {**self.tg_kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> Any:
        """Fixed arguments of a mapped group: ``group_fn.partial(y=1).expand(x=[...])``."""
        from tradewind.definition.mapped import TaskGroupPartial

        return TaskGroupPartial(self, kwargs)

    def expand(self, **kwargs: Any) -> Any:
        """Map the whole group: every task in it gets one instance per item."""
        return self.partial().expand(**kwargs)

    def expand_kwargs(self, kwargs: Any) -> Any:
        """Map the whole group over a list of dicts of function arguments."""
        return self.partial().expand_kwargs(kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        options = dict(self.tg_kwargs)
        group_id = options.pop("group_id", None) or self.function.__name__
        options.setdefault("tooltip", (self.function.__doc__ or "").strip())
        options.setdefault("add_suffix_on_collision", True)
        group = TaskGroup(group_id, **options)
        with group:
            result = self.function(*args, **kwargs)
        # Returning a task/XComArg makes dependencies bind to it; otherwise to the whole group.
        return group if result is None else result


def task_group(python_callable: Any = None, **tg_kwargs: Any) -> Any:
    """``@task_group`` / ``@task_group(group_id=..., tooltip=..., default_args=...)``."""
    if callable(python_callable):
        return _TaskGroupFactory(python_callable, tg_kwargs)
    if isinstance(python_callable, str):
        tg_kwargs["group_id"] = python_callable

    def decorator(fn: Callable[..., Any]) -> _TaskGroupFactory:
        return _TaskGroupFactory(fn, tg_kwargs)

    return decorator
