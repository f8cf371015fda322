"""InProcessExecutor: runs each try synchronously in the calling process.

For ``dags test`` and deterministic tests: ``queue_workload`` returns only when the try
has ended and its event is ready. No isolation (user code runs in this process); tries
run one at a time. ``parallelism`` is how many ready tries one scheduler loop may hand
over (they then run one after another): ``dags test`` takes them all at once instead of
paying a scheduler loop per task; the default of 1 hands over one try per loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from tradewind.execute.db_store import DbTryStore
from tradewind.schedule.executor_interface import BaseExecutor, ExecutorEvent, TaskKey, Waker, Workload
from tradewind.persist.db import Database


class InProcessExecutor(BaseExecutor):
    """Runs :func:`~tradewind.execute.runner.run_try` inline; one try at a time."""

    name = "inprocess"

    def __init__(
        self,
        parallelism: int = 1,
        waker: Waker | None = None,
        *,
        config: Any,
        db: Database | None = None,
        echo: IO[str] | None = None,
    ) -> None:
        if parallelism < 1:
            raise ValueError(f"InProcessExecutor parallelism must be >= 1, got {parallelism}")
        super().__init__(parallelism, waker)
        self.config = config
        self.db = db or Database.from_config(config)
        self.store = DbTryStore(self.db, config)
        self.echo = echo
        self._events: list[ExecutorEvent] = []
        self._running: set[TaskKey] = set()
        #: Results of every try run here, in order (``dags test`` reports them).
        self.results: list[Any] = []
        #: Called with each try's ``TryResult`` as soon as it ended (``dags test`` prints it).
        self.on_result: Callable[[Any], None] | None = None

    def start(self) -> None:
        """Nothing to start: tries run in the caller's thread."""

    def queue_workload(self, workload: Workload) -> None:
        from tradewind.execute.runner import run_try

        self._running.add(workload.key)
        try:
            result = run_try(workload, config=self.config, store=self.store, in_process=True, echo=self.echo)
        except Exception as exc:  # the runner itself broke (not the task): report, do not crash the caller
            self._events.append(ExecutorEvent(workload.key, 1, False, f"runner error: {type(exc).__name__}: {exc}"))
        else:
            self.results.append(result)
            info = "recorded" if result.recorded else ("not claimed" if not result.claimed else result.error or "")
            self._events.append(ExecutorEvent(workload.key, result.exit_code, result.recorded, info))
            if self.on_result is not None:
                self.on_result(result)
        finally:
            self._running.discard(workload.key)
        self.waker.wake()

    def collect_events(self) -> list[ExecutorEvent]:
        events, self._events = self._events, []
        return events

    def slots_available(self) -> int:
        return 0 if self._running else self.parallelism

    def running_keys(self) -> set[TaskKey]:
        return set(self._running)

    def end(self, *, wait: bool = True) -> None:
        """Nothing runs after ``queue_workload`` returns, so there is nothing to stop."""
