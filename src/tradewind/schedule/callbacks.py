"""DAG-level callback requests: the scheduler decides, the execute layer runs user code.

When a run finishes and its DAG has ``on_success_callback``/``on_failure_callback``,
the scheduler hands a :class:`DagCallbackRequest` to its ``callback_sink``
(:mod:`tradewind.execute.callbacks` runs it in a child process).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DagCallbackRequest:
    """Run the DAG's success (``success=True``) or failure callback for one run. JSON-able."""

    dag_id: str
    run_id: str
    fileloc: str
    success: bool
    #: Airflow's callback "reason", e.g. "success", "task_failure", "timed_out".
    reason: str = ""

    @property
    def callback_name(self) -> str:
        return "on_success_callback" if self.success else "on_failure_callback"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DagCallbackRequest":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"DagCallbackRequest: unknown field(s) {sorted(unknown)}")
        return cls(**data)
