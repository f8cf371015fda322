"""Manual backfill actions: create (or dry-run), pause, unpause, cancel.

Re-exported by :mod:`tradewind.schedule.actions`, whose rules they follow (caller's session,
audit entry, :class:`~tradewind.schedule.action_support.ActionError` kinds, wake mark). The
scheduler does the backfill's work (:mod:`tradewind.schedule.backfill`); these only write the
request and change its flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.persist.models import Backfill
from tradewind.persist.queries import backfills as backfill_queries
from tradewind.schedule import backfill as bf
from tradewind.schedule.action_support import (
    Actor,
    Conflict,
    Invalid,
    NotFound,
    check_aware,
    check_conf_size,
    find_snapshot,
    mark_wake,
    record,
)


@dataclass(frozen=True)
class BackfillCreated:
    """What :func:`create_backfill` did: the new backfill (None on a dry run) and, for each
    logical date in run order, what the backfill does there (create, reprocess, skip and why)."""

    backfill: Backfill | None
    plan: list[bf.PlannedDate] = field(default_factory=list)


def find_backfill(session: Session, backfill_id: int) -> Backfill:
    """The backfill's row; :class:`NotFound` naming the id."""
    row = backfill_queries.get_backfill(session, backfill_id)
    if row is None:
        raise NotFound(f"Backfill with id {backfill_id} not found", field="backfill_id", title="Backfill not found")
    return row


def create_backfill(session: Session, actor: Actor, dag_id: str, *, from_date: datetime, to_date: datetime,
                    run_backwards: bool = False, dag_run_conf: dict[str, Any] | None = None,
                    reprocess_behavior: str = "none", max_active_runs: int = 10, dry_run: bool = False,
                    config: Any, now: datetime) -> BackfillCreated:
    """Create a backfill of ``dag_id`` over the logical dates its schedule gives in
    ``[from_date, to_date]`` (both inclusive, time-zone aware); the scheduler then runs them.

    ``dry_run``: only the plan (even an empty one), nothing written or recorded. Otherwise audit
    event ``backfill.create`` and a wake-up. ``dag_run_conf`` is refused above ``config``'s
    ``[core] max_conf_size`` bytes of JSON, or when it breaks the DAG's params.

    Raises :class:`NotFound` (DAG), :class:`Conflict` (the DAG already has an active backfill),
    :class:`Invalid` (dates, reprocess_behavior, max_active_runs, run_backwards with
    depends_on_past tasks, conf, a schedule that is not time-based, no dates in the range).
    """
    check_aware(from_date, "from_date")
    check_aware(to_date, "to_date")
    check_conf_size(dag_run_conf, config.getint("core", "max_conf_size"), field="dag_run_conf")
    _, snapshot = find_snapshot(session, dag_id)
    active = backfill_queries.active_backfill_for_dag(session, dag_id)
    if active is not None:
        raise Conflict(f"DAG {dag_id} already has an active backfill (id {active.id}); cancel it first",
                       field="dag_id", title="Backfill already exists")
    try:
        if dry_run:
            bf.validate_backfill(session, snapshot, reprocess_behavior=reprocess_behavior,
                                 max_active_runs=max_active_runs, run_backwards=run_backwards, conf=dag_run_conf)
            return BackfillCreated(None, bf.plan_backfill(session, snapshot, from_date, to_date,
                                                          reprocess_behavior=reprocess_behavior,
                                                          run_backwards=run_backwards, now=now))
        row, plan = bf.create_backfill_with_plan(
            session, snapshot, from_date=from_date, to_date=to_date, reprocess_behavior=reprocess_behavior,
            max_active_runs=max_active_runs, run_backwards=run_backwards, conf=dag_run_conf,
            user=actor.username, now=now)
    except bf.BackfillError as exc:
        raise Invalid(str(exc), field=exc.field) from None
    record(session, actor, "backfill.create", now=now, dag_id=dag_id, extra={
        "backfill_id": row.id, "from_date": from_date, "to_date": to_date, "reprocess_behavior": reprocess_behavior,
        "max_active_runs": max_active_runs, "run_backwards": run_backwards, "conf": dag_run_conf or {}})
    mark_wake(session)
    return BackfillCreated(row, plan)


def _set_paused(session: Session, actor: Actor, backfill_id: int, paused: bool, now: datetime) -> Backfill:
    row = find_backfill(session, backfill_id)
    if row.completed_at is not None:
        raise Conflict(f"backfill {backfill_id} already completed at {row.completed_at.isoformat()}",
                       field="backfill_id", title="Backfill completed")
    row.is_paused = paused
    session.flush()
    record(session, actor, "backfill.pause" if paused else "backfill.unpause", now=now, dag_id=row.dag_id,
           extra={"backfill_id": backfill_id})
    if not paused:
        mark_wake(session)
    return row


def pause_backfill(session: Session, actor: Actor, backfill_id: int, *, now: datetime) -> Backfill:
    """Pause a backfill: the scheduler starts none of its runs until it is unpaused (running ones go on).

    Audit event ``backfill.pause``. Raises :class:`NotFound`, :class:`Conflict` (already completed).
    """
    return _set_paused(session, actor, backfill_id, True, now)


def unpause_backfill(session: Session, actor: Actor, backfill_id: int, *, now: datetime) -> Backfill:
    """Unpause a backfill. Audit event ``backfill.unpause``; wakes the scheduler.
    Raises :class:`NotFound`, :class:`Conflict` (already completed)."""
    return _set_paused(session, actor, backfill_id, False, now)


def cancel_backfill(session: Session, actor: Actor, backfill_id: int, *, now: datetime) -> Backfill:
    """Cancel a backfill (Airflow 3): no new runs; its queued runs fail; running runs finish.

    Audit event ``backfill.cancel`` (``extra``: ``failed_queued_runs``); wakes the scheduler.
    Raises :class:`NotFound`, :class:`Conflict` (already completed).
    """
    row = find_backfill(session, backfill_id)
    try:
        failed = bf.cancel_backfill(session, row, now)
    except bf.BackfillError as exc:
        raise Conflict(str(exc), field="backfill_id", title="Backfill completed") from None
    record(session, actor, "backfill.cancel", now=now, dag_id=row.dag_id,
           extra={"backfill_id": backfill_id, "failed_queued_runs": failed})
    mark_wake(session)
    return row
