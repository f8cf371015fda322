"""TaskFlow: ``@task`` and its variants ``@task.python``, ``@task.bash``, ``@task.branch``,
``@task.short_circuit``, ``@task.sensor``, ``@task.virtualenv``, ``@task.external_python`` (and ``@task.docker`` from the integrations);
any other ``@task.<name>`` comes from an installed provider's ``task-decorators``
(:mod:`tradewind.definition.decorator_base`, Airflow's decorator base).

Calling a decorated function inside a DAG creates an operator and returns an
``XComArg`` for its result. Arguments that are ``XComArg``s (also nested in lists
and dicts) make their producers upstream of the new task and are replaced by the
pulled values when the task runs. Calling the same function twice in one DAG
gives ids ``name``, ``name__1``, ``name__2`` (Airflow's rule).

With ``multiple_outputs`` (explicit, or inferred from a ``dict`` return annotation)
the task runner pushes each key of the returned dict as its own XCom, besides
``return_value``; ``xcom_arg["key"]`` refers to one of them.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tradewind.definition.helpers import DagContext, TaskGroupContext, next_free_id
from tradewind.definition.operators.bash import BashOperator
from tradewind.definition.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
    call_python,
)
from tradewind.definition.operators.python_env import (
    BranchExternalPythonOperator,
    BranchPythonVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)
from tradewind.definition.sensors.base import BaseSensorOperator, PokeReturnValue
from tradewind.definition.xcom_arg import XComArg

__all__ = ["task", "TaskDecoratorCollection"]


class _PythonDecoratedOperator(PythonOperator):
    custom_operator_name = "@task"


class _BranchPythonDecoratedOperator(BranchPythonOperator):
    custom_operator_name = "@task.branch"


class _ShortCircuitDecoratedOperator(ShortCircuitOperator):
    custom_operator_name = "@task.short_circuit"


class _BashDecoratedOperator(BashOperator):
    """``@task.bash``: the function returns the command; it is rendered, then run."""

    custom_operator_name = "@task.bash"
    template_fields = ("op_args", "op_kwargs", "env", "cwd")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bash_command=None, **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})

    def execute(self, context: dict[str, Any]) -> Any:
        merged = {**context, **self.op_kwargs}
        command = call_python(self.python_callable, self.op_args, merged)
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                f"The returned value from the @task.bash callable of task {self.task_id!r} must be a "
                f"non-empty string, got {command!r}"
            )
        self.bash_command = self.render_template(command, context)
        return super().execute(context)


class _VirtualenvDecoratedOperator(PythonVirtualenvOperator):
    """``@task.virtualenv``: the function's source runs in a new virtualenv (arguments/result as JSON)."""

    custom_operator_name = "@task.virtualenv"


class _ExternalPythonDecoratedOperator(ExternalPythonOperator):
    """``@task.external_python(python=...)``: the function's source runs with that interpreter."""

    custom_operator_name = "@task.external_python"


class _BranchVirtualenvDecoratedOperator(BranchPythonVirtualenvOperator):
    """``@task.branch_virtualenv``: ``@task.virtualenv`` whose result names the branches to follow."""

    custom_operator_name = "@task.branch_virtualenv"


class _BranchExternalPythonDecoratedOperator(BranchExternalPythonOperator):
    """``@task.branch_external_python(python=...)``: ``@task.external_python`` choosing branches."""

    custom_operator_name = "@task.branch_external_python"


