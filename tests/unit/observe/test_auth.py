"""Access-control building blocks: roles, the permission matrix, redirects, rate limits, users."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi import APIRouter, Depends

from tradewind.observe.api.auth import (
    ACTIONS,
    PERMISSIONS,
    ROLE_ORDER,
    LoginRateLimiter,
    Principal,
    Role,
    authorize,
    load_secret_key,
    required_role,
    safe_next_path,
    unprotected_routes,
)
from tradewind.persist.db import utcnow
from tradewind.persist.queries import users

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_roles_are_ordered_and_include_the_weaker_ones():
    assert [r.value for r in ROLE_ORDER] == ["viewer", "user", "op", "admin"]
    assert list(users.VALID_ROLES) == [r.value for r in ROLE_ORDER]
    assert Role.ADMIN.includes(Role.VIEWER) and Role.OP.includes(Role.USER)
    assert not Role.VIEWER.includes(Role.USER) and not Role.OP.includes(Role.ADMIN)
    assert Role.parse("Admin") is Role.ADMIN
    with pytest.raises(ValueError, match="unknown role 'Public'; valid roles: viewer, user, op, admin"):
        Role.parse("Public")


@pytest.mark.parametrize(
    ("resource", "action", "role"),
    [
        ("dag", "read", "viewer"), ("task_log", "read", "viewer"), ("xcom", "read", "viewer"),
        ("import_error", "read", "viewer"), ("audit_log", "read", "viewer"), ("pool", "read", "viewer"),
        ("dag", "edit", "user"), ("dag", "delete", "user"), ("dag_run", "create", "user"),
        ("dag_run", "delete", "user"), ("task_instance", "edit", "user"), ("backfill", "create", "user"),
        ("variable", "read", "op"), ("variable", "create", "op"), ("pool", "create", "op"),
        ("connection", "delete", "op"), ("config", "read", "op"),
        ("user", "read", "admin"), ("user", "create", "admin"), ("role", "edit", "admin"),
    ],
)
def test_matrix_matches_airflows_roles(resource, action, role):
    assert required_role(resource, action).value == role


def test_matrix_uses_only_known_actions_and_principal_can():
    assert all(set(actions) <= set(ACTIONS) for actions in PERMISSIONS.values())
    viewer = Principal("v", Role.VIEWER)
    assert viewer.can("dag_run", "read") and not viewer.can("dag_run", "create")
    assert not viewer.can("variable", "read") and not viewer.can("user", "read")
    assert Principal("o", Role.OP).can("variable", "delete")


def test_unknown_resource_or_action_fails_when_the_route_is_declared():
    with pytest.raises(KeyError, match="unknown resource 'dagz'"):
        authorize("dagz", "read")
    with pytest.raises(KeyError, match="resource 'dag_code' has no action 'delete'"):
        authorize("dag_code", "delete")


def test_unguarded_routes_are_reported():
    router = APIRouter()

    @router.get("/api/v1/open")
    def open_route() -> dict:
        return {}

    @router.get("/api/v1/guarded", dependencies=[Depends(authorize("dag", "read"))])
    def guarded() -> dict:
        return {}

    @router.get("/api/v1/health")
    def health() -> dict:
        return {}

    guarded_by_router = APIRouter(dependencies=[Depends(authorize("pool", "read"))])

    @guarded_by_router.get("/api/v1/pools")
    def pools() -> dict:
        return {}

    from fastapi import FastAPI

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router)
    app.include_router(guarded_by_router)
    assert unprotected_routes(app.routes) == ["GET /api/v1/open"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/dags/x/grid?tab=log", "/dags/x/grid?tab=log"),
        ("/", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
        (None, "/"),
        ("dags", "/"),
    ],
)
def test_next_must_be_a_local_path(value, expected):
    assert safe_next_path(value) == expected


def test_rate_limiter_blocks_after_the_limit_per_user_and_per_ip_until_the_window_passes():
    clock = Clock()
    limiter = LoginRateLimiter(3, timedelta(seconds=60), clock)
    keys = limiter.keys("Ada", "10.0.0.1")
    for _ in range(3):
        assert limiter.retry_after(keys) is None
        limiter.record_failure(keys)
    assert limiter.retry_after(keys) == 60
    # The same IP with another username is blocked too; the same user from another IP as well.
    assert limiter.retry_after(limiter.keys("bob", "10.0.0.1")) == 60
    assert limiter.retry_after(limiter.keys("ada", "10.0.0.2")) == 60
    assert limiter.retry_after(limiter.keys("bob", "10.0.0.2")) is None
    clock.now += timedelta(seconds=45)
    assert limiter.retry_after(keys) == 15
    clock.now += timedelta(seconds=15)
    assert limiter.retry_after(keys) is None


def test_rate_limiter_memory_is_bounded():
    limiter = LoginRateLimiter(5, timedelta(seconds=60), Clock())
    limiter.MAX_KEYS = 50
    for i in range(500):
        limiter.record_failure([f"user:u{i}"])
    assert len(limiter._failures) <= 50


def test_secret_key_is_generated_once_per_home_with_owner_only_rights(config):
    first = load_secret_key(config)
    path = config.home / "api_secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret_key(config) == first and len(first) >= 40


def test_configured_secret_key_wins(tw_home):
    from tradewind.config import Config

    cfg = Config.load(home=tw_home, environ={}, overrides={"api": {"secret_key": "from-config"}})
    assert load_secret_key(cfg) == "from-config"
    assert not (tw_home / "api_secret_key").exists()


# ------------------------------------------------------------------ users (real SQLite)
def test_users_are_stored_with_argon2_hashes_and_checked(db):
    with db.session_scope() as session:
        user = users.create_user(session, username="ada", password="s3cret!", role="Op", now=utcnow(),
                                 email="ada@example.com", first_name="Ada", last_name="L")
        assert user.role == "op"
        assert user.password_hash.startswith("$argon2id$") and "s3cret!" not in user.password_hash
    with db.session_scope() as session:
        assert users.authenticate(session, "ada", "wrong", now=T0) is None
        assert users.authenticate(session, "nobody", "s3cret!", now=T0) is None
        ok = users.authenticate(session, "ada", "s3cret!", now=T0)
        assert ok is not None and ok.last_login == T0 and ok.login_count == 1 and ok.fail_login_count == 1
        users.set_active(session, "ada", False)
    with db.session_scope() as session:
        assert users.authenticate(session, "ada", "s3cret!", now=T0) is None


def test_user_errors_are_clear(db):
    with db.session_scope() as session:
        users.create_user(session, username="ada", password="x", role="viewer", now=utcnow())
        with pytest.raises(users.UserExistsError, match="user 'ada' already exists"):
            users.create_user(session, username="ada", password="x", role="viewer", now=utcnow())
        with pytest.raises(users.UserError, match="unknown role 'boss'"):
            users.create_user(session, username="bob", password="x", role="boss", now=utcnow())
        with pytest.raises(users.UserError, match="password must not be empty"):
            users.create_user(session, username="bob", password="", role="viewer", now=utcnow())
        with pytest.raises(users.UserError, match="spaces or control characters"):
            users.create_user(session, username="b ob", password="x", role="viewer", now=utcnow())
        with pytest.raises(users.UserNotFoundError, match="user 'zed' does not exist"):
            users.delete_user(session, "zed")
