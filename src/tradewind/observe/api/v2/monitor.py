"""``GET /api/v2/monitor/health`` and ``GET /api/v2/version`` (Airflow 3's Monitor and Version).

Health is :func:`tradewind.observe.api.health.health_status`, the document ``/api/v1/health``
answers, in Airflow 3's ``HealthInfoResponse`` (each component's ``problems`` kept: they say why
a live scheduler is unhealthy). As in Airflow, both are served to anyone (probes): they are in
:data:`tradewind.observe.api.auth.PUBLIC_PATHS`.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request

from tradewind.observe.api.v2.common import API_V2, Model

router = APIRouter(prefix=API_V2, tags=["Monitor"])


class BaseInfoResponse(Model):
    status: str | None = None


class SchedulerInfoResponse(BaseInfoResponse):
    latest_scheduler_heartbeat: datetime | None = None
    problems: list[str] = []


class TriggererInfoResponse(BaseInfoResponse):
    latest_triggerer_heartbeat: datetime | None = None
    problems: list[str] = []


class DagProcessorInfoResponse(BaseInfoResponse):
    latest_dag_processor_heartbeat: datetime | None = None
    problems: list[str] = []


class HealthInfoResponse(Model):
    metadatabase: BaseInfoResponse
    scheduler: SchedulerInfoResponse
    triggerer: TriggererInfoResponse
    dag_processor: DagProcessorInfoResponse | None = None


class VersionInfo(Model):
    version: str
    git_version: str | None = None


@router.get("/monitor/health", response_model=HealthInfoResponse, summary="Get Health")
def get_health(request: Request) -> HealthInfoResponse:
    from tradewind.observe.api.health import health_status, thresholds_from

    state = request.app.state
    thresholds = thresholds_from(state.config)
    thresholds["scheduler"] = state.health_threshold
    document = health_status(state.db, threshold=state.health_threshold, thresholds=thresholds)
    return HealthInfoResponse.model_validate(document)


@router.get("/version", response_model=VersionInfo, summary="Get Version")
def get_version() -> VersionInfo:
    from tradewind.observe.api.app import _version

    return VersionInfo(version=_version(), git_version=None)
