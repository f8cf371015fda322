"""``GET /api/v1/health``: is the metadata database reachable, are the scheduler, the triggerer
and the DAG processor alive and well?

Airflow's response shape, with the ``triggerer`` and ``dag_processor`` sections of Airflow 3's
``/api/v2/monitor/health``::

    {"metadatabase": {"status": "healthy"},
     "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2024-01-01T00:00:00+00:00",
                   "problems": []},
     "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": "...", "problems": []},
     "dag_processor": {"status": null, "latest_dag_processor_heartbeat": null, "problems": []}}

A component is "healthy" when a running job of its type heartbeated within its threshold
(``[scheduler] scheduler_health_check_threshold``, ``[triggerer]
triggerer_health_check_threshold``, ``[dag_processor] health_check_threshold`` which defaults to
the scheduler's; 30 s as Airflow) **and** reported no problems: a scheduler whose DAG processor
child or fork server is down or crash-looping is "unhealthy", and ``problems`` says why (one
line per problem of the live jobs). The scheduler is "unhealthy" when none runs; the triggerer
and the DAG processor, which a deployment may not run at all, are ``null`` (as in Airflow) until
a job of their type has ever existed, and "unhealthy" once none of those is alive.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select, text

from tradewind.observe.api.v1_models import HealthInfo
from tradewind.persist.db import Database
from tradewind.persist.models import Job
from tradewind.persist.queries import jobs as job_queries

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
DEFAULT_THRESHOLD = timedelta(seconds=30)

#: Job types whose heartbeat counts as "a scheduler is running".
SCHEDULER_JOB_TYPES = ("SchedulerJob", "scheduler", "standalone")

#: Section -> (job types, heartbeat key, status when no such job ever existed).
_SECTIONS: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "scheduler": (SCHEDULER_JOB_TYPES, "latest_scheduler_heartbeat", UNHEALTHY),
    "triggerer": (("triggerer", "TriggererJob"), "latest_triggerer_heartbeat", None),
    "dag_processor": (("dag_processor", "DagProcessorJob"), "latest_dag_processor_heartbeat", None),
}


def latest_scheduler_heartbeat(db: Database) -> datetime | None:
    """Newest heartbeat of a running scheduler job, or None when there is none."""
    with db.session_scope() as session:
        return session.scalar(
            select(Job.latest_heartbeat)
            .where(Job.job_type.in_(SCHEDULER_JOB_TYPES), Job.state == "running")
            .order_by(Job.latest_heartbeat.desc())
            .limit(1)
        )


def _section(session: Any, job_types: tuple[str, ...], key: str, never: str | None, now: datetime,
             threshold: timedelta) -> dict[str, Any]:
    latest = session.scalar(
        select(Job.latest_heartbeat)
        .where(Job.job_type.in_(job_types), Job.state == job_queries.RUNNING)
        .order_by(Job.latest_heartbeat.desc())
        .limit(1)
    )
    alive = job_queries.alive_jobs(session, job_types, now, threshold)
    problems = [p for job in alive for p in job_queries.job_problems(job)]
    if any(not job_queries.job_problems(job) for job in alive):
        status: str | None = HEALTHY
    elif alive or session.scalar(select(Job.id).where(Job.job_type.in_(job_types)).limit(1)) is not None:
        status = UNHEALTHY
    else:
        status = never
    return {"status": status, key: latest.isoformat() if latest else None, "problems": problems}


def _unknown(key: str, never: str | None) -> dict[str, Any]:
    return {"status": UNHEALTHY if never else None, key: None, "problems": []}


def health_status(
    db: Database, *, now: datetime | None = None, threshold: timedelta = DEFAULT_THRESHOLD,
    thresholds: dict[str, timedelta] | None = None,
) -> dict[str, Any]:
    """The health document; never raises (an unreachable database is reported as unhealthy).

    ``threshold`` is the scheduler's; ``thresholds`` may give the triggerer's and the DAG
    processor's (section name -> threshold), else they use ``threshold`` too.
    """
    now = now or datetime.now(timezone.utc)
    limits = {name: threshold for name in _SECTIONS}
    limits.update(thresholds or {})
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_status = HEALTHY
    except Exception:  # noqa: BLE001 - any failure means "unhealthy", the reason is not exposed
        db_status = UNHEALTHY
    document: dict[str, Any] = {"metadatabase": {"status": db_status}}
    for name, (job_types, key, never) in _SECTIONS.items():
        section = _unknown(key, never)
        if db_status == HEALTHY:
            try:
                with db.read_scope() as session:
                    section = _section(session, job_types, key, never, now, limits[name])
            except Exception:  # noqa: BLE001 - e.g. schema not migrated yet
                pass
        document[name] = section
    return document


def thresholds_from(config: Any) -> dict[str, timedelta]:
    """Each section's health-check threshold from the configuration."""
    return {
        "scheduler": job_queries.health_check_threshold(config, job_queries.SCHEDULER),
        "triggerer": job_queries.health_check_threshold(config, job_queries.TRIGGERER),
        "dag_processor": job_queries.health_check_threshold(config, job_queries.DAG_PROCESSOR),
    }


def make_router(clock: Callable[[], datetime] | None = None) -> APIRouter:
    """Router with the health endpoint; reads ``db``, ``config`` and ``health_threshold`` (the
    scheduler's) from ``app.state``."""
    router = APIRouter()

    @router.get("/api/v1/health", tags=["Monitor"], response_model=HealthInfo)
    def get_health(request: Request) -> dict[str, Any]:
        state = request.app.state
        now = clock() if clock else None
        config = getattr(state, "config", None)
        thresholds = thresholds_from(config) if config is not None else {}
        thresholds["scheduler"] = state.health_threshold
        return health_status(state.db, now=now, threshold=state.health_threshold, thresholds=thresholds)

    return router
