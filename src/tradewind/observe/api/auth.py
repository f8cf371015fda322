"""Who may call what: roles, the permission matrix, and the ``authorize`` dependency.

Every route of the app (except the few in :data:`PUBLIC_PATHS`) declares what it does as a
``(resource, action)`` pair through :func:`authorize`::

    @router.post("/api/v1/dags/{dag_id}/dagRuns")
    def trigger(dag_id: str, principal: Principal = Depends(authorize("dag_run", "create"))): ...

The dependency returns the :class:`Principal` (the logged-in user and role) or answers
401 (no or invalid credentials) / 403 (the role lacks the permission) as JSON
``{"detail", "title", "status"}``. ``create_app`` refuses to build an app with a route that
declares neither (see :func:`check_routes_protected`), so a forgotten guard is a start-up
error, not a hole.

Roles are Airflow's four FAB roles, each including the one before it:
``viewer`` < ``user`` < ``op`` < ``admin``. :data:`PERMISSIONS` maps each resource and action
to the least role allowed; docs and tests read that one table.

Credentials: ``Authorization: Bearer <token>`` (from ``POST /auth/token`` or ``POST
/api/v1/auth/token``), the signed session cookie set by the login page, or — on ``/api/`` routes
when ``[api] auth_backends`` lists ``basic_auth`` — ``Authorization: Basic base64(user:password)``.
State-changing requests authenticated by the cookie must carry the session's CSRF token (header
``X-CSRF-Token`` or form field ``csrf_token``); bearer and basic calls are exempt (a browser never
adds an Authorization header on its own: the server never sends a Basic challenge that would make
it remember one). Failed basic logins count against the same rate limit as the login routes.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from tradewind.config import Config, ConfigError
# The secret key lives in the execute layer: the executor signs try tokens with it too.
from tradewind.execute.tokens import load_secret_key
from tradewind.observe.api.limits import TrustedProxies, client_address


class Role(str, enum.Enum):
    """Airflow's default roles, weakest first; each includes every permission of the ones before."""

    VIEWER = "viewer"
    USER = "user"
    OP = "op"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def includes(self, needed: "Role") -> bool:
        """True when this role has at least the permissions of ``needed``."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, name: str) -> "Role":
        """``admin``/``Admin``/``ADMIN`` -> Role.ADMIN; a clear ValueError naming the valid roles."""
        try:
            return cls(str(name).strip().lower())
        except ValueError:
            valid = ", ".join(r.value for r in ROLE_ORDER)
            raise ValueError(f"unknown role {name!r}; valid roles: {valid}") from None


ROLE_ORDER: tuple[Role, ...] = (Role.VIEWER, Role.USER, Role.OP, Role.ADMIN)

#: Airflow's actions (``can_read``, ``can_create``, ``can_edit``, ``can_delete``) without the prefix.
ACTIONS: tuple[str, ...] = ("read", "create", "edit", "delete")

_V, _U, _O, _A = Role.VIEWER, Role.USER, Role.OP, Role.ADMIN


def _crud(read: Role, write: Role) -> dict[str, Role]:
    return {"read": read, "create": write, "edit": write, "delete": write}


#: resource -> action -> least role allowed. Airflow's FAB defaults: Viewer reads DAGs, runs,
#: task instances, logs, XCom, assets, backfills, pools, import errors, the audit log and jobs;
#: User adds triggering, clearing, marking, pausing and deleting DAGs/runs/task instances
#: (backfills and asset events are run creation, so User too); Op adds variables, pools,
#: connections, XCom writes, providers and reading the config; Admin adds users and roles.
PERMISSIONS: dict[str, dict[str, Role]] = {
    "website": {"read": _V},  # the UI pages and the OpenAPI schema
    "dag": {"read": _V, "edit": _U, "delete": _U},  # edit = pause/unpause
    "dag_code": {"read": _V},
    "dag_run": _crud(_V, _U),  # create = trigger; edit = mark state / clear
    "task_instance": _crud(_V, _U),  # edit = mark state / clear
    "task_log": {"read": _V},
    "xcom": _crud(_V, _O),
    "asset": {"read": _V, "create": _U, "delete": _U},  # create = an asset event
    "backfill": _crud(_V, _U),  # delete = cancel
    "pool": _crud(_V, _O),
    "import_error": {"read": _V},
    "audit_log": {"read": _V},
    "job": {"read": _V},
    "plugin": {"read": _V},
    "variable": _crud(_O, _O),
    "connection": _crud(_O, _O),
    "provider": {"read": _O},
    "config": {"read": _O},
    "user": _crud(_A, _A),
    "role": _crud(_A, _A),
}

#: Paths served to anyone: health/version probes (v1 and Airflow 3's v2), getting a token, the
#: login page and Airflow 3's redirects to it and out of the session, the icon, static assets.
PUBLIC_PATHS: frozenset[str] = frozenset(
    {"/api/v1/health", "/api/v1/version", "/api/v2/monitor/health", "/api/v2/version",
     "/api/v1/auth/token", "/auth/token", "/auth/token/cli", "/api/v2/auth/login", "/api/v2/auth/logout",
     "/login", "/logout", "/favicon.ico"}
)
#: Mounted sub-apps served to anyone (vendored CSS/JS/fonts of the UI).
PUBLIC_MOUNTS: frozenset[str] = frozenset({"/static"})

SESSION_COOKIE = "tradewind_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JWT_ALGORITHM = "HS256"

#: ``[api] auth_backends`` names -> Tradewind's backend. Airflow 2's module paths (core and the FAB
#: provider's) are accepted so an Airflow config can be used as it is.
AUTH_BACKENDS: dict[str, str] = {
    "session": "session",
    "basic_auth": "basic_auth",
    "airflow.api.auth.backend.session": "session",
    "airflow.api.auth.backend.basic_auth": "basic_auth",
    "airflow.providers.fab.auth_manager.api.auth.backend.session": "session",
    "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth": "basic_auth",
}
#: Path prefix of the routes basic auth is accepted on (the REST API, not the UI's pages).
BASIC_AUTH_PREFIX = "/api/"
BASIC_DISABLED = ("basic auth is not enabled on this server: add basic_auth to [api] auth_backends "
                  "(or TRADEWIND__API__AUTH_BACKENDS), or send 'Authorization: Bearer <token>' from POST /auth/token")


def parse_auth_backends(raw: str) -> frozenset[str]:
    """``"session,basic_auth"`` (or Airflow's module paths) -> {"session", "basic_auth"}.

    An unknown name is a ConfigError naming the key and the names known, so a typo or a backend
    Tradewind does not have (kerberos) stops the server instead of silently locking users out.
    """
    backends = set()
    for name in (part.strip() for part in raw.split(",")):
        if not name:
            continue
        backend = AUTH_BACKENDS.get(name)
        if backend is None:
            raise ConfigError(f"[api] auth_backends: unknown backend {name!r}; known: session, basic_auth "
                              "(or Airflow's airflow.api.auth.backend.session / .basic_auth)")
        backends.add(backend)
    return frozenset(backends)


def required_role(resource: str, action: str) -> Role:
    """The least role allowed to do ``action`` on ``resource``; KeyError naming an unknown pair."""
    actions = PERMISSIONS.get(resource)
    if actions is None:
        raise KeyError(f"unknown resource {resource!r}; known: {', '.join(sorted(PERMISSIONS))}")
    role = actions.get(action)
    if role is None:
        raise KeyError(f"resource {resource!r} has no action {action!r}; it has: {', '.join(actions)}")
    return role


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``via`` is ``"token"`` (bearer), ``"basic"`` or ``"session"`` (cookie)."""

    username: str
    role: Role
    via: str = "token"

    def can(self, resource: str, action: str) -> bool:
        """Whether this caller's role allows ``action`` on ``resource`` (the UI hides what it cannot do)."""
        return self.role.includes(required_role(resource, action))


# --------------------------------------------------------------------------- errors
class AuthError(HTTPException):
    """401/403/429 answered as ``{"detail", "title", "status"}`` (see :func:`auth_error_response`)."""

    TITLES = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)


