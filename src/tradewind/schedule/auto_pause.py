"""Pause a DAG whose last N runs all failed (``max_consecutive_failed_dag_runs``, Airflow 2.9+).

A DAG that keeps failing burns resources and floods alerts; after N failed runs in a row
the scheduler pauses it, writes an audit entry (event ``dag.auto_pause``, owner
``scheduler``) and logs a warning. Someone unpauses it once the cause is fixed.

The check runs only when a run has just finished failed (its transaction is still open),
so a healthy DAG costs nothing. N is the DAG's ``max_consecutive_failed_dag_runs``, or
``[core] max_consecutive_failed_dag_runs_per_dag`` when the DAG leaves it at 0; 0 is off.
Runs are ordered newest first by logical date (run_after for runs without one), any run type.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.config import Config
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.models import DagModel, DagRun
from tradewind.persist.queries import audit
from tradewind.persist.queries import dags as dag_queries
from tradewind.states import DagRunState

__all__ = ["AUTO_PAUSE_EVENT", "consecutive_failure_limit", "pause_if_failing"]

log = logging.getLogger(__name__)

AUTO_PAUSE_EVENT = "dag.auto_pause"
CONFIG_KEY = "max_consecutive_failed_dag_runs_per_dag"


def consecutive_failure_limit(snap: DagSnapshot, config: Config) -> int:
    """The DAG's own limit, else the configured default (0: never pause)."""
    return snap.max_consecutive_failed_dag_runs or config.getint("core", CONFIG_KEY)


def pause_if_failing(session: Session, dag_id: str, limit: int, *, now: datetime) -> bool:
    """Pause ``dag_id`` if its ``limit`` newest runs all failed; True if it was paused now.

    Call after a run of ``dag_id`` was set failed in ``session``.
    """
    if limit <= 0:
        return False
    newest_first = func.coalesce(DagRun.logical_date, DagRun.run_after).desc()
    states = session.scalars(
        select(DagRun.state).where(DagRun.dag_id == dag_id).order_by(newest_first, DagRun.id.desc()).limit(limit)
    ).all()
    if len(states) < limit or any(state != DagRunState.FAILED.value for state in states):
        return False
    model = session.get(DagModel, dag_id)
    if model is None or model.is_paused:
        return False
    dag_queries.set_paused(session, dag_id, True)
    audit.record(session, AUTO_PAUSE_EVENT, "scheduler", dag_id=dag_id,
                 extra={"max_consecutive_failed_dag_runs": limit, "is_paused": True}, now=now)
    log.warning("Pausing DAG %s: its last %d DAG runs failed (max_consecutive_failed_dag_runs=%d)",
                dag_id, limit, limit)
    return True
