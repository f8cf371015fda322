"""Airflow's decorator base (``airflow.sdk.bases.decorator``, Airflow 2's ``airflow.decorators.base``),
on Tradewind's ``@task`` machinery, for the ``@task.<name>`` decorators of provider packages.

A provider's decorator module defines ``class _XDecoratedOperator(DecoratedOperator, XOperator)`` and
``def x_task(python_callable=None, **kwargs): return task_decorator_factory(python_callable=...,
decorated_operator_class=_XDecoratedOperator, **kwargs)``; its ``get_provider_info()["task-decorators"]``
names it (``{"name": "x", "class-name": "airflow.providers....x_task"}``), which is how ``task.x`` finds
it (:func:`find_provider_decorator`). What the function returns is Tradewind's decorated function
(``tradewind.definition.decorators``): calling it in a DAG makes the task (ids ``name``, ``name__1``...),
with ``.override``, ``.partial``/``.expand``, XComArg arguments wired upstream, as ``@task`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.decorators import _decorator_for
from tradewind.definition.decorators import _TaskDecorator as TaskDecorator
from tradewind.definition.helpers import DagContext, TaskGroupContext, next_free_id

__all__ = ["SET_DURING_EXECUTION", "DecoratedOperator", "TaskDecorator", "context_merge", "find_provider_decorator",
           "get_unique_task_id", "task_decorator_factory"]


class _SetDuringExecution(str):
    """Airflow's ``SET_DURING_EXECUTION``: the placeholder a decorated operator passes for the argument its
    function's result fills in when the task runs (``sql=``, ``bash_command=``). A non-empty string, so
    the operator's own argument checks accept it; shown as Airflow shows it."""

    def __repr__(self) -> str:
        return "SET_DURING_EXECUTION"


SET_DURING_EXECUTION = _SetDuringExecution("DYNAMIC (set during execution)")


def context_merge(context: Any, *args: Any, **kwargs: Any) -> None:
    """Add entries to a task's context in place (Airflow's ``context_merge``: ``dict.update``'s arguments)."""
    context.update(*args, **kwargs)


class DecoratedOperator(BaseOperator):
    """Base of a decorated function's operator: keeps ``python_callable``, ``op_args`` and ``op_kwargs``
    (templated, XComArgs resolved when the task runs) and hands ``kwargs_to_upstream`` (e.g. the callable
    for a ``PythonOperator`` second base) and the other arguments to the next class in the MRO."""

    template_fields: tuple[str, ...] = ("op_args", "op_kwargs")
    template_fields_renderers: dict[str, str] = {"op_args": "py", "op_kwargs": "py"}
    shallow_copy_attrs: tuple[str, ...] = ("python_callable",)
    custom_operator_name = "@task"

    def __init__(self, *, python_callable: Callable[..., Any], task_id: str,
                 op_args: Collection[Any] | None = None, op_kwargs: Mapping[str, Any] | None = None,
                 kwargs_to_upstream: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not callable(python_callable):
            raise TypeError(f"task {task_id!r}: python_callable must be callable, got {python_callable!r}")
        # Set before the other bases run: some read them in their own __init__.
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        super().__init__(task_id=task_id, **dict(kwargs_to_upstream or {}), **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})

    def get_python_source(self) -> str:
        """The decorated function's source, dedented, from its ``def`` line (its decorators left out), as
        Airflow's ``DecoratedOperator.get_python_source`` (``@task.stub`` checks the body with it)."""
        import ast
        import inspect
        import textwrap

        try:
            source = textwrap.dedent(inspect.getsource(self.python_callable))
        except (OSError, TypeError) as exc:
            raise TypeError(f"task {self.task_id!r}: the source of {self.python_callable!r} is not available: "
                            f"{exc}") from None
        tree = ast.parse(source)
        first = tree.body[0] if tree.body else None
        if isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return "\n".join(source.splitlines()[first.lineno - 1:]) + "\n"
        return source


def get_unique_task_id(task_id: str, dag: Any = None, task_group: Any = None) -> str:
    """``task_id``, or ``task_id__1``, ``task_id__2``... when the DAG already has it (Airflow's rule)."""
    dag = dag or DagContext.get_current_dag()
    if dag is None:
        return task_id
    group = task_group or TaskGroupContext.get_current(dag)
    return next_free_id(task_id, lambda full: full in dag.task_dict or full in dag.task_group_dict,
                        group.child_id)


