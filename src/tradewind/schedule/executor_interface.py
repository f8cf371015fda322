"""The executor contract: the scheduler hands over workloads, executors report when they end.

An executor only *runs* tries; it never decides state. The task runner
(:mod:`tradewind.execute.runner`) records the try's outcome in the database
itself, so an outcome survives a scheduler restart. The executor's
:class:`ExecutorEvent` tells the scheduler that a try's process ended (and how),
which wakes the scheduler and lets it reconcile a try that died without
recording anything (killed, crashed).

A new executor (Celery, Kubernetes, ...) implements :class:`BaseExecutor`'s five
abstract methods; the scheduler does not change.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

# The workload contract lives below the layers (the worker side runs workloads without importing
# schedule); re-exported here, where executors and the scheduler have always found it.
from tradewind.workloads import EXIT_NOT_CLAIMED, TaskKey, Workload

__all__ = ["EXIT_NOT_CLAIMED", "BaseExecutor", "ExecutorEvent", "ExecutorUnavailable", "TaskKey", "Waker",
           "Workload"]


class ExecutorUnavailable(RuntimeError):
    """The executor cannot take work right now (e.g. its broker is unreachable); nothing was sent.

    The scheduler puts the instance back to ``scheduled`` with the same try number and offers it
    again later, instead of failing the try.
    """


@dataclass(frozen=True)
class ExecutorEvent:
    """A try's process ended. ``return_code`` is the process exit code (negative: signal;
    :data:`EXIT_NOT_CLAIMED`: it ran nothing, so the instance's state is not its business)."""

    key: TaskKey
    return_code: int | None
    #: True when the runner reported that it recorded a final state in the DB.
    recorded: bool = False
    info: str = ""


class Waker:
    """Wakes the scheduler loop when something happened (an event, a new run, a signal).

    The scheduler waits with a deadline instead of sleeping a fixed interval.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """Block until woken or until ``timeout`` seconds; True if woken. Clears the flag."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken


class BaseExecutor(ABC):
    """Runs workloads somewhere; reports their ends as events.

    Thread-safety: ``queue_workload``/``collect_events``/``slots_available`` are
    called from the scheduler thread only; implementations may use worker
    threads internally and must call ``self.waker.wake()`` after producing an event.
    """

    #: Name used in config (``[core] executor``) and logs.
    name: str = "base"

    def __init__(self, parallelism: int, waker: Waker | None = None) -> None:
        self.parallelism = parallelism
        self.waker = waker or Waker()

    @abstractmethod
    def start(self) -> None:
        """Prepare to run (start worker pools, fork servers...)."""

    @abstractmethod
    def queue_workload(self, workload: Workload) -> None:
        """Start (or enqueue) one try. Must not block for the try's duration."""

    @abstractmethod
    def collect_events(self) -> list[ExecutorEvent]:
        """Events produced since the last call (non-blocking)."""

    @abstractmethod
    def slots_available(self) -> int:
        """How many more workloads this executor accepts now."""

    @abstractmethod
    def end(self, *, wait: bool = True) -> None:
        """Stop. With ``wait`` let running tries finish; otherwise terminate them."""

    def running_keys(self) -> set[TaskKey]:
        """Keys of tries currently running here (for heartbeats / diagnostics)."""
        return set()

    def kill(self, key: TaskKey) -> bool:
        """Terminate one running try (its whole process group). False if not running here."""
        return False

    def helper_problems(self) -> list[str]:
        """One line per helper process of this executor that is down or crash-looping (its fork
        server, say); empty while all are healthy. The scheduler stores them with its heartbeat,
        where ``tradewind jobs check`` and ``/api/v1/health`` report them."""
        return []
