"""Tokens scoped to one try: what a worker without database credentials may use.

A remote try (a Celery worker) never holds a database URL. It holds a signed token naming
exactly one try (``dag_id``, ``run_id``, ``task_id``, ``map_index``, ``try_number``), and the
API server's execution endpoints (``/execution/v1``) act on that try alone.

Two scopes:

* ``workload`` — issued by the executor when it queues the try (:func:`issue_workload_token`,
  carried in ``Workload.token``). It lives ``[execution_api] workload_token_expiration`` seconds
  (default a day: a try may wait long in a busy queue) and may only **claim** the try or report
  it **lost**.
* ``try`` — returned by the claim (:func:`issue_try_token`); it lives ``[execution_api]
  jwt_expiration_time`` seconds (default 600) and is refreshed with every heartbeat answer,
  so a stolen one is useful only while the try runs. Every other call uses it.

Both are HS256 JWTs signed with the API secret key (:func:`load_secret_key`): the executor
signs, the API server verifies, so both must see the same ``[api] secret_key`` (or the same
``$TRADEWIND_HOME/api_secret_key`` file). They carry the audience ``tradewind-execution``
and a ``typ`` other than the user tokens' ``access``/``session``, so a try token is never
accepted as a user login and a user token never as a try token.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from tradewind.workloads import TaskKey

JWT_ALGORITHM = "HS256"
SECRET_KEY_FILE = "api_secret_key"
#: The ``aud`` claim of every execution token (user tokens have none, so PyJWT refuses to mix them).
AUDIENCE = "tradewind-execution"
WORKLOAD_SCOPE = "workload"
TRY_SCOPE = "try"
SCOPES = (WORKLOAD_SCOPE, TRY_SCOPE)


class InvalidToken(PermissionError):
    """The token is missing, forged, expired or of the wrong scope. ``status`` is the HTTP
    status the API answers with: 401 (not a valid token at all) or 403 (valid, wrong scope)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def load_secret_key(config: Any) -> str:
    """``[api] secret_key``, else the key generated once into ``$TRADEWIND_HOME/api_secret_key``.

    Never a built-in default: a default would let anyone forge tokens. The file is created with
    mode 0600 and shared by every process of this home (API server, standalone, scheduler),
    so tokens survive restarts and the scheduler's executor signs what the API server checks.
    """
    configured = config.get("api", "secret_key").strip()
    if configured:
        return configured
    path = Path(config.home) / SECRET_KEY_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _claims_of(key: TaskKey) -> dict[str, Any]:
    return {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
            "map_index": key.map_index, "try_number": key.try_number}


def _issue(config: Any, key: TaskKey, scope: str, lifetime: int, now: float | None, secret: str | None) -> str:
    import jwt

    issued = int(now if now is not None else time.time())
    payload = {**_claims_of(key), "sub": key.short(), "typ": scope, "aud": AUDIENCE,
               "iat": issued, "exp": issued + lifetime, "jti": secrets.token_hex(8)}
    return jwt.encode(payload, secret or load_secret_key(config), algorithm=JWT_ALGORITHM)


def issue_workload_token(config: Any, key: TaskKey, *, now: float | None = None, secret: str | None = None) -> str:
    """The token an executor puts in ``Workload.token``: it can claim try ``key`` or report it lost.

    ``now`` (epoch seconds) is for tests; ``secret``: the key when the caller already holds it
    (else :func:`load_secret_key` reads it).
    """
    lifetime = config.getint("execution_api", "workload_token_expiration")
    return _issue(config, key, WORKLOAD_SCOPE, lifetime, now, secret)


def issue_try_token(config: Any, key: TaskKey, *, now: float | None = None, secret: str | None = None) -> str:
    """The short-lived token of a claimed (running) try, for all its other calls."""
    return _issue(config, key, TRY_SCOPE, config.getint("execution_api", "jwt_expiration_time"), now, secret)


def verify_token(config: Any, token: str, scope: str | tuple[str, ...], *, now: float | None = None,
                 secret: str | None = None) -> TaskKey:
    """The try ``token`` names, when it is genuine, unexpired and of ``scope`` (one or a tuple).

    Raises :class:`InvalidToken`: status 401 for a forged, malformed or expired token, 403 for
    a genuine token of another scope (a workload token used for a heartbeat).
    """
    import jwt

    try:
        claims = jwt.decode(
            token, secret or load_secret_key(config), algorithms=[JWT_ALGORITHM], audience=AUDIENCE,
            options={"verify_exp": False, "verify_iat": False,
                     "require": ["exp", "typ", "aud", "dag_id", "run_id", "task_id", "map_index", "try_number"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the execution token is invalid ({exc})") from None
    exp = claims.get("exp")
    if not isinstance(exp, int) or (now if now is not None else time.time()) >= exp:
        raise InvalidToken("the execution token has expired")
    wanted = (scope,) if isinstance(scope, str) else tuple(scope)
    if claims.get("typ") not in wanted:
        raise InvalidToken(f"a {claims.get('typ')!r} token cannot do this (needs a {' or '.join(wanted)} token)",
                           status=403)
    try:
        return TaskKey(dag_id=str(claims["dag_id"]), run_id=str(claims["run_id"]), task_id=str(claims["task_id"]),
                       map_index=int(claims["map_index"]), try_number=int(claims["try_number"]))
    except (TypeError, ValueError):
        raise InvalidToken("the execution token names no valid try") from None
