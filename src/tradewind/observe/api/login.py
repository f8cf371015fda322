"""Getting in and out: ``POST /auth/token`` for scripts, ``/login`` and ``/logout`` for browsers.

The token endpoints — ``POST /auth/token`` (Airflow 3's simple auth manager), ``POST
/auth/token/cli`` (what ``airflowctl auth login`` calls) and ``POST /api/v1/auth/token`` — take
``{"username", "password"}`` as JSON or as a form (``application/x-www-form-urlencoded``, what an
OAuth2 password-flow client sends) and answer 201 with ``{"access_token", "token_type": "bearer",
"expires_in"}`` (seconds). ``GET /api/v2/auth/login`` and ``GET /api/v2/auth/logout`` are Airflow
3's redirects to the login page and out of the session. The login page is a small
server-rendered form; a good login sets the signed session cookie (HttpOnly, SameSite=Lax,
Secure over https) and redirects to ``next`` when that is a path on this site.

Both count failed attempts per username and per client IP (:class:`~.auth.LoginRateLimiter`):
past the limit they answer 429 with ``Retry-After`` until the window has passed. The login form
carries its own CSRF token, bound to a pre-login nonce cookie, so another site cannot log a
browser in under the attacker's account.

``GET /`` and the other pages are the UI's (:mod:`tradewind.observe.ui`).
"""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from tradewind.observe.api.auth import (
    CSRF_FORM_FIELD,
    SESSION_COOKIE,
    AuthError,
    AuthService,
    auth_service,
    client_ip,
    safe_next_path,
)
from tradewind.observe.api.errors import ApiError

LOGIN_NONCE_COOKIE = "tradewind_login_nonce"
TEMPLATES_DIR = Path(__file__).parent / "templates"

#: Sent with every HTML page of this module: no framing (clickjacking), scripts and styles
#: only from this site (the assets are vendored), forms only post back here.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=512)
    password: str = Field(min_length=1, max_length=4096)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


#: The token endpoints' body as the OpenAPI document shows it (read by :func:`read_credentials`).
TOKEN_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TokenRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": TokenRequest.model_json_schema()},
        },
    }
}
FORM_TYPE = "application/x-www-form-urlencoded"


