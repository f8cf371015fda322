"""``GET /api/v2/monitor/health`` and ``GET /api/v2/version`` (Airflow 3's Monitor and Version).

Health is :func:`tradewind.observe.api.health.health_status`, the document ``/api/v1/health``
answers, in Airflow 3's ``HealthInfoResponse`` (each component's ``problems`` kept: they say why
a live scheduler is unhealthy). Airflow serves both routes to anyone, for probes; they are
public here when :data:`tradewind.observe.api.auth.PUBLIC_PATHS` lists them, else any
signed-in caller may read them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from tradewind.observe.api.auth import PUBLIC_PATHS
from tradewind.observe.api.routes.common import can
from tradewind.observe.api.v2.common import API_V2, Model

router = APIRouter(prefix=API_V2, tags=["Monitor"])

HEALTH_PATH = "/monitor/health"
VERSION_PATH = "/version"


def _guard(path: str) -> list[Any]:
    """No dependency for a public path; otherwise a signed-in caller's."""
    return [] if API_V2 + path in PUBLIC_PATHS else [can("website", "read")]


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


@router.get(HEALTH_PATH, response_model=HealthInfoResponse, dependencies=_guard(HEALTH_PATH), summary="Get Health")
def get_health(request: Request) -> HealthInfoResponse:
    from tradewind.observe.api.health import health_status, thresholds_from

    state = request.app.state
    thresholds = thresholds_from(state.config)
    thresholds["scheduler"] = state.health_threshold
    document = health_status(state.db, threshold=state.health_threshold, thresholds=thresholds)
    return HealthInfoResponse.model_validate(document)


@router.get(VERSION_PATH, response_model=VersionInfo, dependencies=_guard(VERSION_PATH), summary="Get Version")
def get_version() -> VersionInfo:
    from tradewind.observe.api.app import _version

    return VersionInfo(version=_version(), git_version=None)
