"""Jobs: long-running components (scheduler, dag processor, triggerer, standalone) and their heartbeats.

A job is alive while its state is ``running`` and its last heartbeat is within
the grace period (``tradewind jobs check`` and the health endpoint use this).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.models import Job

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