class LoginRequired(Exception):
    """An unauthenticated browser GET of a UI page: answered by a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def auth_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """The exception handler ``create_app`` installs for :class:`AuthError`: the API's problem format."""
    from tradewind.observe.api.errors import problem_response

    assert isinstance(exc, AuthError)
    return problem_response(exc.status_code, exc.detail, title=AuthError.TITLES.get(exc.status_code),
                            headers=exc.headers)


def login_redirect_response(_request: Request, exc: Exception) -> RedirectResponse:
    """The exception handler for :class:`LoginRequired`: 303 to ``/login?next=<the page>``."""
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def safe_next_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default`` (no open redirect).

    Refuses absolute URLs, scheme-relative ``//host``, backslash tricks (``/\\host``, which
    browsers read as ``//host``) and control characters.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


# --------------------------------------------------------------------------- secrets
def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash, put in tokens: a password reset invalidates old tokens."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- rate limiting
class LoginRateLimiter:
    """At most ``max_failures`` failed logins per ``window`` for one username and for one client IP.

    In memory (one API process); bounded in size so a flood of random usernames cannot grow it
    without limit. ``clock`` returns aware UTC now and is injectable for tests.
    """

    MAX_KEYS = 10_000

    def __init__(self, max_failures: int, window: timedelta, clock: Callable[[], datetime]) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, client_ip: str | None) -> list[str]:
        keys = [f"user:{username.lower()}"]
        if client_ip:
            keys.append(f"ip:{client_ip}")
        return keys

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds to wait before another attempt is allowed, or None when it is allowed now."""
        if self.max_failures <= 0:
            return None
        now = self.clock()
        wait: float | None = None
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= self.max_failures:
                    until = recent[-self.max_failures] + self.window
                    seconds = (until - now).total_seconds()
                    wait = seconds if wait is None else max(wait, seconds)
        return None if wait is None else max(1, int(wait + 0.999))

    def record_failure(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if not recent and len(self._failures) >= self.MAX_KEYS:
                    self._failures.pop(next(iter(self._failures)))
                recent.append(now)
                self._failures[key] = recent

    def forget(self, key: str) -> None:
        """A successful login clears its username's failures (its IP's stay)."""
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        recent = self._failures.get(key, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        if not recent:
            self._failures.pop(key, None)
        return recent


# --------------------------------------------------------------------------- the service
@dataclass(frozen=True)
class _UserState:
    """What a request check needs of a user row, cached for :attr:`AuthService.user_cache_ttl`."""

    user_id: int
    role: Role
    active: bool
    fingerprint: str


class AuthService:
    """Issues and checks tokens and session cookies; kept on ``app.state.auth``.

    Every authenticated request re-checks that the user still exists, is active, has the same
    id (a re-created user does not inherit old tokens) and the same password (a reset logs out
    old tokens) — from a cache of at most :attr:`user_cache_ttl`, so a hot API is not one extra
    query per call.
    """

    user_cache_ttl = timedelta(seconds=2)

    def __init__(self, config: Config, db: Any, *, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.db = db
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.secret_key = load_secret_key(config)
        self.access_token_expiration = timedelta(seconds=config.getint("api", "access_token_expiration"))
        self.session_lifetime = timedelta(minutes=config.getint("api", "session_lifetime_minutes"))
        self.rate_limiter = LoginRateLimiter(
            config.getint("api", "login_rate_limit_failures"),
            timedelta(seconds=config.getint("api", "login_rate_limit_window")),
            self.clock,
        )
        self._cache: dict[str, tuple[datetime, _UserState | None]] = {}
        self._cache_lock = threading.Lock()
        self.trusted_proxies = TrustedProxies.from_config(config)
        self.basic_auth_enabled = "basic_auth" in parse_auth_backends(config.get("api", "auth_backends"))
        self._basic_verified: dict[str, tuple[datetime, _UserState]] = {}

    # ----------------------------------------------------------------- users
    def user_state(self, username: str) -> _UserState | None:
        now = self.clock()
        with self._cache_lock:
            hit = self._cache.get(username)
        if hit is not None and now - hit[0] < self.user_cache_ttl:
            return hit[1]
        from tradewind.persist.queries import users

        with self.db.session_scope() as session:
            row = users.get_user(session, username)
            state = None if row is None else _UserState(
                row.id, Role.parse(row.role), bool(row.active), password_fingerprint(row.password_hash)
            )
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[username] = (now, state)
        return state

    def forget_user(self, username: str) -> None:
        """Drop a cached user (after a change made through this process)."""
        with self._cache_lock:
            self._cache.pop(username, None)

    def check_password(self, username: str, password: str) -> _UserState | None:
        """The user's state when the password is right and the user active, else None.

        A missing user costs a hash too, so timing does not tell which usernames exist.
        """
        from tradewind.persist.queries import users

        with self.db.session_scope() as session:
            row = users.authenticate(session, username, password, now=self.clock())
            if row is None:
                return None
            state = _UserState(row.id, Role.parse(row.role), True, password_fingerprint(row.password_hash))
        self.forget_user(username)
        return state

    # ----------------------------------------------------------------- signed tokens
    def _encode(self, claims: dict[str, Any], lifetime: timedelta) -> str:
        import jwt

        now = self.clock()
        payload = {**claims, "iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp())}
        return jwt.encode(payload, self.secret_key, algorithm=JWT_ALGORITHM)

    def _decode(self, token: str, kind: str) -> dict[str, Any] | None:
        """Claims of a valid, unexpired token of ``kind``, else None. Expiry uses our clock."""
        import jwt

        try:
            claims = jwt.decode(
                token, self.secret_key, algorithms=[JWT_ALGORITHM],
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "typ"]},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("typ") != kind or not isinstance(claims.get("exp"), int):
            return None
        if self.clock().timestamp() >= claims["exp"]:
            return None
        return claims

    def issue_access_token(self, username: str, state: _UserState) -> str:
        return self._encode(
            {"sub": username, "uid": state.user_id, "pwv": state.fingerprint, "typ": "access"},
            self.access_token_expiration,
        )

    def issue_session(self, username: str, state: _UserState) -> str:
        return self._encode(
            {"sub": username, "uid": state.user_id, "pwv": state.fingerprint, "typ": "session",
             "sid": secrets.token_urlsafe(16)},
            self.session_lifetime,
        )

    def _principal(self, claims: dict[str, Any], via: str) -> Principal | None:
        username = claims["sub"]
        state = self.user_state(username)
        if state is None or not state.active or state.user_id != claims.get("uid"):
            return None
        if state.fingerprint != claims.get("pwv"):
            return None
        return Principal(username=username, role=state.role, via=via)

    # ----------------------------------------------------------------- CSRF
    def csrf_for(self, session_id: str) -> str:
        """The CSRF token of one session (an HMAC of its id: nothing to store server-side)."""
        return hmac.new(self.secret_key.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()

    def login_csrf_for(self, nonce: str) -> str:
        """The login form's CSRF token, bound to the pre-login nonce cookie."""
        return hmac.new(self.secret_key.encode(), f"login:{nonce}".encode(), hashlib.sha256).hexdigest()

    # ----------------------------------------------------------------- requests
    def session_claims(self, request: Request) -> dict[str, Any] | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        return self._decode(cookie, "session") if cookie else None

    def authenticate(self, request: Request) -> Principal | None:
        """The caller, None when no credentials came, AuthError(401) for bad or stale ones.

        An Authorization header wins over the cookie. A bad cookie counts as none (the browser is
        sent to the login page), a bad bearer token or basic login is an error (a script should
        hear about it). Blocking (a basic login may hash a password): async code awaits
        :meth:`authenticate_async`.
        """
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "basic":
                return self.authenticate_basic(request, token.strip())
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError(401, "the Authorization header must be 'Bearer <token>' or "
                                     "'Basic <base64 of username:password>'", _CHALLENGE)
            claims = self._decode(token.strip(), "access")
            principal = self._principal(claims, "token") if claims else None
            if principal is None:
                raise AuthError(401, "the token is invalid or expired; get a new one from /api/v1/auth/token",
                                _CHALLENGE)
            return principal
        return self.authenticate_cookie_only(request)

    async def authenticate_async(self, request: Request) -> Principal | None:
        """:meth:`authenticate` for async code: a basic login's password check runs off the event loop."""
        if request.headers.get("authorization", "")[:6].lower() == "basic ":
            return await run_in_threadpool(self.authenticate, request)
        return self.authenticate(request)

    # ----------------------------------------------------------------- basic auth
    basic_cache_ttl = timedelta(minutes=5)

    def authenticate_basic(self, request: Request, encoded: str) -> Principal:
        """The user of ``Authorization: Basic <encoded>``; AuthError 401/429 otherwise.

        Refused when ``[api] auth_backends`` lacks basic_auth and outside ``/api/``. Failures
        count against the login rate limit (per username and client IP). A right password is
        remembered for :attr:`basic_cache_ttl` as an HMAC of the pair, so a script calling in a
        loop does not pay an argon2 hash per call; the user's state is still checked every time.
        """
        if not self.basic_auth_enabled:
            raise AuthError(401, BASIC_DISABLED, _CHALLENGE)
        if not request.url.path.startswith(BASIC_AUTH_PREFIX):
            raise AuthError(401, "basic auth is accepted on /api/v1 and /api/v2 only; log in at /login", _CHALLENGE)
        username, password = _decode_basic(encoded)
        keys = self.rate_limiter.keys(username, client_ip(request))
        wait = self.rate_limiter.retry_after(keys)
        if wait is not None:
            raise AuthError(429, f"too many failed logins; try again in {wait} seconds", {"Retry-After": str(wait)})
        principal = self._remembered_basic(username, password)
        if principal is not None:
            return principal
        state = self.check_password(username, password)
        if state is None:
            self.rate_limiter.record_failure(keys)
            raise AuthError(401, "invalid username or password (basic auth)", _CHALLENGE)
        self.rate_limiter.forget(keys[0])
        self._remember_basic(username, password, state)
        return Principal(username=username, role=state.role, via="basic")

    def _basic_digest(self, username: str, password: str) -> str:
        message = f"basic\0{username}\0{password}".encode()
        return hmac.new(self.secret_key.encode(), message, hashlib.sha256).hexdigest()

    def _remember_basic(self, username: str, password: str, verified: _UserState) -> None:
        with self._cache_lock:
            if len(self._basic_verified) > 10_000:
                self._basic_verified.clear()
            self._basic_verified[self._basic_digest(username, password)] = (self.clock(), verified)

    def _remembered_basic(self, username: str, password: str) -> Principal | None:
        """The principal of a pair verified lately, while its user is unchanged (same id and password); else None."""
        with self._cache_lock:
            hit = self._basic_verified.get(self._basic_digest(username, password))
        if hit is None or self.clock() - hit[0] >= self.basic_cache_ttl:
            return None
        state = self.user_state(username)
        verified = hit[1]
        if state is None or not state.active or (state.user_id, state.fingerprint) != (verified.user_id, verified.fingerprint):
            return None
        return Principal(username=username, role=state.role, via="basic")

    def authenticate_cookie_only(self, request: Request) -> Principal | None:
        """The session cookie's user, ignoring any Authorization header (login/logout pages)."""
        claims = self.session_claims(request)
        principal = self._principal(claims, "session") if claims else None
        if principal is not None:
            request.state.session_id = claims.get("sid", "")
        return principal

    async def check_csrf(self, request: Request) -> None:
        """Cookie-authenticated state changes must echo the session's CSRF token (403 otherwise)."""
        expected = self.csrf_for(getattr(request.state, "session_id", ""))
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and _is_form(request):
            form = await request.form()
            value = form.get(CSRF_FORM_FIELD)
            sent = value if isinstance(value, str) else None
        if not sent or not hmac.compare_digest(sent, expected):
            raise AuthError(403, f"missing or wrong CSRF token (send the {CSRF_HEADER} header or the "
                                 f"{CSRF_FORM_FIELD} form field of this session)")


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _decode_basic(encoded: str) -> tuple[str, str]:
    """``base64("user:password")`` -> (user, password); AuthError 401 saying what is wrong."""
    bad = AuthError(401, "the Basic credentials must be base64 of 'username:password'", _CHALLENGE)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    username, colon, password = text.partition(":")
    if not colon or not username or not password:
        raise bad
    return username, password


