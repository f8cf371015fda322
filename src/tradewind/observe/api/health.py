"""``GET /api/v1/health``: is the metadata database reachable, is a scheduler alive?

Same response shape as Airflow's health endpoint::

    {"metadatabase": {"status": "healthy"},
     "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2024-01-01T00:00:00+00:00"}}

The scheduler is "healthy" when a running scheduler job heartbeated within
``[scheduler] scheduler_health_check_threshold`` seconds (default 30, as Airflow).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select, text

from tradewind.persist.db import Database
from tradewind.persist.models import Job

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
DEFAULT_THRESHOLD = timedelta(seconds=30)

#: Job types whose heartbeat counts as "a scheduler is running".
SCHEDULER_JOB_TYPES = ("SchedulerJob", "scheduler", "standalone")


def latest_scheduler_heartbeat(db: Database) -> datetime | None:
    """Newest heartbeat of a running scheduler job, or None when there is none."""
    with db.session_scope() as session:
        return session.scalar(
            select(Job.latest_heartbeat)
            .where(Job.job_type.in_(SCHEDULER_JOB_TYPES), Job.state == "running")
            .order_by(Job.latest_heartbeat.desc())
            .limit(1)
        )


def health_status(
    db: Database, *, now: datetime | None = None, threshold: timedelta = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """The health document; never raises (an unreachable database is reported as unhealthy)."""
    now = now or datetime.now(timezone.utc)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_status = HEALTHY
    except Exception:  # noqa: BLE001 - any failure means "unhealthy", the reason is not exposed
        db_status = UNHEALTHY
    heartbeat: datetime | None = None
    if db_status == HEALTHY:
        try:
            heartbeat = latest_scheduler_heartbeat(db)
        except Exception:  # noqa: BLE001 - e.g. schema not migrated yet
            heartbeat = None
    alive = heartbeat is not None and now - heartbeat <= threshold
    return {
        "metadatabase": {"status": db_status},
        "scheduler": {
            "status": HEALTHY if alive else UNHEALTHY,
            "latest_scheduler_heartbeat": heartbeat.isoformat() if heartbeat else None,
        },
    }


def make_router(clock: Callable[[], datetime] | None = None) -> APIRouter:
    """Router with the health endpoint; reads ``db`` and ``health_threshold`` from ``app.state``."""
    router = APIRouter()

    @router.get("/api/v1/health", tags=["Monitor"])
    def get_health(request: Request) -> dict[str, Any]:
        state = request.app.state
        now = clock() if clock else None
        return health_status(state.db, now=now, threshold=state.health_threshold)

    return router
