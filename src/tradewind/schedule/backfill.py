"""Backfills: runs of a DAG over past logical dates, created and driven by the scheduler.

Creating a backfill (CLI, API) only writes a :class:`~tradewind.persist.models.Backfill`
row and one :class:`~tradewind.persist.models.BackfillDagRun` row per logical date the
DAG's timetable gives in ``[from_date, to_date]`` (both inclusive, as in Airflow; only
dates whose run would already be due). The scheduler's backfill step
(:func:`step_backfills`) then creates the runs — run type ``backfill``, run id
``backfill__<logical date>``, ``dag_run.backfill_id`` set — keeping at most the
backfill's ``max_active_runs`` of them queued or running, in date order (newest first
with ``run_backwards``), and marks the backfill completed once every date has a
finished run or a reason for having none.

What happens to a date that already has a run (Airflow's ``reprocess_behavior``):

* a run still queued/running is never touched: the date is skipped, reason ``in flight``;
* ``none``: any finished run is kept (reason ``already exists``);
* ``failed``: a failed run is cleared and taken over by the backfill, a successful one kept;
* ``completed``: every finished run is cleared and taken over.

The decision is made when the backfill is created (reasons are visible at once) and
made again for each date when its turn comes, as a run may have started or finished
in between.

Backfill runs count against the backfill's ``max_active_runs``, not the DAG's, and
they run even while the DAG is paused (the DAG's own schedule stays paused): see
``docs/backfill.md``. Cancelling stops new runs, fails the backfill's queued runs and
lets its running runs finish (Airflow 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.definition.params import InvalidParamsError, resolve_run_params
from tradewind.definition.timetables import DagRunInfo, iter_dagrun_infos
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import Backfill, BackfillDagRun, DagModel, DagRun, DagVersion, TaskInstance
from tradewind.persist.queries import backfills as queries
from tradewind.persist.queries import runs as run_queries
from tradewind.schedule import transitions
from tradewind.schedule.runs import timetable_of
from tradewind.states import DagRunState, DagRunType

REPROCESS_BEHAVIORS = ("none", "failed", "completed")
#: Reasons a date gets no run (``backfill_dag_run.exception_reason``); Airflow's first two.
IN_FLIGHT = "in flight"
ALREADY_EXISTS = "already exists"
CANCELLED = "cancelled"
#: A range bigger than this is refused: it is almost surely a mistake (a minutely DAG over years).
MAX_DATES = 100_000

Action = Literal["create", "reprocess", "skip"]
T = TypeVar("T")


class BackfillError(ValueError):
    """A backfill cannot be created or changed as asked; the message says why, ``field`` names
    the request's input at fault (the REST API body's name) or is None."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PlannedDate:
    """What a backfill would do for one logical date, as of now."""

    info: DagRunInfo
    action: Action
    #: Why it is skipped (``in flight`` / ``already exists``), else None.
    reason: str | None = None
    #: The existing run it skips or reprocesses.
    existing_run_id: str | None = None

    @property
    def logical_date(self) -> datetime:
        return self.info.logical_date  # type: ignore[return-value]

    def describe(self) -> str:
        if self.action == "create":
            return "create a new run"
        if self.action == "reprocess":
            return f"clear and re-run {self.existing_run_id}"
        return f"skip ({self.reason}: {self.existing_run_id})"


def backfill_dates(snapshot: DagSnapshot, from_date: datetime, to_date: datetime, *, now: datetime,
                   reverse: bool = False) -> list[DagRunInfo]:
    """The runs the DAG's timetable gives with a logical date in ``[from_date, to_date]``.

    Clamped to the DAG's start/end dates; only runs already due (``run_after <= now``).
    Raises :class:`BackfillError` for a DAG without a time-based schedule, a reversed or
    oversized range.
    """
    if from_date > to_date:
        raise BackfillError(f"--from-date {from_date.isoformat()} is after --to-date {to_date.isoformat()}",
                            field="from_date")
    timetable = timetable_of(snapshot)
    if not timetable.periodic:
        raise BackfillError(
            f"DAG {snapshot.dag_id} has schedule {snapshot.timetable_summary!r}: a backfill needs a time-based "
            "schedule (cron, preset or timedelta)", field="dag_id")
    start = max(from_date, snapshot.start_date_dt) if snapshot.start_date_dt else from_date
    end = min(to_date, snapshot.end_date_dt) if snapshot.end_date_dt else to_date
    infos: list[DagRunInfo] = []
    for info in iter_dagrun_infos(timetable, start=start, end=end, catchup=True, now=now):
        if info.logical_date > end or info.run_after > now:  # type: ignore[operator]
            break
        infos.append(info)
        if len(infos) > MAX_DATES:
            raise BackfillError(f"the range gives more than {MAX_DATES} runs of DAG {snapshot.dag_id}; "
                                "backfill a smaller range", field="to_date")
    if reverse:
        infos.reverse()
    return infos