def client_ip(request: Request) -> str | None:
    """The client's address as every reader should see it (``X-Forwarded-For`` only via trusted proxies)."""
    service = getattr(request.app.state, "auth", None)
    trusted = service.trusted_proxies if service is not None else TrustedProxies()
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def auth_service(request: Request) -> AuthService:
    return request.app.state.auth


def csrf_token(request: Request) -> str:
    """The CSRF token to put in the current session's forms (``<input name="csrf_token">``)."""
    return auth_service(request).csrf_for(getattr(request.state, "session_id", ""))


# --------------------------------------------------------------------------- dependencies
def authorize(resource: str, action: str) -> Callable[..., Any]:
    """A FastAPI dependency: the :class:`Principal` allowed to do ``action`` on ``resource``.

    401 without valid credentials, 403 when the role lacks the permission or a cookie-authenticated
    state change lacks its CSRF token. An unknown resource/action fails when the route is defined.
    """
    needed = required_role(resource, action)

    async def dependency(request: Request) -> Principal:
        service = auth_service(request)
        principal = await service.authenticate_async(request)
        if principal is None:
            raise AuthError(401, "authentication required: send 'Authorization: Bearer <token>' "
                                 "(POST /auth/token)" + (", basic auth" if service.basic_auth_enabled else "")
                                 + " or log in at /login", _CHALLENGE)
        return await _admit(service, request, principal, resource, action, needed)

    dependency.__tradewind_permission__ = (resource, action)  # type: ignore[attr-defined]
    dependency.__name__ = f"authorize_{resource}_{action}"
    return dependency