class _SensorDecoratedOperator(BaseSensorOperator):
    """``@task.sensor``: the function is the poke; it returns a bool or a ``PokeReturnValue``."""

    custom_operator_name = "@task.sensor"
    template_fields = ("op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})

    def poke(self, context: dict[str, Any]) -> PokeReturnValue:
        merged = {**context, **self.op_kwargs}
        result = call_python(self.python_callable, self.op_args, merged)
        return result if isinstance(result, PokeReturnValue) else PokeReturnValue(bool(result))


def _infer_multiple_outputs(function: Callable[..., Any]) -> bool:
    """True when the return annotation is a ``dict`` type (``dict``, ``dict[str, int]``, ``Dict``)."""
    try:
        annotation = typing.get_type_hints(function).get("return")
    except Exception:  # unresolvable forward references: fall back to the raw annotation
        annotation = inspect.signature(function).return_annotation
        if isinstance(annotation, str):
            return annotation.replace("typing.", "").startswith(("dict", "Dict"))
    if annotation is None or annotation is inspect.Signature.empty:
        return False
    return annotation in (dict, typing.Dict) or typing.get_origin(annotation) is dict


class _TaskDecorator:
    """A decorated function; calling it creates a task in the current DAG."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type,
        kwargs: dict[str, Any],
        multiple_outputs: bool | None = None,
    ) -> None:
        if not callable(function):
            raise TypeError(f"@task needs a callable, got {function!r}")
        self.function = function
        self.operator_class = operator_class
        self.kwargs = kwargs
        self._explicit_multiple_outputs = multiple_outputs
        self.multiple_outputs = (
            multiple_outputs if multiple_outputs is not None else _infer_multiple_outputs(function)
        )
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return f"<TaskDecorator {self.operator_class.custom_operator_name} {self.function.__name__}>"

    def override(self, **kwargs: Any) -> "_TaskDecorator":
        """A copy with some operator arguments replaced (``task_id``, ``retries``, ...)."""
        multiple_outputs = kwargs.pop("multiple_outputs", self._explicit_multiple_outputs)
        return _TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs}, multiple_outputs)

    def partial(self, **kwargs: Any) -> Any:
        """Fix some function arguments of a mapped task: ``fn.partial(y=1).expand(x=[...])``."""
        from tradewind.definition.mapped import task_partial

        return task_partial(self, kwargs)

    def expand(self, **kwargs: Any) -> XComArg:
        """One task instance per item (cross product for several arguments), at run time."""
        return self.partial().expand(**kwargs)

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        """One task instance per dict of function arguments in ``kwargs`` (a list or an XComArg)."""
        return self.partial().expand_kwargs(kwargs, strict=strict)

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        try:
            inspect.signature(self.function).bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.function.__name__}() called with bad arguments: {exc}") from None
        options = dict(self.kwargs)
        label = options.pop("task_id", None) or self.function.__name__
        dag = options.get("dag") or DagContext.get_current_dag()
        if dag is not None:
            group = options.get("task_group") or TaskGroupContext.get_current(dag)
            label = next_free_id(
                label,
                lambda full: full in dag.task_dict or full in dag.task_group_dict,
                group.child_id,
            )
        operator = self.operator_class(
            task_id=label,
            python_callable=self.function,
            op_args=list(args),
            op_kwargs=dict(kwargs),
            multiple_outputs=self.multiple_outputs,
            **options,
        )
        return XComArg(operator)


def _decorator_for(operator_class: type) -> Callable[..., Any]:
    def make(python_callable: Callable[..., Any] | None = None, multiple_outputs: bool | None = None,
             **kwargs: Any) -> Any:
        if python_callable is not None:
            return _TaskDecorator(python_callable, operator_class, kwargs, multiple_outputs)

        def decorator(fn: Callable[..., Any]) -> _TaskDecorator:
            return _TaskDecorator(fn, operator_class, kwargs, multiple_outputs)

        return decorator

    return make


def _conditional(condition: Callable[[Any], Any], skip_message: str | None, *, run_when: bool,
                 name: str) -> Callable[[Any], Any]:
    """``@task.run_if`` / ``@task.skip_if`` (Airflow 2.10): check ``condition(context)`` right
    before the task runs, through the task's ``pre_execute`` hook; skip the task when it says so."""
    if not callable(condition):
        raise TypeError(f"task.{name}() needs a callable condition(context), got {condition!r}")

    def decorate(decorated: Any) -> Any:
        if not isinstance(decorated, _TaskDecorator):
            raise TypeError(f"@task.{name}(...) goes above a task decorator (@task, @task.bash, ...), "
                            f"got {decorated!r}")
        previous = decorated.kwargs.get("pre_execute")

        def check(context: Any) -> None:
            if previous is not None:
                previous(context)
            if bool(condition(context)) != run_when:
                from tradewind.definition.exceptions import TaskSkipped

                raise TaskSkipped(skip_message or f"Task skipped: its {name} condition said so")

        return decorated.override(pre_execute=check)

    return decorate


class TaskDecoratorCollection:
    """``task``: usable as ``@task``, ``@task(...)`` and through its variant attributes."""

    python = staticmethod(_decorator_for(_PythonDecoratedOperator))
    bash = staticmethod(_decorator_for(_BashDecoratedOperator))
    branch = staticmethod(_decorator_for(_BranchPythonDecoratedOperator))
    short_circuit = staticmethod(_decorator_for(_ShortCircuitDecoratedOperator))
    sensor = staticmethod(_decorator_for(_SensorDecoratedOperator))
    virtualenv = staticmethod(_decorator_for(_VirtualenvDecoratedOperator))
    external_python = staticmethod(_decorator_for(_ExternalPythonDecoratedOperator))
    branch_virtualenv = staticmethod(_decorator_for(_BranchVirtualenvDecoratedOperator))
    branch_external_python = staticmethod(_decorator_for(_BranchExternalPythonDecoratedOperator))

    def __call__(self, python_callable: Callable[..., Any] | None = None,
                 multiple_outputs: bool | None = None, **kwargs: Any) -> Any:
        return self.python(python_callable, multiple_outputs=multiple_outputs, **kwargs)

    @staticmethod
    def run_if(condition: Callable[[Any], Any], skip_message: str | None = None) -> Callable[[Any], Any]:
        """Run the task only when ``condition(context)`` is true; skip it otherwise (Airflow 2.10)."""
        return _conditional(condition, skip_message, run_when=True, name="run_if")

    @staticmethod
    def skip_if(condition: Callable[[Any], Any], skip_message: str | None = None) -> Callable[[Any], Any]:
        """Skip the task when ``condition(context)`` is true (Airflow 2.10)."""
        return _conditional(condition, skip_message, run_when=False, name="skip_if")

    #: Decorators of optional integrations, ``name -> "module:attribute"``, imported on first use: the
    #: definition layer never imports an integration (nor its third-party library) up front.
    integration_decorators = {"docker": "tradewind.integrations.docker.decorators:docker_task"}

    def __getattr__(self, name: str) -> Any:
        target = type(self).integration_decorators.get(name)
        if target is None:
            if name.startswith("_"):  # copy/pickle/introspection probes: not decorator names
                raise AttributeError(name)
            # Not Tradewind's: an installed provider's get_provider_info()["task-decorators"] entry.
            from tradewind.definition.decorator_base import find_provider_decorator

            return find_provider_decorator(name)
        import importlib

        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


task = TaskDecoratorCollection()
