"""Python operators: ``PythonOperator``, ``BranchPythonOperator``, ``ShortCircuitOperator``.

Callables receive ``op_args``/``op_kwargs`` plus the context entries their
signature asks for: a parameter named like a context key (``ti``, ``ds``,
``params``...) gets that value, and a ``**kwargs`` parameter gets the whole context.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tradewind.definition.assets import collect_metadata
from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.context import DEPRECATED_KEYS, note_deprecated_keys
from tradewind.definition.exceptions import TradewindException


def determine_kwargs(
    python_callable: Callable[..., Any], op_args: Sequence[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments ``python_callable`` accepts out of ``kwargs`` (context + op_kwargs).

    All of them when it takes ``**kwargs``; otherwise only the names in its
    signature that ``op_args`` did not already fill positionally.
    """
    signature = inspect.signature(python_callable)
    params = list(signature.parameters.values())
    deprecated = [p.name for p in params if p.name in DEPRECATED_KEYS and p.name in kwargs]
    if deprecated:  # the callable asks for an Airflow 2 context key by name
        note_deprecated_keys(deprecated, kwargs.get("ti"))
    if any(p.kind is p.VAR_KEYWORD for p in params):
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        taken = set(positional[: len(op_args)])
        return {k: v for k, v in kwargs.items() if k not in taken}
    taken_count = len(op_args)
    accepted: dict[str, Any] = {}
    for index, p in enumerate(params):
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
            continue
        if p.kind is p.POSITIONAL_OR_KEYWORD and index < taken_count:
            continue
        if p.name in kwargs:
            accepted[p.name] = kwargs[p.name]
    return accepted


def await_if_needed(result: Any) -> Any:
    """The value of ``result``, awaited first when the callable was ``async def`` (Airflow 3.2
    runs async task callables to completion; the task's value is what the coroutine returns)."""
    if not inspect.isawaitable(result):
        return result

    async def wait() -> Any:
        return await result

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # Called from inside a running event loop (a task run by async code): a loop of its own
    # in a helper thread, as one thread cannot run two loops.
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(wait())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="tradewind-async-task")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def call_python(python_callable: Callable[..., Any], op_args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """``python_callable(*op_args, **<the kwargs it accepts>)``, awaited when it is async."""
    return await_if_needed(python_callable(*op_args, **determine_kwargs(python_callable, op_args, kwargs)))


class PythonOperator(BaseOperator):
    """Calls ``python_callable(*op_args, **op_kwargs, <context entries it accepts>)``."""

    template_fields = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        provide_context: bool | None = None,  # Airflow 1 flag; context is always offered now
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise TradewindException(
                f"python_callable of task {self.task_id!r} must be callable, got {python_callable!r}"
            )
        if provide_context is not None:
            self.deprecation_notes.append(
                "provide_context is deprecated (Airflow 1): the context is always offered to the callable"
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        self.templates_exts = tuple(templates_exts) if templates_exts else None
        if self.templates_exts:
            self.template_ext = self.templates_exts
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: dict[str, Any]) -> Any:
        merged = dict(context)
        merged["templates_dict"] = self.templates_dict
        merged.update(self.op_kwargs)
        result = self.execute_callable(merged)
        log = self.task_logger(context)
        if self.show_return_value_in_logs:
            log.info("Done. Returned value was: %s", result)
        else:
            log.info("Done. Returned value not shown")
        return result

    def execute_callable(self, kwargs: Mapping[str, Any]) -> Any:
        """Call the callable with ``op_args`` and the accepted subset of ``kwargs`` (awaited if async)."""
        # A generator callable yields Metadata for its asset events; its return value is the
        # task's (Airflow 2.10+ collects the yields the same way).
        return collect_metadata(call_python(self.python_callable, self.op_args, kwargs),
                                kwargs.get("outlet_events"), self.task_logger(dict(kwargs)))


def _expand_branch_ids(task: BaseOperator, branches: Any) -> set[str]:
    if branches is None:
        return set()
    if isinstance(branches, str):
        branches = [branches]
    elif not isinstance(branches, Iterable):
        raise TradewindException(
            f"Branch callable of task {task.task_id!r} must return a task_id or a list of task_ids, got {branches!r}"
        )
    dag = task.dag
    result: set[str] = set()
    invalid: list[str] = []
    for branch in branches:
        if not isinstance(branch, str):
            raise TradewindException(f"Branch callable of task {task.task_id!r} returned a non-string {branch!r}")
        if dag is not None and branch in dag.task_group_dict:
            # A task group id stands for the tasks that start the group.
            result.update(t.task_id for t in dag.task_group_dict[branch].roots)
        elif dag is None or branch in dag.task_dict:
            result.add(branch)
        else:
            invalid.append(branch)
    if invalid:
        raise TradewindException(
            f"'branch_task_ids' of task {task.task_id!r} must contain only valid task_ids. "
            f"Invalid tasks found: {sorted(invalid)}"
        )
    return result


class BranchPythonOperator(PythonOperator):
    """Runs the callable to choose branches; direct downstream tasks not chosen are skipped.

    The callable returns a task_id, a list of task_ids (task-group ids stand for
    the group's root tasks) or None (skip every direct downstream task).
    """

    inherits_from_skipmixin = True

    def execute(self, context: dict[str, Any]) -> Any:
        branches = super().execute(context)
        self.skip_all_except(context["ti"], branches)
        return branches

    def skip_all_except(self, ti: Any, branches: Any) -> None:
        chosen = _expand_branch_ids(self, branches)
        to_skip = sorted(self.downstream_task_ids - chosen)
        self.task_logger({"ti": ti}).info("Following branch %s; skipping %s", sorted(chosen), to_skip)
        if to_skip:
            ti.skip_tasks(to_skip)


class ShortCircuitOperator(PythonOperator):
    """Continues only if the callable returns a truthy value; otherwise skips downstream.

    With ``ignore_downstream_trigger_rules=True`` (default) every task downstream,
    however far, is skipped; with False only the direct downstream tasks are, and
    the rest follow their trigger rules.
    """

    inherits_from_skipmixin = True

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: dict[str, Any]) -> Any:
        condition = super().execute(context)
        log = self.task_logger(context)
        if condition:
            log.info("Condition result is %r; proceeding", condition)
            return condition
        if self.ignore_downstream_trigger_rules:
            to_skip = sorted(self.get_flat_relative_ids(upstream=False))
        else:
            to_skip = sorted(self.downstream_task_ids)
        log.info("Condition result is %r; skipping downstream tasks %s", condition, to_skip)
        if to_skip:
            context["ti"].skip_tasks(to_skip)
        return condition