def _decide(existing: DagRun | None, reprocess: str) -> tuple[Action, str | None]:
    if existing is None:
        return "create", None
    if existing.state not in (DagRunState.SUCCESS.value, DagRunState.FAILED.value):
        return "skip", IN_FLIGHT
    if reprocess == "completed" or (reprocess == "failed" and existing.state == DagRunState.FAILED.value):
        return "reprocess", None
    return "skip", ALREADY_EXISTS


def plan_backfill(session: Session, snapshot: DagSnapshot, from_date: datetime, to_date: datetime, *,
                  reprocess_behavior: str = "none", run_backwards: bool = False, now: datetime) -> list[PlannedDate]:
    """What a backfill would do for each date, in run order (``--dry-run`` prints this)."""
    _check_reprocess(reprocess_behavior)
    plan = []
    for info in backfill_dates(snapshot, from_date, to_date, now=now, reverse=run_backwards):
        existing = queries.latest_run_at(session, snapshot.dag_id, info.logical_date)  # type: ignore[arg-type]
        action, reason = _decide(existing, reprocess_behavior)
        plan.append(PlannedDate(info, action, reason, existing.run_id if existing else None))
    return plan


def _check_reprocess(value: str) -> None:
    if value not in REPROCESS_BEHAVIORS:
        raise BackfillError(f"reprocess behavior {value!r} is not one of {', '.join(REPROCESS_BEHAVIORS)}",
                            field="reprocess_behavior")


def validate_backfill(session: Session, snapshot: DagSnapshot, *, reprocess_behavior: str, max_active_runs: int,
                      run_backwards: bool, conf: dict[str, Any] | None) -> None:
    """Everything about a backfill request except its dates; raises :class:`BackfillError`."""
    _check_reprocess(reprocess_behavior)
    if max_active_runs < 1:
        raise BackfillError(f"max_active_runs must be at least 1, got {max_active_runs}", field="max_active_runs")
    if run_backwards:
        past = sorted(tid for tid, t in snapshot.tasks.items() if t.depends_on_past)
        if past:
            raise BackfillError(f"DAG {snapshot.dag_id} cannot be backfilled backwards: tasks {', '.join(past)} "
                                "have depends_on_past=True (each run needs the one before it)",
                                field="run_backwards")
    if conf is not None and not isinstance(conf, dict):
        raise BackfillError(f"conf must be a JSON object, got {type(conf).__name__}", field="dag_run_conf")
    if snapshot.params:
        try:
            resolve_run_params(snapshot.params, conf, dag_id=snapshot.dag_id)
        except InvalidParamsError as exc:
            raise BackfillError(f"conf does not fit the DAG's params: {exc}", field="dag_run_conf") from None
    active = queries.active_backfill_for_dag(session, snapshot.dag_id)
    if active is not None:
        raise BackfillError(f"DAG {snapshot.dag_id} already has an active backfill (id {active.id}); "
                            f"cancel it first with `tradewind backfill cancel {active.id}`", field="dag_id")


def create_backfill(session: Session, snapshot: DagSnapshot, *, from_date: datetime, to_date: datetime,
                    reprocess_behavior: str = "none", max_active_runs: int = 10, run_backwards: bool = False,
                    conf: dict[str, Any] | None = None, user: str | None = None, now: datetime) -> Backfill:
    """Write the Backfill row and one BackfillDagRun row per date; the scheduler does the rest.

    Callers in another process should :func:`~tradewind.schedule.wakeup.notify_scheduler` after
    committing. Raises :class:`BackfillError` (nothing written) for bad input: a DAG without a
    time-based schedule, ``from_date > to_date``, a range with no runs, backwards with
    ``depends_on_past`` tasks, conf that breaks the DAG's params, an active backfill of the DAG.
    Manual requests go through :func:`tradewind.schedule.actions.create_backfill` (audit, limits).
    """
    return create_backfill_with_plan(session, snapshot, from_date=from_date, to_date=to_date,
                                     reprocess_behavior=reprocess_behavior, max_active_runs=max_active_runs,
                                     run_backwards=run_backwards, conf=conf, user=user, now=now)[0]


