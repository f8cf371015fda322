"""Setup and teardown tasks (Airflow 2.7+): marking, the ``@setup``/``@teardown`` decorators,
the context-manager form and the DAG-level checks.

A *setup* creates a resource the work needs (a cluster, a temp table); its *teardown*
removes it. What this module decides at definition time:

- ``task.as_setup()`` marks a setup; ``task.as_teardown(setups=..., on_failure_fail_dagrun=False)``
  marks a teardown, gives it the trigger rule ``all_done_setup_success`` (it runs once its
  upstream is done, even after a failure, as long as one of its setups succeeded) and wires
  ``setup >> teardown`` for each given setup.
- ``with teardown_or_setup:`` makes every work task created inside the block run after the
  scope's setups and before its teardowns (the block's roots and leaves are wired, as for a
  task group). Scopes nest: an inner scope's setups run after the outer ones and its
  teardowns before the outer teardowns.
- :func:`validate_setup_teardown` (called by ``DAG.validate``) refuses a work task directly
  downstream of a setup with a trigger rule other than ``all_success``: clearing or
  re-running a setup must gate the work the same way every time (Airflow's rule).

What the scheduler does with the flags (run outcome, clearing) lives in
:mod:`tradewind.schedule.setup_teardown`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

from tradewind.definition.exceptions import DagDefinitionError
from tradewind.states import TriggerRule

__all__ = ["SetupTeardownError", "setup", "teardown", "mark_setup", "mark_teardown", "validate_setup_teardown"]


class SetupTeardownError(DagDefinitionError, ValueError):
    """A setup/teardown task is used in a way that has no meaning (the message names the task)."""


def _operator_of(node: Any, what: str) -> Any:
    """The operator behind ``node`` (a task or the ``XComArg`` a TaskFlow call returned)."""
    operator = getattr(node, "operator", node)
    if not (hasattr(operator, "task_id") and hasattr(operator, "upstream_task_ids")):
        raise SetupTeardownError(f"{what} must be a task or the result of a @task call, got {node!r}")
    return operator


def mark_setup(task: Any) -> Any:
    """Make ``task`` a setup task; returns it so ``a.as_setup() >> b`` chains."""
    if task.is_teardown:
        raise SetupTeardownError(f"task {task.task_id!r} is a teardown task and cannot also be a setup task")
    task.is_setup = True
    return task


def mark_teardown(task: Any, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None) -> Any:
    """Make ``task`` a teardown of ``setups`` (a task, an XComArg or a list of them); returns it.

    The setups are marked as setups and wired upstream of the teardown. ``on_failure_fail_dagrun``
    (default False) lets the teardown's failure fail the DAG run.
    """
    where = f"as_teardown() of task {task.task_id!r}"
    if task.is_setup:
        raise SetupTeardownError(f"task {task.task_id!r} is a setup task and cannot also be a teardown task")
    if on_failure_fail_dagrun is not None and not isinstance(on_failure_fail_dagrun, bool):
        raise SetupTeardownError(f"{where}: on_failure_fail_dagrun must be True or False, got {on_failure_fail_dagrun!r}")
    if setups is None:
        given: list[Any] = []
    elif isinstance(setups, (list, tuple, set, frozenset)):
        given = list(setups)
    else:
        given = [setups]
    operators = [_operator_of(s, f"{where}: setups") for s in given]
    for setup_task in operators:
        if setup_task is task:
            raise SetupTeardownError(f"{where}: a task cannot be its own setup")
        if setup_task.is_teardown:
            raise SetupTeardownError(
                f"{where}: setup {setup_task.task_id!r} is a teardown task and cannot also be a setup task")
    task.is_teardown = True
    task.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
    if on_failure_fail_dagrun is not None:
        task.on_failure_fail_dagrun = on_failure_fail_dagrun
    for setup_task in operators:
        mark_setup(setup_task)
        setup_task._add_downstream_edge(task)
    return task


# ------------------------------------------------------------------ context manager form
class _Scope:
    """One open ``with setup_or_teardown:`` block: its setups, teardowns and the work tasks made inside."""

    def __init__(self, anchor: Any, setups: list[Any], teardowns: list[Any]) -> None:
        self.anchor = anchor
        self.setups = setups
        self.teardowns = teardowns
        self.members: list[Any] = []


_scopes: list[_Scope] = []


def enter_scope(task: Any) -> None:
    """``with task:`` for a setup or teardown task: open a scope (see the module docstring).

    A teardown's scope covers it and its direct upstream setups; a setup's scope covers it
    and its direct downstream teardowns.
    """
    if task.is_teardown:
        setups = [t for t in task.upstream_list if t.is_setup]
        scope = _Scope(task, setups, [task])
    elif task.is_setup:
        teardowns = [t for t in task.downstream_list if t.is_teardown]
        scope = _Scope(task, [task], teardowns)
    else:
        raise SetupTeardownError(
            f"task {task.task_id!r} is neither a setup nor a teardown task; only those can be used as "
            "context managers (mark it with .as_setup() or .as_teardown())")
    _scopes.append(scope)


def exit_scope(task: Any) -> None:
    """Close the innermost scope: wire its work tasks between its setups and teardowns."""
    if not _scopes or _scopes[-1].anchor is not task:
        raise SetupTeardownError(f"the setup/teardown block of task {task.task_id!r} was not the innermost one open")
    scope = _scopes.pop()
    work = [t for t in scope.members if not (t.is_setup or t.is_teardown)]
    ids = {t.task_id for t in work}
    for root in (t for t in work if not (t.upstream_task_ids & ids)):
        for setup_task in scope.setups:
            setup_task._add_downstream_edge(root)
    for leaf in (t for t in work if not (t.downstream_task_ids & ids)):
        for teardown_task in scope.teardowns:
            leaf._add_downstream_edge(teardown_task)
    if _scopes:
        outer = _scopes[-1]
        for outer_setup in outer.setups:
            for inner_setup in scope.setups:
                if outer_setup is not inner_setup:
                    outer_setup._add_downstream_edge(inner_setup)
        for inner_teardown in scope.teardowns:
            for outer_teardown in outer.teardowns:
                if inner_teardown is not outer_teardown:
                    inner_teardown._add_downstream_edge(outer_teardown)


def note_new_task(task: Any) -> None:
    """Called by ``DAG.add_task``: a task made inside open setup/teardown blocks belongs to the innermost."""
    if _scopes:
        _scopes[-1].members.append(task)


# ------------------------------------------------------------------ decorators
class _RoleDecorator:
    """A ``@task``-decorated function whose calls create setup (or teardown) tasks."""

    def __init__(self, inner: Any, role: str, on_failure_fail_dagrun: bool = False) -> None:
        self.inner = inner
        self.role = role
        self.on_failure_fail_dagrun = on_failure_fail_dagrun
        functools.update_wrapper(self, inner.function)

    def __repr__(self) -> str:
        return f"<{self.role} {self.inner!r}>"

    @property
    def function(self) -> Callable[..., Any]:
        return self.inner.function

    def override(self, **kwargs: Any) -> "_RoleDecorator":
        return _RoleDecorator(self.inner.override(**kwargs), self.role, self.on_failure_fail_dagrun)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.inner(*args, **kwargs)
        operator = result.operator
        if self.role == "setup":
            mark_setup(operator)
        else:
            mark_teardown(operator, on_failure_fail_dagrun=self.on_failure_fail_dagrun)
        return result


def _as_task_decorator(func: Any, role: str) -> Any:
    from tradewind.definition.decorators import task

    if isinstance(func, _RoleDecorator):
        if func.role != role:
            raise SetupTeardownError(f"{func.function.__name__!r} cannot be both a setup and a teardown task")
        return func.inner
    if isinstance(func, types.FunctionType):
        return task(func)
    if callable(getattr(func, "override", None)) and hasattr(func, "function"):
        return func  # already a @task / @task.bash / ... decorated function
    raise SetupTeardownError(f"@{role} decorates a function or a @task-decorated function, got {func!r}")


def setup(func: Any) -> Any:
    """``@setup``: calling the function creates a setup task (as ``@task`` would, then ``as_setup``)."""
    return _RoleDecorator(_as_task_decorator(func, "setup"), "setup")


def teardown(func: Any = None, *, on_failure_fail_dagrun: bool = False) -> Any:
    """``@teardown`` / ``@teardown(on_failure_fail_dagrun=True)``: calls create teardown tasks.

    Wire their setups with ``td(...).as_teardown(setups=s)`` or ``s >> td(...)``.
    """
    if not isinstance(on_failure_fail_dagrun, bool):
        raise SetupTeardownError(f"@teardown: on_failure_fail_dagrun must be True or False, got {on_failure_fail_dagrun!r}")

    def wrap(fn: Any) -> _RoleDecorator:
        return _RoleDecorator(_as_task_decorator(fn, "teardown"), "teardown", on_failure_fail_dagrun)

    return wrap if func is None else wrap(func)


# ------------------------------------------------------------------ DAG checks
def validate_setup_teardown(dag: Any) -> None:
    """Raise :class:`SetupTeardownError` for setup/teardown wiring that Airflow refuses."""
    for task in dag.tasks:
        if not task.is_setup:
            continue
        for down in task.downstream_list:
            if not down.is_teardown and TriggerRule.parse(down.trigger_rule) != TriggerRule.ALL_SUCCESS:
                raise SetupTeardownError(
                    f"DAG {dag.dag_id!r}: task {down.task_id!r} directly follows setup task {task.task_id!r} "
                    f"with trigger rule {TriggerRule.parse(down.trigger_rule).value}; work tasks right after a "
                    "setup must use all_success")
