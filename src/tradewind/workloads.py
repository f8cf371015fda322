"""What the scheduler hands to an executor and a worker runs: :class:`TaskKey` and :class:`Workload`.

A shared contract, like :mod:`tradewind.states`: the scheduler builds workloads, executors carry
them, and the worker side of ``execute`` (the task runner, the try store, the execution API's
client) runs them. It lives outside the layer chain so the worker side can use it without
importing :mod:`tradewind.schedule` (and with it the database); it imports nothing of Tradewind.

The exit codes of a try process live here for the same reason: the runner sets them, the
executors read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Exit codes of a try process. Recorded: an outcome (or deferral) was written through the store.
EXIT_RECORDED = 0
#: The try ran but nothing was recorded (the store was unreachable or refused the outcome).
EXIT_ERROR = 1
#: The instance was not queued for this try (another process claimed it, or it was cleared or
#: marked meanwhile): nothing ran, so the instance's state is not this process's business.
EXIT_NOT_CLAIMED = 3


@dataclass(frozen=True, order=True)
class TaskKey:
    """Identifies one try of one task instance."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 1

    def short(self) -> str:
        mi = "" if self.map_index < 0 else f"[{self.map_index}]"
        return f"{self.dag_id}.{self.task_id}{mi} {self.run_id} try {self.try_number}"


@dataclass(frozen=True)
class Workload:
    """Everything a worker needs to run one try, JSON-serialisable (Celery carries it as JSON)."""

    key: TaskKey
    #: Absolute path of the DAG file to import.
    fileloc: str
    #: Database URL and TRADEWIND_* settings the worker should use (env var form).
    environ: dict[str, str] = field(default_factory=dict)
    priority_weight: int = 1
    pool: str = "default_pool"
    queue: str = "default"
    #: Seconds after which the supervisor kills the try's process group (None: never).
    execution_timeout: float | None = None
    #: The executor the task asked for (``executor=`` on the task); None: the default one.
    executor: str | None = None
    #: Hash of the DAG version the scheduler queued; a remote worker refuses to run a DAG file
    #: whose snapshot hashes differently (it would run other code than the version queued).
    snapshot_hash: str | None = None
    #: Remote executors only: the token scoped to this one try, with which the worker claims it
    #: through the execution API (:mod:`tradewind.execute.tokens`). Never a database credential.
    token: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Workload":
        data = dict(data)
        data["key"] = TaskKey(**data["key"])
        return cls(**data)