def authorize_page(resource: str = "website", action: str = "read") -> Callable[..., Any]:
    """Like :func:`authorize` for UI pages: an anonymous GET is redirected to ``/login?next=...``."""
    needed = required_role(resource, action)

    async def dependency(request: Request) -> Principal:
        service = auth_service(request)
        principal = await service.authenticate_async(request)
        if principal is None:
            if request.method in SAFE_METHODS:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise LoginRequired(safe_next_path(target))
            raise AuthError(401, "authentication required: log in at /login", _CHALLENGE)
        return await _admit(service, request, principal, resource, action, needed)

    dependency.__tradewind_permission__ = (resource, action)  # type: ignore[attr-defined]
    dependency.__name__ = f"authorize_page_{resource}_{action}"
    return dependency


async def _admit(service: AuthService, request: Request, principal: Principal, resource: str, action: str,
                 needed: Role) -> Principal:
    if not principal.role.includes(needed):
        raise AuthError(403, f"role {principal.role.value!r} of user {principal.username!r} may not "
                             f"{action} {resource} (needs {needed.value} or higher)")
    if principal.via == "session" and request.method not in SAFE_METHODS:
        await service.check_csrf(request)
    request.state.principal = principal
    return principal


# --------------------------------------------------------------------------- global enforcement
def route_permissions(route: Any) -> list[tuple[str, str]]:
    """The ``(resource, action)`` pairs a route's dependency tree declares (router-level ones too)."""
    found: list[tuple[str, str]] = []
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        marker = getattr(dependant.call, "__tradewind_permission__", None)
        if marker:
            found.append(marker)
        stack.extend(dependant.dependencies)
    return found


