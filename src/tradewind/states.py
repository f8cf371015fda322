"""Task-instance and DAG-run states, with Airflow's names and values.

These are plain ``str`` enums so they compare equal to the strings stored in the
database and printed by the CLI (``TaskInstanceState.SUCCESS == "success"``).
This module also holds the two state graphs -- :data:`TI_TRANSITIONS` for a task instance and
:data:`TRY_TRANSITIONS` for one try's row -- which :mod:`tradewind.schedule.transitions`, the
only state writer, takes every legal move from (its fast SQL paths included, through
:func:`from_states`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    #: Triggered to produce an asset (``POST /api/v2/assets/{id}/materialize``), Airflow 3's type.
    ASSET_MATERIALIZATION = "asset_materialization"

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

#: Allowed task-instance changes made by the scheduler and the task runner.
#: Manual actions (clear, mark) may set :data:`TI_MANUAL_TARGETS` from any state instead.
TI_TRANSITIONS: dict[TaskInstanceState, frozenset[TaskInstanceState]] = {
    # none -> failed: a mapped task whose input cannot be expanded (schedule/mapping.py).
    TI.NONE: frozenset({TI.SCHEDULED, TI.QUEUED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED, TI.FAILED}),
    TI.SCHEDULED: frozenset({TI.QUEUED, TI.NONE, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED}),
    # queued -> failed/up_for_retry: the try's process died before recording anything;
    # queued -> scheduled: a try nobody claimed goes back (executor refusal, queued timeout, adoption).
    TI.QUEUED: frozenset({TI.RUNNING, TI.SCHEDULED, TI.FAILED, TI.UP_FOR_RETRY, TI.SKIPPED, TI.REMOVED}),
    TI.RUNNING: frozenset(
        {TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE, TI.DEFERRED, TI.RESTARTING}
    ),
    TI.UP_FOR_RETRY: frozenset({TI.SCHEDULED, TI.QUEUED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.FAILED, TI.REMOVED}),
    TI.UP_FOR_RESCHEDULE: frozenset({TI.SCHEDULED, TI.QUEUED, TI.SKIPPED, TI.FAILED, TI.REMOVED}),
    TI.DEFERRED: frozenset({TI.SCHEDULED, TI.QUEUED, TI.FAILED, TI.SKIPPED}),
    TI.RESTARTING: frozenset({TI.NONE, TI.UP_FOR_RETRY, TI.FAILED}),
    TI.SUCCESS: frozenset(),
    TI.FAILED: frozenset(),
    TI.SKIPPED: frozenset(),
    TI.UPSTREAM_FAILED: frozenset(),
    TI.REMOVED: frozenset({TI.NONE}),
}

#: States a person may set by hand (CLI/API "mark" and "clear"), from any state.
TI_MANUAL_TARGETS: frozenset[TaskInstanceState] = frozenset({TI.NONE, TI.SUCCESS, TI.FAILED, TI.SKIPPED})

#: Allowed changes of one try's row (``task_instance_try.state``). A row starts ``running`` (the
#: claim) or ``failed`` (a try that died before it started); a finished row never changes again,
#: whatever arrives late -- a try's outcome after the scheduler failed it as a zombie does not
#: turn it into a success.
TRY_TRANSITIONS: dict[TaskInstanceState, frozenset[TaskInstanceState]] = {
    TI.RUNNING: frozenset({TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UP_FOR_RESCHEDULE, TI.DEFERRED}),
    # A try that gave its slot back (sensor reschedule, deferral) resumes with the same row, or
    # fails without resuming (its process died while queued again).
    TI.UP_FOR_RESCHEDULE: frozenset({TI.RUNNING, TI.FAILED}),
    TI.DEFERRED: frozenset({TI.RUNNING, TI.FAILED}),
    TI.SUCCESS: frozenset(),
    TI.FAILED: frozenset(),
    TI.SKIPPED: frozenset(),
}
#: States a try row is created in.
TRY_START_STATES: frozenset[TaskInstanceState] = frozenset({TI.RUNNING, TI.FAILED})

Graph = Mapping[TaskInstanceState, frozenset[TaskInstanceState]]


def allowed_from(target: TaskInstanceState, graph: Graph = TI_TRANSITIONS) -> frozenset[TaskInstanceState]:
    """The states ``graph`` lets move to ``target``."""
    return frozenset(frm for frm, targets in graph.items() if target in targets)


def from_states(targets: Iterable[TaskInstanceState], graph: Graph = TI_TRANSITIONS, *,
                only: Iterable[TaskInstanceState] | None = None) -> tuple[str, ...]:
    """The stored values of the states from which ``graph`` allows *every* one of ``targets``,
    narrowed to ``only`` when given: what a conditional UPDATE's ``WHERE state IN (...)`` lists.

    Raises ``ValueError`` when ``only`` names a state the graph does not allow to reach a target
    (a fast path must never write a move the graph forbids) or nothing is left."""
    targets = list(targets)
    common = frozenset.intersection(*(allowed_from(t, graph) for t in targets)) if targets else frozenset()
    if only is not None:
        wanted = frozenset(only)
        if not wanted <= common:
            bad = ", ".join(sorted(s.value for s in wanted - common))
            raise ValueError(f"the state graph does not allow {bad} -> {', '.join(t.value for t in targets)}")
        common = wanted
    if not common:
        raise ValueError(f"no state may move to {', '.join(t.value for t in targets)}")
    return tuple(sorted(s.value for s in common))


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
