"""Dependency wiring shared by operators, task groups and XComArgs; ``chain`` and ``cross_downstream``.

Anything that can sit on either side of ``>>``/``<<`` implements
:class:`DependencyMixin`: it names its ``roots`` (the tasks that receive its
upstream edges) and ``leaves`` (the tasks that emit its downstream edges). For a
task both are the task itself; for a task group they are the group's first and
last tasks; for an ``XComArg`` they are the task that produces it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tradewind.definition.exceptions import InvalidIdError

#: Airflow's rule for dag, task and group ids (group ids may not contain dots: they join ids).
#: ``\w`` is Unicode-aware, as in Airflow, so ids such as ``데이터추출`` are valid.
_KEY_RE = re.compile(r"[\w.\-]+")
_GROUP_KEY_RE = re.compile(r"[\w\-]+")
MAX_KEY_LENGTH = 250


def validate_key(key: Any, kind: str, *, where: str = "", allow_dots: bool = True) -> str:
    """Check a dag_id/task_id/group_id; raise :class:`InvalidIdError` saying what is wrong.

    ``kind`` ("dag_id", "task_id", ...) and ``where`` (e.g. "in DAG 'etl'") go in the message.
    """
    suffix = f" {where}" if where else ""
    if not isinstance(key, str):
        raise InvalidIdError(f"{kind} must be a string, got {type(key).__name__}: {key!r}{suffix}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidIdError(
            f"{kind} {key[:40]!r}... is {len(key)} characters long; the maximum is {MAX_KEY_LENGTH}{suffix}"
        )
    pattern = _KEY_RE if allow_dots else _GROUP_KEY_RE
    if not pattern.fullmatch(key):
        allowed = "alphanumeric characters, dashes, dots and underscores" if allow_dots else \
            "alphanumeric characters, dashes and underscores"
        raise InvalidIdError(f"{kind} {key!r} must be made of {allowed} exclusively{suffix}")
    return key


def next_free_id(label: str, taken: Callable[[str], bool], full_id: Callable[[str], str]) -> str:
    """Airflow's de-duplication of repeated TaskFlow ids: ``name``, ``name__1``, ``name__2``...

    ``taken(full)`` says whether a full id is in use; ``full_id(label)`` adds group prefixes.
    Returns the *label* to use.
    """
    if not taken(full_id(label)):
        return label
    core = re.split(r"__\d+$", label)[0]
    n = 1
    while taken(full_id(f"{core}__{n}")):
        n += 1
    return f"{core}__{n}"


class DagContext:
    """The stack of DAGs opened with ``with DAG(...)`` (the innermost is "current").

    ``autoregistered_dags`` collects every DAG used as a context manager (or built by
    a ``@dag`` function) so the parser finds DAGs not bound to a module-level name.
    """

    _stack: list[Any] = []
    autoregistered_dags: list[Any] = []

    @classmethod
    def push(cls, dag: Any) -> None:
        cls._stack.append(dag)

    @classmethod
    def pop(cls) -> Any:
        dag = cls._stack.pop()
        if getattr(dag, "auto_register", True) and not any(d is dag for d in cls.autoregistered_dags):
            cls.autoregistered_dags.append(dag)
        return dag

    @classmethod
    def get_current_dag(cls) -> Any:
        return cls._stack[-1] if cls._stack else None

    @classmethod
    def clear_autoregistered(cls) -> list[Any]:
        """Return and forget the auto-registered DAGs (the parser calls this per file)."""
        dags, cls.autoregistered_dags = cls.autoregistered_dags, []
        return dags


class TaskGroupContext:
    """The stack of task groups opened with ``with TaskGroup(...)``."""

    _stack: list[Any] = []

    @classmethod
    def push(cls, group: Any) -> None:
        cls._stack.append(group)

    @classmethod
    def pop(cls) -> Any:
        return cls._stack.pop()

    @classmethod
    def get_current(cls, dag: Any) -> Any:
        """The innermost open group of ``dag``, else ``dag``'s root group (None without a DAG)."""
        for group in reversed(cls._stack):
            if group.dag is dag:
                return group
        return dag.task_group if dag is not None else None


