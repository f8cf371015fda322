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
    """Build the app. ``extra_routers`` lets callers (and later issues) mount more routes.

    Every route must be public (:data:`auth.PUBLIC_PATHS`) or declare ``authorize(resource,
    action)``; building an app with an unguarded route raises RuntimeError naming it. ``clock``
    (aware UTC now) drives health, token expiry and login rate limits in tests.
    """
    from fastapi.staticfiles import StaticFiles

    from tradewind.observe.api import auth, login
    from tradewind.observe.api.health import make_router

    # FastAPI's own schema/docs routes cannot carry a dependency and load Swagger UI from a CDN:
    # docs.make_router serves the documents and pages behind authorize(), from vendored assets.
    app = FastAPI(title="Tradewind", version=_version(), docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.state.db = db
    app.state.health_threshold = health_threshold(config)
    app.state.auth = auth.AuthService(config, db, clock=clock)
    from tradewind.definition import masking

    masking.configure_from(config)  # [core] sensitive_var_conn_names for values the API shows
    app.add_exception_handler(auth.AuthError, auth.auth_error_response)
    app.add_exception_handler(auth.LoginRequired, auth.login_redirect_response)
    app.include_router(make_router(clock))
    app.include_router(login.make_router())
    from tradewind.observe.api import docs

    app.include_router(docs.make_router(app))  # /openapi.json, /api/v{1,2}/openapi.json, /docs, /redoc
    from tradewind.observe.api.errors import install_error_handlers
    from tradewind.observe.api.routes import api_routers

    install_error_handlers(app)  # Airflow's problem format for every REST API error
    for router in api_routers():
        app.include_router(router)
    from tradewind.observe.api import v2

    for router in v2.routers():  # /api/v2: Airflow 3's public API
        app.include_router(router)
    from tradewind.observe.api.routes import execution

    app.include_router(execution.router)  # /execution/v1: remote tries, guarded by try tokens
    from tradewind.observe.api.routes import execution_state

    app.include_router(execution_state.router)  # /execution/v1/state: the state stores of remote tries
    from tradewind.observe.ui.pages import STATIC_DIR
    from tradewind.observe.ui.routes import ui_routers

    for router in ui_routers():
        app.include_router(router)
    for router in extra_routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    docs.document_v1_errors(app)  # every /api/v1 4xx answer is a problem document
    auth.check_routes_protected(app.routes)
    from tradewind.observe.api.security_headers import SecurityHeadersMiddleware

    from tradewind.observe.api.limits import install_request_limits

    install_request_limits(app, config)  # 413 over [api] max_body_size, before the body is read
    app.add_middleware(SecurityHeadersMiddleware)  # nosniff/no framing/CSP on every response
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tradewind")
    except PackageNotFoundError:
        return "0.0.0+unknown"
