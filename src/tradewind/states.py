"""Task-instance and DAG-run states, with Airflow's names and values.

These are plain ``str`` enums so they compare equal to the strings stored in the
database and printed by the CLI (``TaskInstanceState.SUCCESS == "success"``).
The allowed state graph lives in :mod:`tradewind.schedule.transitions`; this
module only names the states and the groups other layers ask about.
"""

from __future__ import annotations

from enum import Enum


class TaskInstanceState(str, Enum):
    """State of one task instance (one task in one DAG run, one map index).

    ``NONE`` is Airflow's "no status": created but not yet considered.
    It is stored as SQL NULL-free string ``"none"`` so every row has a value.
    """

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    REMOVED = "removed"
    DEFERRED = "deferred"
    RESTARTING = "restarting"

    def __str__(self) -> str:  # so f"{state}" prints "success", not the enum repr
        return self.value


class DagRunState(str, Enum):
    """State of one DAG run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class DagRunType(str, Enum):
    """Why a run exists; also the prefix of its run id (``scheduled__<ts>``)."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    BACKFILL = "backfill"
    ASSET_TRIGGERED = "asset_triggered"

    def __str__(self) -> str:
        return self.value

    def run_id_for(self, logical_date_iso: str) -> str:
        return f"{self.value}__{logical_date_iso}"


TI = TaskInstanceState

#: A task instance in one of these will not change again unless cleared.
FINISHED_TI_STATES: frozenset[TaskInstanceState] = frozenset(
    {TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED}
)
#: States that occupy an executor slot / pool slot.
RUNNING_TI_STATES: frozenset[TaskInstanceState] = frozenset({TI.QUEUED, TI.RUNNING})
#: States the scheduler still has to drive forward.
UNFINISHED_TI_STATES: frozenset[TaskInstanceState] = frozenset(
    {
        TI.NONE,
        TI.SCHEDULED,
        TI.QUEUED,
        TI.RUNNING,
        TI.UP_FOR_RETRY,
        TI.UP_FOR_RESCHEDULE,
        TI.DEFERRED,
        TI.RESTARTING,
    }
)
#: States that count as "failed" for trigger rules.
FAILED_TI_STATES: frozenset[TaskInstanceState] = frozenset({TI.FAILED, TI.UPSTREAM_FAILED})

FINISHED_DAGRUN_STATES: frozenset[DagRunState] = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})
UNFINISHED_DAGRUN_STATES: frozenset[DagRunState] = frozenset({DagRunState.QUEUED, DagRunState.RUNNING})


class TriggerRule(str, Enum):
    """The thirteen trigger rules of Airflow 3."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    ALL_SKIPPED = "all_skipped"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: "str | TriggerRule") -> "TriggerRule":
        """Accept a member or its string; Airflow 1/2 aliases included."""
        aliases = {
            "dummy": cls.ALWAYS,
            "none_failed_or_skipped": cls.NONE_FAILED_MIN_ONE_SUCCESS,
        }
        if isinstance(value, cls):
            return value
        text = str(value)
        if text in aliases:
            return aliases[text]
        try:
            return cls(text)
        except ValueError:
            valid = ", ".join(r.value for r in cls)
            raise ValueError(f"invalid trigger_rule {text!r}; valid rules: {valid}") from None


class WeightRule(str, Enum):
    """How ``priority_weight`` is turned into the effective priority."""

    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"
    ABSOLUTE = "absolute"

    def __str__(self) -> str:
        return self.value
