"""Readiness rules: one small function per condition a task instance must meet to run.

Each rule returns ``None`` when met, else a reason string (shown by
``tradewind tasks failed-deps``: "why isn't this running?"). The scheduler calls
the same pure functions on data it has loaded in batches; :func:`failed_deps`
loads that data for one instance and runs every rule.

Trigger rules are evaluated by :func:`evaluate_trigger_rule`, which also says
when an instance will *never* run and must become ``skipped`` or
``upstream_failed`` instead of waiting (Airflow 3 semantics).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot, TaskSnapshot
from tradewind.persist.models import DagModel, DagRun, Pool, TaskInstance
from tradewind.persist.queries.runs import previous_run
from tradewind.schedule.mapping import RunView
from tradewind.states import DagRunState, TaskInstanceState, TriggerRule

TI = TaskInstanceState
TR = TriggerRule

#: States from which the scheduler may start a new try once the rules pass.
SCHEDULABLE_STATES: frozenset[str] = frozenset(
    {TI.NONE.value, TI.SCHEDULED.value, TI.UP_FOR_RETRY.value, TI.UP_FOR_RESCHEDULE.value}
)


# ------------------------------------------------------------------- trigger rules
@dataclass(frozen=True)
class UpstreamCounts:
    """States of a task's direct upstream instances (removed ones are not counted)."""

    total: int = 0
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    #: Among upstream setup tasks (for all_done_setup_success).
    setups: int = 0
    setup_success: int = 0
    setup_skipped: int = 0

    @property
    def failures(self) -> int:
        return self.failed + self.upstream_failed

    @property
    def done(self) -> int:
        return self.success + self.skipped + self.failures

    @property
    def all_done(self) -> bool:
        return self.done >= self.total

    @classmethod
    def from_states(cls, states: Iterable[str], setup_states: Iterable[str] = ()) -> "UpstreamCounts":
        return cls.from_counts(Counter(states), Counter(setup_states))

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], setup_counts: Mapping[str, int]) -> "UpstreamCounts":
        """From ``{state: instances in it}`` over the upstream, and over its setup tasks (removed
        instances are not counted)."""
        removed = TI.REMOVED.value
        return cls(
            total=sum(n for state, n in counts.items() if state != removed),
            success=counts.get(TI.SUCCESS.value, 0),
            skipped=counts.get(TI.SKIPPED.value, 0),
            failed=counts.get(TI.FAILED.value, 0),
            upstream_failed=counts.get(TI.UPSTREAM_FAILED.value, 0),
            setups=sum(n for state, n in setup_counts.items() if state != removed),
            setup_success=setup_counts.get(TI.SUCCESS.value, 0),
            setup_skipped=setup_counts.get(TI.SKIPPED.value, 0),
        )


Action = Literal["run", "wait", "skip", "upstream_failed"]


@dataclass(frozen=True)
class TriggerDecision:
    action: Action
    reason: str = ""


RUN = TriggerDecision("run")


