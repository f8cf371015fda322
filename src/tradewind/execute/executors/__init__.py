"""Executors: where tries run. :func:`make_executor` picks them from ``[core] executor``."""

from __future__ import annotations

from typing import Any

from tradewind.schedule.executor_interface import BaseExecutor, ExecutorEvent, TaskKey, Waker, Workload

__all__ = ["BaseExecutor", "ExecutorEvent", "TaskKey", "Waker", "Workload", "make_executor", "EXECUTOR_NAMES"]

EXECUTOR_NAMES = ("local", "inprocess", "celery")


def _one(name: str, config: Any, waker: Waker, slots: int, db: Any) -> BaseExecutor:
    from tradewind.execute.executors.multi import canonical_name

    canonical = canonical_name(name)
    if canonical == "local":
        from tradewind.execute.executors.local import LocalExecutor

        return LocalExecutor(slots, waker, config=config)
    if canonical == "inprocess":
        from tradewind.execute.executors.inprocess import InProcessExecutor

        # Tries run one at a time; ``slots`` is how many ready ones one scheduler step hands over
        # (``dags test`` of a wide DAG takes a few steps instead of one per task).
        return InProcessExecutor(slots, waker, config=config, db=db)
    if canonical == "celery":
        from tradewind.execute.executors.celery import CeleryExecutor

        return CeleryExecutor(slots, waker, config=config)
    raise ValueError(
        f"[core] executor names {name.strip()!r}, which is not an executor; choose from: {', '.join(EXECUTOR_NAMES)}"
    )


def make_executor(
    config: Any, waker: Waker | None = None, *, parallelism: int | None = None, name: str | None = None,
    db: Any = None,
) -> BaseExecutor:
    """The executor(s) named by ``name`` (default ``[core] executor``), not yet started.

    A comma-separated list (``local,celery``) builds a
    :class:`~tradewind.execute.executors.multi.MultiExecutor` whose first entry is the default
    and whose others tasks choose with ``executor=``. ``db``: the caller's Database, shared by the
    in-process executor (others open none). Raises ValueError naming the bad setting.
    """
    from tradewind.execute.executors.multi import MultiExecutor, canonical_name

    spec = name if name is not None else config.get("core", "executor")
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(f"[core] executor = {spec!r} names no executor; choose from: {', '.join(EXECUTOR_NAMES)}")
    slots = parallelism if parallelism is not None else config.parallelism
    waker = waker or Waker()
    if len(names) == 1:
        return _one(names[0], config, waker, slots, db)
    parts: dict[str, BaseExecutor] = {}
    for entry in names:
        key = canonical_name(entry) or entry
        if key in parts:
            raise ValueError(f"[core] executor = {spec!r} lists {entry!r} twice")
        parts[key] = _one(entry, config, waker, slots, db)
    return MultiExecutor(parts, waker)
