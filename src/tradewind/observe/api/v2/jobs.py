"""``/api/v2/jobs``: Tradewind's long-running components (scheduler, triggerer, DAG processor).

Job types are shown with Airflow's names (``SchedulerJob``, ``TriggererJob``, ``DagProcessorJob``)
so ``airflowctl jobs`` and other Airflow tools filter them as they would on Airflow; a filter
accepts Tradewind's own names too. ``is_alive`` is the health check's rule: running, with a
heartbeat within the job type's health-check threshold.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Select, and_, false, not_, or_, select

from tradewind.observe.api.pagination import Page, paginate
from tradewind.observe.api.routes.common import can, read
from tradewind.observe.api.v2.common import API_V2, Model, apply_orders, filter_range, order_by_query, page_v2
from tradewind.persist.models import Job
from tradewind.persist.queries import jobs as job_queries

router = APIRouter(prefix=API_V2, tags=["Job"])

#: Tradewind's job type -> Airflow's (a standalone process runs the scheduler loop).
AIRFLOW_JOB_TYPES = {job_queries.SCHEDULER: "SchedulerJob", "standalone": "SchedulerJob",
                     job_queries.TRIGGERER: "TriggererJob", job_queries.DAG_PROCESSOR: "DagProcessorJob"}

ORDER = {"id": Job.id, "state": Job.state, "job_type": Job.job_type, "start_date": Job.start_date,
         "end_date": Job.end_date, "latest_heartbeat": Job.latest_heartbeat, "hostname": Job.hostname}


class JobResponse(Model):
    id: int
    dag_id: str | None = None
    state: str | None = None
    job_type: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    latest_heartbeat: datetime | None = None
    executor_class: str | None = None
    hostname: str | None = None
    unixname: str | None = None
    dag_display_name: str | None = None


class JobCollectionResponse(Model):
    jobs: list[JobResponse]
    total_entries: int


def _executor_class(config: Any, job_type: str) -> str | None:
    """The executor a scheduler hands tries to (``[core] executor``); other jobs run none."""
    if AIRFLOW_JOB_TYPES.get(job_type) != "SchedulerJob":
        return None
    return config.get("core", "executor")


def job_body(job: Job, config: Any) -> JobResponse:
    return JobResponse(id=job.id, state=job.state, job_type=AIRFLOW_JOB_TYPES.get(job.job_type, job.job_type),
                       start_date=job.start_date, end_date=job.end_date, latest_heartbeat=job.latest_heartbeat,
                       executor_class=_executor_class(config, job.job_type), hostname=job.hostname)


def _tradewind_types(name: str) -> list[str]:
    """The stored job types an Airflow or Tradewind job type name stands for."""
    return [ours for ours, theirs in AIRFLOW_JOB_TYPES.items() if theirs == name] or [name]


def _alive_clause(config: Any, now: datetime) -> Any:
    """Rows the health check counts as alive: running, heartbeat within the type's threshold."""
    clauses = []
    for job_type in AIRFLOW_JOB_TYPES:
        kind = job_type if job_type in job_queries.HEALTH_THRESHOLDS else job_queries.SCHEDULER
        grace = job_queries.health_check_threshold(config, kind)
        clauses.append(and_(Job.job_type == job_type, Job.latest_heartbeat >= now - grace))
    return and_(Job.state == job_queries.RUNNING, or_(*clauses) if clauses else false())


def _filters(stmt: Select[Any], config: Any, *, is_alive: bool | None, job_state: str | None,
             job_type: str | None, hostname: str | None, executor_class: str | None) -> Select[Any]:
    if is_alive is not None:
        alive = _alive_clause(config, datetime.now(timezone.utc))
        stmt = stmt.where(alive if is_alive else not_(alive))
    if job_state is not None:
        stmt = stmt.where(Job.state == job_state)
    if job_type is not None:
        stmt = stmt.where(Job.job_type.in_(_tradewind_types(job_type)))
    if hostname is not None:
        stmt = stmt.where(Job.hostname == hostname)
    if executor_class is not None:
        schedulers = _tradewind_types("SchedulerJob")
        matches = executor_class == config.get("core", "executor")
        stmt = stmt.where(Job.job_type.in_(schedulers) if matches else false())
    return stmt


@router.get("/jobs", response_model=JobCollectionResponse, summary="Get Jobs")
def get_jobs(
    request: Request,
    is_alive: bool | None = None,
    start_date_gte: datetime | None = None, start_date_gt: datetime | None = None,
    start_date_lte: datetime | None = None, start_date_lt: datetime | None = None,
    end_date_gte: datetime | None = None, end_date_gt: datetime | None = None,
    end_date_lte: datetime | None = None, end_date_lt: datetime | None = None,
    page: Page = Depends(page_v2),
    order_by: list[str] = order_by_query("id", list(ORDER)),
    job_state: str | None = None,
    job_type: str | None = None,
    hostname: str | None = None,
    executor_class: str | None = None,
    _user: Any = can("job", "read"),
) -> JobCollectionResponse:
    config = request.app.state.config
    stmt = _filters(select(Job), config, is_alive=is_alive, job_state=job_state, job_type=job_type,
                    hostname=hostname, executor_class=executor_class)
    stmt = filter_range(stmt, Job.start_date, gte=start_date_gte, gt=start_date_gt, lte=start_date_lte,
                        lt=start_date_lt)
    stmt = filter_range(stmt, Job.end_date, gte=end_date_gte, gt=end_date_gt, lte=end_date_lte, lt=end_date_lt)
    stmt = apply_orders(stmt, order_by, ORDER, "id", tiebreak=(Job.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return JobCollectionResponse(jobs=[job_body(r, config) for r in rows], total_entries=total)
