"""What every resource module shares: auth, sessions, lookups that 404, audit, waking the scheduler.

Transactions stay visible in the routes (``with write(request) as session:``): a write commits
when its block ends, and only then is the scheduler woken, so it never looks before the commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import Select
from sqlalchemy.orm import Session

from tradewind.observe.api.auth import authorize
from tradewind.observe.api.errors import bad_request, not_found
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.db import Database, utcnow
from tradewind.persist.models import DagModel, DagRun, TaskInstance
from tradewind.persist.queries import audit as audit_queries
from tradewind.persist.queries import dags as dag_queries

API = "/api/v1"

#: The ``~`` path segment that means "every DAG" / "every run" (Airflow's wildcard).
ALL = "~"


def can(resource: str, action: str) -> Any:
    """Dependency: the caller's Principal when its role may do ``action`` on ``resource`` (else 401/403)."""
    return Depends(authorize(resource, action))


def user_of(principal: Any) -> str | None:
    """The username recorded in audit entries."""
    return getattr(principal, "username", None)


def database(request: Request) -> Database:
    return request.app.state.db


@contextmanager
def read(request: Request) -> Iterator[Session]:
    """A read-only session (never takes SQLite's write lock)."""
    with database(request).read_scope() as session:
        yield session


@contextmanager
def write(request: Request) -> Iterator[Session]:
    """A session in one transaction, committed at the end of the block."""
    with database(request).session_scope() as session:
        yield session


def now() -> datetime:
    return utcnow()


def wake_scheduler(request: Request) -> None:
    """After a committed write that gives the scheduler work (trigger, clear, mark, unpause)."""
    from tradewind.schedule.wakeup import notify_scheduler

    notify_scheduler(database(request))


def audit(session: Session, principal: Any, event: str, **fields: Any) -> None:
    """One audit-log entry for a state-changing call, owned by the caller's username."""
    audit_queries.record(session, event, user_of(principal), now=now(), **fields)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ------------------------------------------------------------------------- lookups
def dag_or_404(session: Session, dag_id: str) -> DagModel:
    dag = session.get(DagModel, dag_id)
    if dag is None:
        raise not_found(f"DAG with dag_id: '{dag_id}' not found", title="DAG not found")
    return dag


def snapshot_or_404(session: Session, dag_id: str) -> tuple[int, DagSnapshot]:
    """(version id, snapshot) of the DAG's latest version."""
    latest = dag_queries.latest_snapshot(session, dag_id)
    if latest is None:
        dag_or_404(session, dag_id)
        raise not_found(f"DAG with dag_id: '{dag_id}' has no parsed version yet", title="DAG not found")
    version, snapshot = latest
    return version.id, snapshot


def run_snapshot(session: Session, run: DagRun) -> DagSnapshot:
    """The snapshot a run was created with (its own version), else the DAG's latest."""
    if run.dag_version_id is not None:
        snap = dag_queries.snapshot_for_version(session, run.dag_version_id)
        if snap is not None:
            return snap
    return snapshot_or_404(session, run.dag_id)[1]


def run_or_404(session: Session, dag_id: str, run_id: str) -> DagRun:
    from tradewind.persist.queries.runs import get_run

    run = get_run(session, dag_id, run_id)
    if run is None:
        dag_or_404(session, dag_id)
        raise not_found(f"DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{run_id}' not found",
                        title="DAGRun not found")
    return run


def ti_or_404(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
    from tradewind.persist.queries.task_instances import get_ti

    ti = get_ti(session, dag_id, run_id, task_id, map_index)
    if ti is None:
        run_or_404(session, dag_id, run_id)
        which = "" if map_index < 0 else f" and map_index {map_index}"
        raise not_found(f"Task instance of task '{task_id}'{which} in DAG run '{run_id}' of DAG '{dag_id}' not found",
                        title="Task instance not found")
    return ti


def where_equal(stmt: Select[Any], wanted: Iterable[tuple[Any, Any]]) -> Select[Any]:
    """``stmt`` keeping the rows whose column equals the value, for each (column, value) pair whose
    value is given (``None`` filters nothing): the exact-match query parameters of the list routes."""
    for column, value in wanted:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def masked_fields(update_mask: list[str] | None, given: Iterable[str], allowed: Sequence[str], *,
                  ignored: Iterable[str] = ()) -> set[str]:
    """The fields a PATCH changes (Airflow's ``update_mask``): those of the mask, else those the body
    gave. A name outside ``allowed`` (and ``ignored``, e.g. the resource's own id) is a 400 naming it."""
    fields = set(update_mask) if update_mask else set(given)
    unknown = fields - set(allowed) - set(ignored)
    if unknown:
        raise bad_request(f"update_mask may name {', '.join(allowed)}, not {', '.join(sorted(unknown))}",
                          field="update_mask")
    return fields
