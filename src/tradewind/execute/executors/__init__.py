"""Executors: where tries run. :func:`make_executor` picks one from ``[core] executor``."""

from __future__ import annotations

from typing import Any

from tradewind.schedule.executor_interface import BaseExecutor, ExecutorEvent, TaskKey, Waker, Workload

__all__ = ["BaseExecutor", "ExecutorEvent", "TaskKey", "Waker", "Workload", "make_executor", "EXECUTOR_NAMES"]

EXECUTOR_NAMES = ("local", "inprocess")


def make_executor(config: Any, waker: Waker | None = None, *, parallelism: int | None = None) -> BaseExecutor:
    """The executor named by ``[core] executor`` (``local`` or ``inprocess``), not yet started."""
    name = config.get("core", "executor").strip().lower()
    slots = parallelism if parallelism is not None else config.parallelism
    if name in ("local", "localexecutor"):
        from tradewind.execute.executors.local import LocalExecutor

        return LocalExecutor(slots, waker, config=config)
    if name in ("inprocess", "sequential", "sequentialexecutor"):
        from tradewind.execute.executors.inprocess import InProcessExecutor

        return InProcessExecutor(1, waker, config=config)
    raise ValueError(f"[core] executor = {name!r} is not supported; choose one of: {', '.join(EXECUTOR_NAMES)}")
