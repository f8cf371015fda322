"""MultiExecutor: several executors at once, each task on the one it names (``executor=``).

``[core] executor = local,celery`` configures both; the first is the default for tasks that
name none (Airflow's multiple executors). The scheduler sees one executor: workloads are routed
by :attr:`Workload.executor`, and events, slots and running keys are the union of the parts.
"""

from __future__ import annotations

from tradewind.schedule.executor_interface import BaseExecutor, ExecutorEvent, TaskKey, Waker, Workload

#: Accepted spellings of each executor name (lower case) -> canonical name.
ALIASES = {
    "local": "local",
    "localexecutor": "local",
    "inprocess": "inprocess",
    "inprocessexecutor": "inprocess",
    "sequential": "inprocess",
    "sequentialexecutor": "inprocess",
    "celery": "celery",
    "celeryexecutor": "celery",
}


def canonical_name(name: str) -> str | None:
    """``LocalExecutor`` -> ``local``; None for a name no executor answers to."""
    return ALIASES.get(name.strip().lower())


class UnknownExecutor(ValueError):
    """A task names an executor that ``[core] executor`` does not configure."""


class MultiExecutor(BaseExecutor):
    """Routes each workload to the executor its task names; the first part is the default."""

    name = "multi"

    def __init__(self, parts: dict[str, BaseExecutor], waker: Waker) -> None:
        if not parts:
            raise ValueError("MultiExecutor needs at least one executor")
        super().__init__(sum(p.parallelism for p in parts.values()), waker)
        self.parts = parts
        self.default = next(iter(parts))

    def executor_for(self, workload: Workload) -> BaseExecutor:
        """The part that runs this workload; :class:`UnknownExecutor` names what is configured."""
        if workload.executor is None:
            return self.parts[self.default]
        part = self.parts.get(canonical_name(workload.executor) or "")
        if part is None:
            raise UnknownExecutor(
                f"task {workload.key.dag_id}.{workload.key.task_id} asks for executor={workload.executor!r}, "
                f"which [core] executor does not configure (configured: {', '.join(self.parts)})"
            )
        return part

    def start(self) -> None:
        for part in self.parts.values():
            part.start()

    def queue_workload(self, workload: Workload) -> None:
        self.executor_for(workload).queue_workload(workload)

    def collect_events(self) -> list[ExecutorEvent]:
        events: list[ExecutorEvent] = []
        for part in self.parts.values():
            events.extend(part.collect_events())
        return events

    def slots_available(self) -> int:
        """The parts' free slots together: one full part must not hold back the others' tasks
        (the scheduler's ``[core] parallelism`` still bounds the whole)."""
        return sum(part.slots_available() for part in self.parts.values())

    def end(self, *, wait: bool = True) -> None:
        for part in self.parts.values():
            part.end(wait=wait)

    def running_keys(self) -> set[TaskKey]:
        keys: set[TaskKey] = set()
        for part in self.parts.values():
            keys |= part.running_keys()
        return keys

    def kill(self, key: TaskKey) -> bool:
        return any(part.kill(key) for part in self.parts.values())

    def helper_problems(self) -> list[str]:
        return [problem for part in self.parts.values() for problem in part.helper_problems()]
