"""What setup and teardown tasks mean to the scheduler: a run's outcome, and what a clear clears.

Outcome (Airflow's rule): a run fails when one of its *outcome leaves* failed or is
upstream_failed. A teardown does not count (its job is cleanup, not the work) unless it was
made with ``on_failure_fail_dagrun=True``; the tasks it follows become leaves in its place
when nothing else that counts is downstream of them. A DAG made only of ignorable teardowns
falls back to its plain leaves.

Clearing (Airflow: "if you clear a task, its setups and teardowns will be cleared"): clearing
a work task also clears the setups it needs — the upstream setups whose teardown is
downstream of it, or that have no teardown — and those setups' teardowns, so the resource
is made again before the work re-runs and removed after it. Clearing a setup also clears
its teardowns. Clearing only a teardown re-runs just the teardown.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradewind.parse.snapshot import DagSnapshot, TaskSnapshot
from tradewind.states import TaskInstanceState

__all__ = ["outcome_leaves", "failed_outcome_leaves", "with_setups_and_teardowns"]

_FAILED = (TaskInstanceState.FAILED.value, TaskInstanceState.UPSTREAM_FAILED.value)


def _counts_for_outcome(task: TaskSnapshot) -> bool:
    return not task.is_teardown or task.on_failure_fail_dagrun


def outcome_leaves(snap: DagSnapshot) -> list[str]:
    """Task ids whose state decides the run's outcome (see the module docstring)."""
    if not any(t.is_teardown for t in snap.tasks.values()):
        return snap.leaves
    leaves = [
        tid for tid, task in snap.tasks.items()
        if _counts_for_outcome(task) and not any(_counts_for_outcome(snap.tasks[d]) for d in task.downstream)
    ]
    return leaves or snap.leaves


def failed_outcome_leaves(snap: DagSnapshot, states: Iterable[tuple[str, str]]) -> list[str]:
    """The outcome leaves among ``(task_id, state)`` pairs that failed or are upstream_failed
    (every mapped instance is looked at); an empty list means the run succeeded."""
    leaves = set(outcome_leaves(snap))
    return sorted({task_id for task_id, state in states if task_id in leaves and state in _FAILED})


def _teardowns_of(snap: DagSnapshot, setup_id: str) -> set[str]:
    return {d for d in snap.tasks[setup_id].downstream if snap.tasks[d].is_teardown}


def _setups_needed_by(snap: DagSnapshot, task_id: str) -> set[str]:
    """Upstream setups ``task_id`` works inside: their teardown is downstream of it, or they have none."""
    downstream_teardowns = {d for d in snap.all_downstream(task_id) if snap.tasks[d].is_teardown}
    needed = set()
    for up in snap.all_upstream(task_id):
        if not snap.tasks[up].is_setup:
            continue
        teardowns = _teardowns_of(snap, up)
        if not teardowns or teardowns & downstream_teardowns:
            needed.add(up)
    return needed


def with_setups_and_teardowns(snap: DagSnapshot, task_ids: Iterable[str]) -> set[str]:
    """``task_ids`` (chosen for a clear) plus the setups and teardowns that scope them."""
    result = set(task_ids)
    chosen = {tid for tid in result if tid in snap.tasks}
    if not any(t.is_setup for t in snap.tasks.values()):
        return result
    for tid in chosen:
        task = snap.tasks[tid]
        if not (task.is_setup or task.is_teardown):
            result |= _setups_needed_by(snap, tid)
    for tid in [t for t in result if t in snap.tasks]:
        if snap.tasks[tid].is_setup:
            result |= _teardowns_of(snap, tid)
    return result
