"""Getting in and out: ``POST /api/v1/auth/token`` for scripts, ``/login`` and ``/logout`` for browsers.

The token endpoint takes JSON ``{"username", "password"}`` and answers 201 with
``{"access_token", "token_type": "bearer", "expires_in"}`` (seconds). The login page is a small
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

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from tradewind.observe.api.auth import (
    CSRF_FORM_FIELD,
    SESSION_COOKIE,
    AuthError,
    AuthService,
    auth_service,
    safe_next_path,
)

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


@lru_cache(maxsize=1)
def _jinja() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)


def render_page(name: str, status_code: int = 200, headers: dict[str, str] | None = None,
                **context: Any) -> HTMLResponse:
    """A template of ``templates/`` (autoescaped) with the security headers."""
    html = _jinja().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _rate_limited(service: AuthService, keys: list[str]) -> int | None:
    return service.rate_limiter.retry_after(keys)


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def make_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/auth/token", tags=["Auth"], status_code=201, response_model=TokenResponse)
    def create_token(body: TokenRequest, request: Request) -> Any:
        """Exchange a username and password for a bearer token (``Authorization: Bearer <token>``)."""
        service = auth_service(request)
        keys = service.rate_limiter.keys(body.username, _client_ip(request))
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
        keys = service.rate_limiter.keys(username, _client_ip(request))
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


def _login_form(request: Request, service: AuthService, target: str, *, status_code: int = 200,
                username: str = "", error: str | None = None, headers: dict[str, str] | None = None) -> Response:
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE) or secrets.token_urlsafe(24)
    response = render_page("login.html", status_code=status_code, headers=headers, next=target, username=username,
                           error=error, csrf_token=service.login_csrf_for(nonce))
    response.set_cookie(LOGIN_NONCE_COOKIE, nonce, max_age=3600, path="/login", httponly=True, samesite="lax",
                        secure=_is_https(request))
    return response
