"""What the manual actions (:mod:`tradewind.schedule.actions`) share: their errors, who acts,
lookups that raise :class:`NotFound`, the audit entry, and the "wake the scheduler" mark.

Errors carry no HTTP status: each interface maps the kind (:class:`NotFound`, :class:`Conflict`,
:class:`Invalid`) to its own answer (404/409/422, a CLI error line). ``field`` names the input
at fault with the REST API body's name (``conf``, ``new_state``, ``note``, ...) or is None.

Waking: an action that gives the scheduler work marks the session (:func:`mark_wake`); the
interface calls :func:`wake_after` once its transaction has committed. The mark is taken when
used, so a second call does not wake again, and a rolled-back action never wakes anyone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.db import Database
from tradewind.persist.models import DagModel, DagRun, TaskInstance
from tradewind.persist.queries import audit as audit_queries
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.queries.runs import get_run
from tradewind.persist.queries.task_instances import get_ti

#: ``session.info`` key an action sets when the scheduler should be woken after the commit.
WAKE_KEY = "tradewind.wake_scheduler"
#: The interfaces an :class:`Actor` may act through.
VIAS = ("api", "ui", "cli")


class ActionError(Exception):
    """A manual action cannot be done as asked; nothing was changed.

    ``field``: the input at fault (the REST API body's name) or None. ``title``: a short
    name of the problem (Airflow's, where it has one). ``errors``: every input at fault as
    ``{"field": ..., "msg": ...}`` when there are several (e.g. one per bad param of a conf).
    """

    def __init__(self, message: str, *, field: str | None = None, title: str | None = None,
                 errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.title = title
        self.errors = list(errors or [])


class NotFound(ActionError):
    """The DAG, run, task, task instance or backfill the action names does not exist."""


class Conflict(ActionError):
    """The action clashes with the current state (a taken run id, an illegal state change,
    running instances, an active or completed backfill)."""


class Invalid(ActionError):
    """The input itself is wrong (a bad conf, an unknown task, a note too long, ...)."""


@dataclass(frozen=True)
class Actor:
    """Who performs a manual action and through which interface; recorded in the audit log."""

    username: str | None
    via: str  # "api", "ui" or "cli"

    def __post_init__(self) -> None:
        if self.via not in VIAS:
            raise ValueError(f"Actor.via must be one of {', '.join(VIAS)}, got {self.via!r}")


# ------------------------------------------------------------------------ waking
def mark_wake(session: Session) -> None:
    """Note that the scheduler should be woken once this session's transaction has committed."""
    session.info[WAKE_KEY] = True


def wake_needed(session: Session) -> bool:
    """Whether an action in ``session`` asked for the scheduler to be woken (not yet done)."""
    return bool(session.info.get(WAKE_KEY))


def wake_after(db: Database, session: Session) -> bool:
    """Call after the ``with db.session_scope() as session:`` block of actions has committed:
    wakes the scheduler once if any action asked for it. True when a wake-up was sent."""
    if not session.info.pop(WAKE_KEY, False):
        return False
    from tradewind.schedule.wakeup import notify_scheduler

    notify_scheduler(db)
    return True


# ------------------------------------------------------------------------ audit
def record(session: Session, actor: Actor, event: str, *, now: datetime, dag_id: str | None = None,
           run_id: str | None = None, task_id: str | None = None, map_index: int | None = None,
           extra: dict[str, Any] | None = None) -> None:
    """The action's audit entry, in the caller's transaction; ``extra`` gets ``source`` (the interface)."""
    audit_queries.record(session, event, actor.username, dag_id=dag_id, run_id=run_id, task_id=task_id,
                         map_index=map_index, extra={"source": actor.via, **(extra or {})}, now=now)


# ------------------------------------------------------------------------ lookups
def find_dag(session: Session, dag_id: str) -> DagModel:
    """The DAG's row; :class:`NotFound` in Airflow's words."""
    dag = session.get(DagModel, dag_id)
    if dag is None:
        raise NotFound(f"DAG with dag_id: '{dag_id}' not found", field="dag_id", title="DAG not found")
    return dag


def find_snapshot(session: Session, dag_id: str) -> tuple[int, DagSnapshot]:
    """(version id, snapshot) of the DAG's latest parsed version; :class:`NotFound` without one."""
    latest = dag_queries.latest_snapshot(session, dag_id)
    if latest is None:
        find_dag(session, dag_id)
        raise NotFound(f"DAG with dag_id: '{dag_id}' has no parsed version yet", field="dag_id",
                       title="DAG not found")
    version, snapshot = latest
    return version.id, snapshot


def find_run(session: Session, dag_id: str, run_id: str) -> DagRun:
    """The run; :class:`NotFound` naming the DAG when the DAG is missing, else the run."""
    run = get_run(session, dag_id, run_id)
    if run is None:
        find_dag(session, dag_id)
        raise NotFound(f"DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{run_id}' not found",
                       field="dag_run_id", title="DAGRun not found")
    return run


def find_run_at(session: Session, dag_id: str, logical_date: datetime, *, field: str = "logical_date") -> DagRun:
    """The DAG's run with that (time-zone aware) logical date, the newest if several; :class:`NotFound`
    naming both, :class:`Invalid` for a date without time zone. ``field``: the input's name."""
    check_aware(logical_date, field)
    run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date)
                          .order_by(DagRun.id.desc()).limit(1)).first()
    if run is None:
        find_dag(session, dag_id)
        raise NotFound(f"DAGRun with DAG ID: '{dag_id}' and logical date: '{logical_date.isoformat()}' not found",
                       field=field, title="DAGRun not found")
    return run


def run_snapshot(session: Session, run: DagRun) -> DagSnapshot:
    """The snapshot the run was created with (its own version), else the DAG's latest."""
    if run.dag_version_id is not None:
        snap = dag_queries.snapshot_for_version(session, run.dag_version_id)
        if snap is not None:
            return snap
    return find_snapshot(session, run.dag_id)[1]


def find_task_instance(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
    """One task instance; :class:`NotFound` naming the DAG, the run or the instance, whichever is missing."""
    ti = get_ti(session, dag_id, run_id, task_id, map_index)
    if ti is None:
        find_run(session, dag_id, run_id)
        raise NotFound(f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}` "
                       f"and map_index: `{map_index}` was not found", field="task_id",
                       title="Task instance not found")
    return ti


def check_task(snapshot: DagSnapshot, task_id: str) -> None:
    """:class:`NotFound` unless the DAG version has the task."""
    if task_id not in snapshot.tasks:
        raise NotFound(f"Task with id '{task_id}' not found in DAG '{snapshot.dag_id}'", field="task_id",
                       title="Task not found")


def check_conf_size(conf: Any, limit: int, *, field: str = "conf") -> None:
    """:class:`Invalid` when the conf's JSON is bigger than ``[core] max_conf_size`` bytes."""
    if conf is None:
        return
    try:
        size = len(json.dumps(conf, separators=(",", ":")).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{field} must be JSON-serialisable: {exc}", field=field) from None
    if size > limit:
        raise Invalid(f"{field} is {size} bytes of JSON; [core] max_conf_size allows {limit}", field=field)


def check_aware(value: datetime | None, field: str) -> None:
    """:class:`Invalid` for a date without a time zone (it would be read in an unknown zone)."""
    if value is not None and value.tzinfo is None:
        raise Invalid(f"{field} must include a time zone offset (e.g. 2024-01-01T00:00:00Z)", field=field)