def create_backfill_with_plan(session: Session, snapshot: DagSnapshot, *, from_date: datetime, to_date: datetime,
                              reprocess_behavior: str = "none", max_active_runs: int = 10,
                              run_backwards: bool = False, conf: dict[str, Any] | None = None,
                              user: str | None = None, now: datetime) -> tuple[Backfill, list[PlannedDate]]:
    """:func:`create_backfill`, also returning the plan it wrote (what each date will get)."""
    validate_backfill(session, snapshot, reprocess_behavior=reprocess_behavior, max_active_runs=max_active_runs,
                      run_backwards=run_backwards, conf=conf)
    plan = plan_backfill(session, snapshot, from_date, to_date, reprocess_behavior=reprocess_behavior,
                         run_backwards=run_backwards, now=now)
    if not plan:
        raise BackfillError(f"DAG {snapshot.dag_id} has no runs to backfill with a logical date from "
                            f"{from_date.isoformat()} to {to_date.isoformat()} (schedule {snapshot.timetable_summary}, "
                            f"start_date {snapshot.start_date or 'none'})", field="from_date")
    backfill = Backfill(
        dag_id=snapshot.dag_id, from_date=from_date, to_date=to_date, dag_run_conf=dict(conf or {}),
        reprocess_behavior=reprocess_behavior, max_active_runs=max_active_runs, run_backwards=run_backwards,
        is_paused=False, created_at=now, triggering_user_name=user,
    )
    session.add(backfill)
    session.flush()
    for ordinal, planned in enumerate(plan, start=1):
        session.add(BackfillDagRun(backfill_id=backfill.id, logical_date=planned.logical_date,
                                   exception_reason=planned.reason, sort_ordinal=ordinal))
    session.flush()
    return backfill, plan


def cancel_backfill(session: Session, backfill: Backfill, now: datetime) -> int:
    """Stop a backfill (Airflow 3): no new runs; its queued runs fail; running runs finish.

    Dates that had no run yet get the reason ``cancelled``. Returns how many queued runs
    were failed. Raises :class:`BackfillError` when the backfill has already completed.
    """
    if backfill.completed_at is not None:
        raise BackfillError(f"backfill {backfill.id} already completed at {backfill.completed_at.isoformat()}")
    backfill.is_paused = True
    backfill.completed_at = now
    for row in queries.pending_dates(session, backfill.id, limit=MAX_DATES + 1):
        row.exception_reason = CANCELLED
    queued = session.scalars(select(DagRun).where(
        DagRun.backfill_id == backfill.id, DagRun.state == DagRunState.QUEUED.value)).all()
    for run in queued:
        transitions.set_run_state(session, run, DagRunState.FAILED, now)
    session.flush()
    return len(queued)


# ------------------------------------------------------------------ the scheduler's step
@dataclass
class StepResult:
    created: int = 0
    completed: int = 0

    def __bool__(self) -> bool:
        return bool(self.created or self.completed)


def step_backfills(session: Session, now: datetime) -> StepResult:
    """One scheduler step for every running backfill: create (or take over) the next runs up to
    its ``max_active_runs``; mark it completed when nothing is left to run or running."""
    result = StepResult()
    for backfill in queries.runnable_backfills(session):
        active = queries.unfinished_run_count(session, backfill.id)
        free = backfill.max_active_runs - active
        pending = queries.pending_dates(session, backfill.id, limit=max(free, 1))
        if not pending:
            if active == 0:
                backfill.completed_at = now
                result.completed += 1
            continue
        if free <= 0:
            continue
        target = _dag_version(session, backfill.dag_id)
        if target is None:
            continue  # the DAG has no parsed version (deleted meanwhile): its cascade removes the backfill
        version_id, snapshot = target
        for row in pending[:free]:
            if _start_date(session, backfill, row, snapshot, version_id, now):
                result.created += 1
    session.flush()
    return result


def _dag_version(session: Session, dag_id: str) -> tuple[int, DagSnapshot] | None:
    row = session.execute(
        select(DagVersion.id, DagVersion.snapshot).join(DagModel, DagModel.latest_version_id == DagVersion.id)
        .where(DagModel.dag_id == dag_id)
    ).first()
    return (row[0], DagSnapshot.from_dict(row[1])) if row is not None else None