class DependencyMixin:
    """``>>``, ``<<``, ``set_upstream`` and ``set_downstream`` over ``roots``/``leaves``."""

    @property
    def roots(self) -> list[Any]:
        raise NotImplementedError

    @property
    def leaves(self) -> list[Any]:
        raise NotImplementedError

    def set_upstream(self, other: "DependencyMixin | Sequence[DependencyMixin]") -> None:
        """Make every task of ``other`` (its leaves) run before this node's roots."""
        for node in _as_nodes(other):
            _link_all(node.leaves, self.roots)

    def set_downstream(self, other: "DependencyMixin | Sequence[DependencyMixin]") -> None:
        """Make this node's leaves run before every task of ``other`` (its roots)."""
        for node in _as_nodes(other):
            _link_all(self.leaves, node.roots)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        # `[a, b] >> self`: lists have no `>>`, so Python asks the right operand.
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return self


def _as_nodes(other: Any) -> list[DependencyMixin]:
    if isinstance(other, DependencyMixin):
        return [other]
    if isinstance(other, (list, tuple, set, frozenset)):
        nodes = []
        for item in other:
            if not isinstance(item, DependencyMixin):
                raise TypeError(f"cannot set a dependency on {item!r}: expected a task, task group or XComArg")
            nodes.append(item)
        return nodes
    raise TypeError(f"cannot set a dependency on {other!r}: expected a task, task group, XComArg or a list of them")


def _link_all(upstreams: Iterable[Any], downstreams: Iterable[Any]) -> None:
    downs = list(downstreams)
    for up in upstreams:
        for down in downs:
            up._add_downstream_edge(down)


def chain(*tasks: Any) -> None:
    """Wire ``tasks`` one after the other: ``chain(a, [b, c], [d, e], f)``.

    Two adjacent lists must have the same length and are wired pairwise
    (``b >> d``, ``c >> e``); a single node next to a list is wired to each element.
    """
    for index, (up, down) in enumerate(zip(tasks, tasks[1:])):
        up_is_list = isinstance(up, (list, tuple))
        down_is_list = isinstance(down, (list, tuple))
        if up_is_list and down_is_list:
            if len(up) != len(down):
                raise ValueError(
                    f"chain() got lists of different lengths at positions {index} and {index + 1}: "
                    f"{len(up)} and {len(down)}; adjacent lists must have the same length"
                )
            for u, d in zip(up, down):
                _as_nodes(u)[0].set_downstream(d)
        elif up_is_list:
            for u in up:
                _as_nodes(u)[0].set_downstream(down)
        else:
            _as_nodes(up)[0].set_downstream(down)


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Any) -> None:
    """Make every task of ``from_tasks`` upstream of every task of ``to_tasks``."""
    for task in from_tasks:
        _as_nodes(task)[0].set_downstream(to_tasks)


def chain_linear(*elements: Any) -> None:
    """Wire each element to the next, all to all: ``chain_linear(a, [b, c], [d, e], f)``.

    Unlike :func:`chain`, adjacent lists need not have the same length: every task of one
    element becomes upstream of every task of the next (``a >> [b, c]``, ``b >> [d, e]``,
    ``c >> [d, e]``, ``[d, e] >> f``), as Airflow's ``chain_linear``. Labels are refused, and a
    call that sets no dependency (one element: usually a list passed without ``*``) is an error.
    """
    from tradewind.definition.edges import EdgeModifier  # edges builds on this module

    if not elements:
        raise ValueError("chain_linear() got no tasks; nothing to wire")
    previous: list[Any] | None = None
    wired = False
    for position, element in enumerate(elements):
        group = [element] if isinstance(element, DependencyMixin) else element
        if not isinstance(group, (list, tuple, set, frozenset)):
            raise TypeError(f"chain_linear() argument {position}: expected a task, task group, XComArg or a "
                            f"list of them, got {element!r}")
        if any(isinstance(item, EdgeModifier) for item in group):
            raise ValueError(f"chain_linear() argument {position}: labels (Label) are not supported by chain_linear")
        if previous is not None:
            for upstream in previous:
                _as_nodes(upstream)[0].set_downstream(list(group) if not isinstance(element, DependencyMixin)
                                                      else element)
                wired = True
        previous = list(group)
    if not wired:
        raise ValueError("chain_linear() set no dependencies: pass two or more elements "
                         "(did you forget to expand a list with `*`?)")