async def read_credentials(request: Request) -> TokenRequest:
    """``{"username", "password"}`` from a JSON or form body; 400/415/422 naming what is wrong.

    Other fields are ignored (an OAuth2 password-flow form also sends ``grant_type``, ``scope``).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in (FORM_TYPE, "multipart/form-data"):
        form = await request.form()
        data: Any = {key: value for key, value in form.items() if isinstance(value, str)}
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        try:
            data = await request.json()
        except ValueError:
            raise ApiError(400, "the body must be JSON {\"username\": ..., \"password\": ...}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the body must be a JSON object with username and password")
    else:
        raise ApiError(415, f"send the credentials as application/json or {FORM_TYPE}, not {content_type}")
    try:
        return TokenRequest.model_validate({key: data.get(key) for key in ("username", "password") if key in data})
    except ValidationError as exc:
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]) from None


@lru_cache(maxsize=1)
def _jinja() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)


def render_page(name: str, status_code: int = 200, headers: dict[str, str] | None = None,
                **context: Any) -> HTMLResponse:
    """A template of ``templates/`` (autoescaped) with the security headers."""
    html = _jinja().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})


def _rate_limited(service: AuthService, keys: list[str]) -> int | None:
    return service.rate_limiter.retry_after(keys)


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def make_router() -> APIRouter:
    router = APIRouter()

    async def create_token(request: Request) -> Any:
        """Exchange a username and password (JSON or form) for a bearer token (``Authorization: Bearer <token>``)."""
        body = await read_credentials(request)
        return await run_in_threadpool(_issue_token, request, body)

    for path in ("/auth/token", "/auth/token/cli", "/api/v1/auth/token"):
        router.add_api_route(path, create_token, methods=["POST"], tags=["Auth"], status_code=201,
                             response_model=TokenResponse, openapi_extra=TOKEN_BODY_SCHEMA,
                             name=f"create_token{path.replace('/', '_')}")

    @router.get("/api/v2/auth/login", tags=["Login"], status_code=307, response_class=RedirectResponse)
    def v2_login(request: Request, next: str | None = None) -> Response:  # noqa: A002 - Airflow's parameter name
        """Airflow 3's ``GET /api/v2/auth/login``: 307 to the login page, which comes back to ``next``."""
        if next is None:
            return RedirectResponse("/login", status_code=307)
        target = _own_path(request, next)
        if target is None:
            raise ApiError(400, f"next must be a path or URL on this site, not {next!r}")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=307)

    @router.get("/api/v2/auth/logout", tags=["Login"], status_code=307, response_class=RedirectResponse)
    def v2_logout(request: Request) -> Response:
        """Airflow 3's ``GET /api/v2/auth/logout``: forget the session cookie and go to the login page."""
        response = RedirectResponse("/login", status_code=307)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_is_https(request))
        return response

    @router.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002 - Airflow's parameter name
        service = auth_service(request)
        target = safe_next_path(next)
        if service.authenticate_cookie_only(request) is not None:
            return RedirectResponse(target, status_code=303)
        return _login_form(request, service, target)

    @router.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        service = auth_service(request)
        form = await request.form()
        username = str(form.get("username") or "")
        password = str(form.get("password") or "")
        target = safe_next_path(str(form.get("next") or "/"))
        nonce = request.cookies.get(LOGIN_NONCE_COOKIE, "")
        sent = str(form.get(CSRF_FORM_FIELD) or "")
        if not nonce or not hmac.compare_digest(sent, service.login_csrf_for(nonce)):
            return _login_form(request, service, target, status_code=403, username=username,
                               error="The form expired; please sign in again.")
        keys = service.rate_limiter.keys(username, client_ip(request))
        wait = _rate_limited(service, keys)
        if wait is not None:
            return _login_form(request, service, target, status_code=429, username=username,
                               error=f"Too many failed sign-ins. Try again in {wait} seconds.",
                               headers={"Retry-After": str(wait)})
        state = service.check_password(username, password) if username and password else None
        if state is None:
            service.rate_limiter.record_failure(keys)
            return _login_form(request, service, target, status_code=401, username=username,
                               error="Invalid username or password.")
        service.rate_limiter.forget(keys[0])
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, service.issue_session(username, state),
            max_age=int(service.session_lifetime.total_seconds()), path="/",
            httponly=True, samesite="lax", secure=_is_https(request),
        )
        response.delete_cookie(LOGIN_NONCE_COOKIE, path="/login")
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        """End the session. A live session must send its CSRF token (no logging people out from other sites)."""
        service = auth_service(request)
        if service.authenticate_cookie_only(request) is not None:
            await service.check_csrf(request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_is_https(request))
        return response

    return router


def _issue_token(request: Request, body: TokenRequest) -> JSONResponse:
    """201 with a token for a right password; 429 while rate-limited, 401 (counted) for a wrong one."""
    service = auth_service(request)
    keys = service.rate_limiter.keys(body.username, client_ip(request))
    wait = _rate_limited(service, keys)
    if wait is not None:
        raise AuthError(429, f"too many failed logins; try again in {wait} seconds", {"Retry-After": str(wait)})
    state = service.check_password(body.username, body.password)
    if state is None:
        service.rate_limiter.record_failure(keys)
        raise AuthError(401, "invalid username or password", {"WWW-Authenticate": "Bearer"})
    service.rate_limiter.forget(keys[0])
    token = service.issue_access_token(body.username, state)
    expires = int(service.access_token_expiration.total_seconds())
    return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": expires},
                        status_code=201, headers={"Cache-Control": "no-store"})


def _own_path(request: Request, value: str) -> str | None:
    """``value`` as a path on this site (an absolute URL to this very host counts), else None."""
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc == request.url.netloc:
        value = parts.path or "/"
        value += f"?{parts.query}" if parts.query else ""
    path = safe_next_path(value, default="")
    return path or None


def _login_form(request: Request, service: AuthService, target: str, *, status_code: int = 200,
                username: str = "", error: str | None = None, headers: dict[str, str] | None = None) -> Response:
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE) or secrets.token_urlsafe(24)
    response = render_page("login.html", status_code=status_code, headers=headers, next=target, username=username,
                           error=error, csrf_token=service.login_csrf_for(nonce))
    response.set_cookie(LOGIN_NONCE_COOKIE, nonce, max_age=3600, path="/login", httponly=True, samesite="lax",
                        secure=_is_https(request))
    return response