def task_decorator_factory(python_callable: Callable[..., Any] | None = None, *,
                           multiple_outputs: bool | None = None, decorated_operator_class: type,
                           **kwargs: Any) -> Any:
    """``@x`` / ``@x(...)`` for ``decorated_operator_class`` (Airflow's factory of ``@task.<name>``)."""
    if not (isinstance(decorated_operator_class, type) and issubclass(decorated_operator_class, BaseOperator)):
        raise TypeError(f"task_decorator_factory(decorated_operator_class=...) needs an operator class, "
                        f"got {decorated_operator_class!r}")
    return _decorator_for(decorated_operator_class)(python_callable, multiple_outputs=multiple_outputs, **kwargs)


# ------------------------------------------------------------------------ provider task-decorators
_PROVIDER_DECORATORS: dict[str, tuple[str, str]] | None = None


def _installed_provider_decorators() -> dict[str, tuple[str, str]]:
    """``name -> (class-name, distribution)`` from every installed provider's ``get_provider_info()``.

    Read once per process, on the first ``task.<name>`` Tradewind lacks. ``get_provider_info`` modules
    are plain data (no Airflow import), found through the distributions' entry point
    ``apache_airflow_provider``.
    """
    global _PROVIDER_DECORATORS
    if _PROVIDER_DECORATORS is not None:
        return _PROVIDER_DECORATORS
    import importlib.metadata

    found: dict[str, tuple[str, str]] = {}
    for entry in importlib.metadata.entry_points(group="apache_airflow_provider"):
        try:
            info = _provider_info(entry)
        except Exception:  # noqa: BLE001 - a broken provider must not break every other task.<name>
            continue
        distribution = entry.dist.name if entry.dist is not None else str(info.get("package-name", "?"))
        for item in info.get("task-decorators") or []:
            if isinstance(item, dict) and item.get("name") and item.get("class-name"):
                found.setdefault(str(item["name"]), (str(item["class-name"]), distribution))
    _PROVIDER_DECORATORS = found
    return found


def _provider_info(entry: Any) -> dict[str, Any]:
    """``get_provider_info()`` of one entry point, its module loaded from its file by path: importing
    it by name would import ``airflow`` (the real one, when Apache Airflow is installed and
    Tradewind's import shim is not, e.g. in a plain ``python`` process)."""
    import importlib.util

    module_name, _, function = entry.value.partition(":")
    path = entry.dist.locate_file(module_name.replace(".", "/") + ".py") if entry.dist is not None else None
    if path is None or not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"_tradewind_provider_info_{abs(hash(str(path)))}", path)
    if spec is None or spec.loader is None:
        return {}
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function or "get_provider_info")()


#: Airflow's decorators that Tradewind lacks, and the distribution that has them, for the error.
_KNOWN_PROVIDER_DECORATORS = {
    "sql": "apache-airflow-providers-common-sql", "analytics": "apache-airflow-providers-common-sql",
    "kubernetes": "apache-airflow-providers-cncf-kubernetes",
    "kubernetes_cmd": "apache-airflow-providers-cncf-kubernetes",
    "stub": "apache-airflow-providers-standard",
    "pyspark": "apache-airflow-providers-apache-spark", "snowpark": "apache-airflow-providers-snowflake",
    "ssh": "apache-airflow-providers-ssh", "llm": "apache-airflow-providers-common-ai",
}


def find_provider_decorator(name: str) -> Any:
    """The ``task.<name>`` decorator an installed provider declares; ``AttributeError`` naming the
    decorator (and the distribution to install, when known) otherwise."""
    found = _installed_provider_decorators().get(name)
    if found is None:
        hint = _KNOWN_PROVIDER_DECORATORS.get(name)
        where = f"; install {hint}, which provides it" if hint else ""
        raise AttributeError(f"'task' has no decorator {name!r}: Tradewind has none of that name and no installed "
                             f"provider declares it in its task-decorators{where}")
    classpath, distribution = found
    import importlib

    module, _, attribute = classpath.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise AttributeError(f"task.{name}: the decorator {classpath} of {distribution} could not be loaded: "
                             f"{type(exc).__name__}: {exc}") from exc
