"""The FastAPI application factory.

``create_app(config, db)`` builds the app with every router registered so far
(only health today; the REST API and the UI add their routers here). Routes read
shared objects from ``app.state`` (``config``, ``db``) instead of globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from fastapi import APIRouter, FastAPI

from tradewind.config import Config
from tradewind.persist.db import Database


def health_threshold(config: Config) -> timedelta:
    """``[scheduler] scheduler_health_check_threshold`` seconds (Airflow's name; default 30)."""
    return timedelta(seconds=config.getfloat("scheduler", "scheduler_health_check_threshold"))


def create_app(
    config: Config,
    db: Database,
    *,
    extra_routers: Iterable[APIRouter] = (),
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the app. ``extra_routers`` lets callers (and later issues) mount more routes."""
    from tradewind.observe.api.health import make_router

    app = FastAPI(title="Tradewind", version=_version(), docs_url="/api/v1/docs", openapi_url="/api/v1/openapi.json")
    app.state.config = config
    app.state.db = db
    app.state.health_threshold = health_threshold(config)
    app.include_router(make_router(clock))
    for router in extra_routers:
        app.include_router(router)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tradewind")
    except PackageNotFoundError:
        return "0.0.0+unknown"