def _flat_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of an app, including those of included routers.

    FastAPI before 0.16x copies included routes into ``app.routes``; newer versions keep an
    included router as one entry whose ``effective_route_contexts()`` yields each route with
    its full path and its router-level dependencies.
    """
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            yield from contexts()
        else:
            yield route


def unprotected_routes(routes: Iterable[Any]) -> list[str]:
    """Routes that are neither public nor guarded by :func:`authorize`, as ``"METHOD path"``."""
    from starlette.routing import Mount

    bad: list[str] = []
    for route in _flat_routes(routes):
        original = getattr(route, "original_route", route)
        path = getattr(route, "path", None) or getattr(original, "path", repr(route))
        if isinstance(original, Mount):
            if path not in PUBLIC_MOUNTS:
                bad.append(f"MOUNT {path}")
            continue
        if path in PUBLIC_PATHS or route_permissions(route):
            continue
        # Plain Starlette routes (e.g. FastAPI's own docs pages) carry no dependency at all.
        methods = ",".join(sorted(getattr(route, "methods", None) or ())) or "ROUTE"
        bad.append(f"{methods} {path}")
    return bad


def check_routes_protected(routes: Iterable[Any]) -> None:
    """Raise RuntimeError naming every route that forgot its ``authorize(...)`` dependency."""
    bad = unprotected_routes(routes)
    if bad:
        raise RuntimeError(
            "these routes have no authorize(resource, action) dependency and are not public: "
            + "; ".join(bad)
        )