def _start_date(session: Session, backfill: Backfill, row: BackfillDagRun, snapshot: DagSnapshot,
                version_id: int, now: datetime) -> bool:
    """Create or take over the run of one date; or record why not. True when a run was queued."""
    existing = queries.latest_run_at(session, backfill.dag_id, row.logical_date)
    action, reason = _decide(existing, backfill.reprocess_behavior)
    if action == "skip":
        row.exception_reason = reason
        return False
    if action == "reprocess":
        _take_over(session, backfill, existing, snapshot, now)  # type: ignore[arg-type]
        row.dag_run_id = existing.id  # type: ignore[union-attr]
        return True
    run_id = DagRunType.BACKFILL.run_id_for(row.logical_date.isoformat())
    if run_queries.run_exists(session, backfill.dag_id, run_id):
        row.exception_reason = ALREADY_EXISTS
        return False
    info = next((i for i in backfill_dates(snapshot, row.logical_date, row.logical_date, now=now)), None)
    if info is None:  # the schedule changed since the backfill was created: no run at that date any more
        row.exception_reason = "not in schedule"
        return False
    run = DagRun(
        dag_id=backfill.dag_id, run_id=run_id, run_type=DagRunType.BACKFILL.value, state=DagRunState.QUEUED.value,
        logical_date=row.logical_date, data_interval_start=info.data_interval.start,
        data_interval_end=info.data_interval.end, run_after=info.run_after, queued_at=now,
        conf=dict(backfill.dag_run_conf or {}), external_trigger=False, triggered_by="backfill",
        dag_version_id=version_id, backfill_id=backfill.id,
    )
    session.add(run)
    session.flush()
    row.dag_run_id = run.id
    return True


def _take_over(session: Session, backfill: Backfill, run: DagRun, snapshot: DagSnapshot, now: datetime) -> None:
    """Clear a finished run so it runs again as part of the backfill (Airflow's reprocessing)."""
    tis = session.scalars(select(TaskInstance).where(
        TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)).all()
    retries = {tid: t.retries for tid, t in snapshot.tasks.items()}
    if tis:
        transitions.clear_task_instances(session, tis, now=now, dag_run_state=DagRunState.QUEUED,
                                         retries_by_task=retries)
    else:
        transitions.set_run_state(session, run, DagRunState.QUEUED, now)
    run.backfill_id = backfill.id
    run.run_type = DagRunType.BACKFILL.value
    run.triggered_by = "backfill"
    if backfill.dag_run_conf:
        run.conf = dict(backfill.dag_run_conf)


# ------------------------------------------------------------------ progress (CLI/API)
@dataclass(frozen=True)
class Progress:
    """How far a backfill is: ``done`` of ``total`` dates settled; ``failed`` runs among them."""

    total: int
    done: int
    failed: int
    completed: bool


def progress(session: Session, backfill: Backfill) -> Progress:
    """Dates are settled when skipped (with a reason) or when their run finished."""
    states = queries.run_states(session, [backfill.id])[backfill.id]
    total, _with_run, skipped = queries.date_counts(session, [backfill.id])[backfill.id]
    finished = states.get(DagRunState.SUCCESS.value, 0) + states.get(DagRunState.FAILED.value, 0)
    return Progress(total=total, done=min(total, skipped + finished),
                    failed=states.get(DagRunState.FAILED.value, 0), completed=backfill.completed_at is not None)


# ------------------------------------------------------------------ fair share of slots
def backfill_slot_cap(free: int, live_waiting: int) -> int:
    """How many of ``free`` slots backfill instances may take before other work has had its turn.

    While ``live_waiting`` instances of other runs (scheduled, manual, ...) wait, half the free
    slots (rounded up), or as many as they need if fewer, are held for them.
    """
    return free - min(live_waiting, (free + 1) // 2)


def fair_share_order(candidates: Iterable[T], free: int, is_backfill: Callable[[T], bool], *,
                     live_waiting: int | None = None) -> Iterator[T]:
    """Candidates in their (priority) order, except that backfill ones beyond
    :func:`backfill_slot_cap` are held back and offered after all the others.

    So a big backfill cannot take every slot while live runs' instances wait, and the
    slots live instances cannot use (pools, concurrency limits) still go to the backfill.
    ``live_waiting``: how many candidates are not backfill ones, when the caller knows (then
    ``candidates`` may be a lazy iterator, consumed only as far as the caller reads).
    """
    if live_waiting is None:
        candidates = list(candidates)
        live_waiting = sum(1 for c in candidates if not is_backfill(c))
    cap = backfill_slot_cap(free, live_waiting)
    held: list[T] = []
    offered = 0
    for candidate in candidates:
        if is_backfill(candidate):
            if offered >= cap:
                held.append(candidate)
                continue
            offered += 1
        yield candidate
    yield from held