def _wait(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    return TriggerDecision(
        "wait",
        f"trigger rule {rule.value}: waiting on upstream (done {up.done}/{up.total}: "
        f"success={up.success}, skipped={up.skipped}, failed={up.failed}, upstream_failed={up.upstream_failed})",
    )


def _never(action: Action, rule: TriggerRule, why: str) -> TriggerDecision:
    return TriggerDecision(action, f"trigger rule {rule.value}: {why}")


def evaluate_trigger_rule(rule: TriggerRule | str, up: UpstreamCounts) -> TriggerDecision:
    """Decide from the upstream states: run now, wait, or never run (skip / upstream_failed)."""
    rule = TR.parse(rule)
    if up.total == 0 or rule == TR.ALWAYS:
        return RUN
    handler = _RULES[rule]
    return handler(rule, up)


def _all_success(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.failures:
        return _never("upstream_failed", rule, f"{up.failures} upstream task(s) failed")
    if up.skipped:
        return _never("skip", rule, f"{up.skipped} upstream task(s) skipped")
    return RUN if up.success == up.total else _wait(rule, up)


def _all_failed(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.success or up.skipped:
        return _never("skip", rule, "an upstream task did not fail")
    return RUN if up.all_done else _wait(rule, up)


def _all_done(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    return RUN if up.all_done else _wait(rule, up)


def _all_done_min_one_success(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if not up.all_done:
        return _wait(rule, up)
    return RUN if up.success else _never("skip", rule, "all upstream tasks are done but none succeeded")


def _all_done_setup_success(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if not up.all_done:
        return _wait(rule, up)
    if up.setups and up.setup_success == 0 and up.setup_skipped == up.setups:
        return _never("skip", rule, "all upstream setup tasks were skipped")
    if up.setups and up.setup_success == 0:
        # Airflow: one setup that succeeded is enough for the teardown to run (to clean it up).
        return _never("upstream_failed", rule, "no upstream setup task succeeded")
    return RUN


def _one_success(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.success:
        return RUN
    if up.all_done:
        if up.skipped == up.total:
            return _never("skip", rule, "all upstream tasks were skipped")
        return _never("upstream_failed", rule, "no upstream task succeeded")
    return _wait(rule, up)


def _one_failed(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.failures:
        return RUN
    if up.all_done:
        return _never("skip", rule, "no upstream task failed")
    return _wait(rule, up)


def _one_done(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.success or up.failed:
        return RUN
    if up.all_done:
        return _never("skip", rule, "no upstream task succeeded or failed")
    return _wait(rule, up)


def _none_failed(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.failures:
        return _never("upstream_failed", rule, f"{up.failures} upstream task(s) failed")
    return RUN if up.all_done else _wait(rule, up)


def _none_skipped(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.skipped:
        return _never("skip", rule, f"{up.skipped} upstream task(s) skipped")
    return RUN if up.all_done else _wait(rule, up)


def _none_failed_min_one_success(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.failures:
        return _never("upstream_failed", rule, f"{up.failures} upstream task(s) failed")
    if not up.all_done:
        return _wait(rule, up)
    return RUN if up.success else _never("skip", rule, "all upstream tasks were skipped")


def _all_skipped(rule: TriggerRule, up: UpstreamCounts) -> TriggerDecision:
    if up.success or up.failures:
        return _never("skip", rule, "an upstream task was not skipped")
    return RUN if up.all_done else _wait(rule, up)


_RULES: dict[TriggerRule, Callable[[TriggerRule, UpstreamCounts], TriggerDecision]] = {
    TR.ALL_SUCCESS: _all_success,
    TR.ALL_FAILED: _all_failed,
    TR.ALL_DONE: _all_done,
    TR.ALL_DONE_MIN_ONE_SUCCESS: _all_done_min_one_success,
    TR.ALL_DONE_SETUP_SUCCESS: _all_done_setup_success,
    TR.ONE_SUCCESS: _one_success,
    TR.ONE_FAILED: _one_failed,
    TR.ONE_DONE: _one_done,
    TR.NONE_FAILED: _none_failed,
    TR.NONE_SKIPPED: _none_skipped,
    TR.NONE_FAILED_MIN_ONE_SUCCESS: _none_failed_min_one_success,
    TR.ALL_SKIPPED: _all_skipped,
}


def upstream_counts(
    task: TaskSnapshot, snapshot: DagSnapshot, states: Mapping[str, str | list[str]]
) -> UpstreamCounts:
    """Counts over ``task``'s direct upstream, from ``states`` (task_id -> state in this run, or the
    list of states of a mapped task's instances: each instance counts, as in Airflow)."""
    ups = _flat_states(states, task.upstream)
    setups = _flat_states(states, [u for u in task.upstream if snapshot.tasks[u].is_setup])
    return UpstreamCounts.from_states(ups, setups)


def _flat_states(states: Mapping[str, str | list[str]], task_ids: Iterable[str]) -> list[str]:
    found: list[str] = []
    for task_id in task_ids:
        state = states.get(task_id, TI.NONE.value)
        if isinstance(state, str):
            found.append(state)
        else:
            found.extend(state)
    return found


# ------------------------------------------------------------------- single rules
def run_is_running(run: DagRun) -> str | None:
    if run.state != DagRunState.RUNNING.value:
        return f"DAG run {run.run_id} is {run.state}, not running"
    return None


def ti_state_is_schedulable(ti: TaskInstance) -> str | None:
    if ti.state not in SCHEDULABLE_STATES:
        return f"task instance is {ti.state}; only {', '.join(sorted(SCHEDULABLE_STATES))} can be scheduled"
    return None


def trigger_rule_met(task: TaskSnapshot, snapshot: DagSnapshot, states: Mapping[str, str | list[str]]) -> str | None:
    decision = evaluate_trigger_rule(task.trigger_rule, upstream_counts(task, snapshot, states))
    return None if decision.action == "run" else decision.reason


def retry_delay_passed(ti: TaskInstance, now: datetime) -> str | None:
    """A reason while an up_for_retry (retry delay) or up_for_reschedule (sensor interval)
    instance must still wait for its ``next_retry_at``; None once it may run."""
    if ti.next_retry_at is None or ti.next_retry_at <= now:
        return None
    if ti.state == TI.UP_FOR_RETRY.value:
        return f"waiting for retry delay: next try at {ti.next_retry_at.isoformat()}"
    if ti.state == TI.UP_FOR_RESCHEDULE.value:
        return f"sensor rescheduled: next poke at {ti.next_retry_at.isoformat()}"
    return None


def task_dates_allow(task: TaskSnapshot, logical_date: datetime | None) -> str | None:
    """The run's logical date must fall within the task's start_date/end_date."""
    if logical_date is None:
        return None
    start, end = task.start_date_dt, task.end_date_dt
    if start is not None and logical_date < start:
        return f"logical date {logical_date.isoformat()} is before the task's start_date {start.isoformat()}"
    if end is not None and logical_date > end:
        return f"logical date {logical_date.isoformat()} is after the task's end_date {end.isoformat()}"
    return None


def past_run_allows(task: TaskSnapshot, previous: Mapping[str, str] | None) -> str | None:
    """depends_on_past / wait_for_downstream, given the previous run's states (None: first run)."""
    if not (task.depends_on_past or task.wait_for_downstream) or previous is None:
        return None
    ok = (TI.SUCCESS.value, TI.SKIPPED.value)
    prev_state = previous.get(task.task_id)
    # A task new since the previous run has no previous instance: nothing to wait for.
    if prev_state is not None and prev_state not in ok:
        return f"depends_on_past: previous run's {task.task_id} is {prev_state}, not success or skipped"
    if task.wait_for_downstream:
        for down in task.downstream:
            state = previous.get(down)
            if state is not None and state not in ok:
                return f"wait_for_downstream: previous run's {down} is {state}, not success or skipped"
    return None


def pool_has_slots(task_pool: str, pool_slots: int, open_slots: Mapping[str, int]) -> str | None:
    if task_pool not in open_slots:
        return f"pool {task_pool!r} does not exist"
    if open_slots[task_pool] < pool_slots:
        return f"pool {task_pool!r} has {max(open_slots[task_pool], 0)} open slot(s); the task needs {pool_slots}"
    return None


def dag_concurrency_allows(dag_id: str, active: int, max_active_tasks: int) -> str | None:
    if active >= max_active_tasks:
        return f"DAG {dag_id} already has {active} task(s) queued/running (max_active_tasks={max_active_tasks})"
    return None


def task_concurrency_allows(task: TaskSnapshot, in_dag: int, in_run: int) -> str | None:
    """The task's own limits: ``max_active_tis_per_dag`` (all runs) and ``max_active_tis_per_dagrun``."""
    limit = task.max_active_tis_per_dag
    if limit is not None and in_dag >= limit:
        return f"task {task.task_id} already has {in_dag} instance(s) queued/running (max_active_tis_per_dag={limit})"
    limit = task.max_active_tis_per_dagrun
    if limit is not None and in_run >= limit:
        return (f"task {task.task_id} already has {in_run} instance(s) queued/running in this run "
                f"(max_active_tis_per_dagrun={limit})")
    return None


def has_task_limits(task: TaskSnapshot) -> bool:
    return task.max_active_tis_per_dag is not None or task.max_active_tis_per_dagrun is not None


def parallelism_allows(active: int, parallelism: int) -> str | None:
    if active >= parallelism:
        return f"{active} task(s) queued/running in total (parallelism={parallelism})"
    return None


# ------------------------------------------------------------------- data loaders
ACTIVE = (TI.QUEUED.value, TI.RUNNING.value)


def pool_open_slots(session: Session) -> dict[str, int]:
    """Open slots per pool: size minus the pool_slots of queued and running instances."""
    used = dict(
        session.execute(
            select(TaskInstance.pool, func.sum(TaskInstance.pool_slots))
            .where(TaskInstance.state.in_(ACTIVE))
            .group_by(TaskInstance.pool)
        ).all()
    )
    return {name: slots - int(used.get(name) or 0) for name, slots in session.execute(select(Pool.pool, Pool.slots))}


def active_counts(session: Session) -> dict[str, int]:
    """Queued + running instances per DAG."""
    return dict(
        session.execute(
            select(TaskInstance.dag_id, func.count()).where(TaskInstance.state.in_(ACTIVE)).group_by(TaskInstance.dag_id)
        ).all()
    )


def task_active_counts(
    session: Session, tasks: Iterable[tuple[str, str]]
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str, str], int]]:
    """Queued + running instances of the given (dag_id, task_id)s: per task over all runs,
    and per (dag_id, run_id, task_id)."""
    wanted = set(tasks)
    per_task: dict[tuple[str, str], int] = {}
    per_run: dict[tuple[str, str, str], int] = {}
    if not wanted:
        return per_task, per_run
    rows = session.execute(
        select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, func.count())
        .where(TaskInstance.state.in_(ACTIVE), TaskInstance.task_id.in_({t for _, t in wanted}))
        .group_by(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id)
    )
    for dag_id, run_id, task_id, count in rows:
        if (dag_id, task_id) in wanted:
            per_task[(dag_id, task_id)] = per_task.get((dag_id, task_id), 0) + count
            per_run[(dag_id, run_id, task_id)] = count
    return per_task, per_run


def active_usage(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """``(active_counts, pool_open_slots)`` in two queries instead of three (the scheduler's
    queueing step needs both every time it queues)."""
    active: dict[str, int] = {}
    used: dict[str, int] = {}
    usage_stmt, pools_stmt = _usage_stmts()
    for dag_id, pool, count, slots in session.execute(usage_stmt):
        active[dag_id] = active.get(dag_id, 0) + count
        used[pool] = used.get(pool, 0) + int(slots or 0)
    open_slots = {name: slots - used.get(name, 0) for name, slots in session.execute(pools_stmt)}
    return active, open_slots


@cache
def _usage_stmts() -> tuple[Any, Any]:
    """Built once on the tables: the scheduler runs them whenever it queues."""
    ti, pool = TaskInstance.__table__, Pool.__table__
    usage = (
        select(ti.c.dag_id, ti.c.pool, func.count(), func.sum(ti.c.pool_slots))
        .where(ti.c.state.in_(ACTIVE))
        .group_by(ti.c.dag_id, ti.c.pool)
    )
    return usage, select(pool.c.pool, pool.c.slots)


def run_states(session: Session, dag_id: str, run_id: str) -> dict[str, str]:
    rows = session.execute(
        select(TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.map_index < 0
        )
    ).all()
    return {task_id: state for task_id, state in rows}


def upstream_instance_states(session: Session, ti: TaskInstance, snapshot: DagSnapshot) -> dict[str, list[str]]:
    """What ``ti``'s trigger rule counts, read for one instance: every instance of each upstream
    (all map indexes of a mapped upstream), or within a mapped task group the instance with the
    same map index, exactly as the scheduler counts (:meth:`RunView.upstream_states`)."""
    task = snapshot.tasks[ti.task_id]
    if not task.upstream:
        return {}
    rows = session.execute(
        select(TaskInstance.id, TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
            TaskInstance.dag_id == ti.dag_id, TaskInstance.run_id == ti.run_id,
            TaskInstance.task_id.in_(sorted(task.upstream)),
        )
    ).all()
    return RunView(rows, snapshot).upstream_states(task, ti.map_index)


def dag_is_unpaused(dag: DagModel | None) -> str | None:
    if dag is not None and dag.is_paused:
        return f"DAG {dag.dag_id} is paused; its runs make no progress until `tradewind dags unpause {dag.dag_id}`"
    return None


def failed_deps(
    session: Session,
    ti: TaskInstance,
    snapshot: DagSnapshot,
    *,
    now: datetime,
    parallelism: int | None = None,
    run: DagRun | None = None,
) -> list[str]:
    """Every unmet condition for ``ti`` to start a try now; empty when it could run."""
    run = run or session.scalars(
        select(DagRun).where(DagRun.dag_id == ti.dag_id, DagRun.run_id == ti.run_id)
    ).one()
    if ti.task_id not in snapshot.tasks:
        return [f"task {ti.task_id} is not in DAG {snapshot.dag_id}'s version for this run"]
    task = snapshot.tasks[ti.task_id]
    reasons = [dag_is_unpaused(session.get(DagModel, ti.dag_id)), run_is_running(run), ti_state_is_schedulable(ti)]
    reasons.append(trigger_rule_met(task, snapshot, upstream_instance_states(session, ti, snapshot)))
    reasons.append(retry_delay_passed(ti, now))
    reasons.append(task_dates_allow(task, run.logical_date))
    if task.depends_on_past or task.wait_for_downstream:
        prev = previous_run(session, run)
        reasons.append(past_run_allows(task, None if prev is None else run_states(session, prev.dag_id, prev.run_id)))
    active = active_counts(session)
    is_active = ti.state in ACTIVE
    if not is_active:
        reasons.append(pool_has_slots(ti.pool, ti.pool_slots, pool_open_slots(session)))
        reasons.append(dag_concurrency_allows(ti.dag_id, active.get(ti.dag_id, 0), snapshot.max_active_tasks))
        if has_task_limits(task):
            per_task, per_run = task_active_counts(session, [(ti.dag_id, ti.task_id)])
            reasons.append(task_concurrency_allows(
                task, per_task.get((ti.dag_id, ti.task_id), 0), per_run.get((ti.dag_id, ti.run_id, ti.task_id), 0)
            ))
        if parallelism is not None:
            reasons.append(parallelism_allows(sum(active.values()), parallelism))
    return [r for r in reasons if r]
