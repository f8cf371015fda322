"""Jobs: long-running components (scheduler, dag processor, triggerer, standalone) and their heartbeats.

A job is alive while its state is ``running`` and its last heartbeat is within
the grace period (``tradewind jobs check`` and the health endpoint use this). A live job
may still report ``problems``: helpers it supervises that are down or crash-looping (one
line each; None while healthy).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.models import Job

SCHEDULER = "scheduler"
TRIGGERER = "triggerer"
DAG_PROCESSOR = "dag_processor"

#: Job type -> ``(section, key)`` of its health-check threshold in seconds; the DAG processor's
#: falls back to the scheduler's (Airflow 3 checks it against the scheduler threshold too).
HEALTH_THRESHOLDS = {
    SCHEDULER: ("scheduler", "scheduler_health_check_threshold"),
    TRIGGERER: ("triggerer", "triggerer_health_check_threshold"),
    DAG_PROCESSOR: ("dag_processor", "health_check_threshold"),
}

RUNNING = "running"
SUCCESS = "success"
FAILED = "failed"


def start_job(session: Session, job_type: str, hostname: str | None, pid: int | None, now: datetime) -> Job:
    """Record a component starting; its first heartbeat is ``now``."""
    job = Job(job_type=job_type, state=RUNNING, hostname=hostname, pid=pid, start_date=now, latest_heartbeat=now)
    session.add(job)
    session.flush()
    return job


def job_heartbeat(session: Session, job_id: int, now: datetime, *, problems: list[str] | None = None) -> bool:
    """Refresh a running job's heartbeat and its helpers' ``problems`` (none: healthy);
    False if the job is gone or no longer running."""
    job = session.get(Job, job_id)
    if job is None or job.state != RUNNING:
        return False
    job.latest_heartbeat = now
    job.problems = "\n".join(problems) if problems else None
    session.flush()
    return True


def end_job(session: Session, job_id: int, now: datetime, state: str = SUCCESS) -> None:
    """Mark a job finished (``success`` on a clean stop, ``failed`` on a crash)."""
    job = session.get(Job, job_id)
    if job is None:
        raise LookupError(f"no job with id {job_id}")
    job.state = state
    job.end_date = now
    session.flush()


def latest_alive_job(session: Session, job_type: str, now: datetime, grace: timedelta) -> Job | None:
    """The most recently heartbeating running job of that type, if it beat within ``grace``."""
    return session.scalars(
        select(Job)
        .where(Job.job_type == job_type, Job.state == RUNNING, Job.latest_heartbeat >= now - grace)
        .order_by(Job.latest_heartbeat.desc(), Job.id.desc())
        .limit(1)
    ).first()


def list_jobs(session: Session, *, job_type: str | None = None, state: str | None = None, limit: int = 100) -> list[Job]:
    """Jobs, newest first."""
    query = select(Job)
    if job_type is not None:
        query = query.where(Job.job_type == job_type)
    if state is not None:
        query = query.where(Job.state == state)
    return list(session.scalars(query.order_by(Job.start_date.desc(), Job.id.desc()).limit(limit)))


def health_check_threshold(config: Any, job_type: str) -> timedelta:
    """How long a job of ``job_type`` may go without a heartbeat and still count as alive."""
    section, key = HEALTH_THRESHOLDS[job_type]
    fallback = config.get("scheduler", "scheduler_health_check_threshold")
    return timedelta(seconds=float(config.get(section, key, fallback=fallback)))


def alive_jobs(session: Session, job_types: tuple[str, ...] | list[str], now: datetime, grace: timedelta, *,
               hostname: str | None = None, limit: int | None = None) -> list[Job]:
    """Running jobs of those types that heartbeated within ``grace``, freshest first."""
    query = (select(Job)
             .where(Job.job_type.in_(list(job_types)), Job.state == RUNNING, Job.latest_heartbeat >= now - grace)
             .order_by(Job.latest_heartbeat.desc(), Job.id.desc()))
    if hostname is not None:
        query = query.where(Job.hostname == hostname)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def job_problems(job: Job) -> list[str]:
    """The problems a job reported with its last heartbeat (empty: healthy)."""
    return [line for line in (job.problems or "").splitlines() if line.strip()]
