"""Access control through the real app on a real SQLite database: tokens, sessions, basic auth, roles, CSRF.

A small router of guarded test routes (under ``/api/v1/authtest``) covers every role against
each kind of permission; the REST API's own routes are checked for a few real cases too
(health/version public, a viewer cannot trigger, variables need op).
"""

from __future__ import annotations

import base64
import re
import signal
import stat
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from cli_support import Home, free_port, wait_for
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from tradewind.config import Config, ConfigError
from tradewind.observe.api.app import create_app
from tradewind.observe.api.auth import Principal, authorize
from tradewind.persist.db import utcnow
from tradewind.persist.queries import users

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
PASSWORDS = {"vera": "viewer-pw", "uma": "user-pw", "otto": "op-pw", "ada": "admin-pw"}
ROLES = {"vera": "viewer", "uma": "user", "otto": "op", "ada": "admin"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def _guarded_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/authtest")

    @router.get("/dags")
    def list_dags(principal: Principal = Depends(authorize("dag", "read"))) -> dict:
        return {"user": principal.username, "via": principal.via}

    @router.post("/dags/{dag_id}/dagRuns")
    def trigger(dag_id: str, principal: Principal = Depends(authorize("dag_run", "create"))) -> dict:
        return {"dag_id": dag_id, "by": principal.username}

    @router.get("/variables")
    def variables(principal: Principal = Depends(authorize("variable", "read"))) -> dict:
        return {"ok": True}

    @router.get("/users")
    def list_users(principal: Principal = Depends(authorize("user", "read"))) -> dict:
        return {"ok": True}

    return router


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(config, db, clock) -> TestClient:
    with db.session_scope() as session:
        for name, password in PASSWORDS.items():
            users.create_user(session, username=name, password=password, role=ROLES[name], now=utcnow())
    app = create_app(config, db, extra_routers=[_guarded_router()], clock=clock)
    return TestClient(app)


def token(client: TestClient, username: str, password: str | None = None) -> str:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password or PASSWORDS[username]})
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def bearer(client: TestClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(client, username)}"}


def login(client: TestClient, username: str, next_path: str = "/") -> httpx.Response:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": csrf,
                                       "next": next_path}, follow_redirects=False)


def session_csrf(client: TestClient) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)


# ------------------------------------------------------------------ tokens
def test_token_flow(client):
    response = client.post("/api/v1/auth/token", json={"username": "uma", "password": "user-pw"})
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    answer = client.get("/api/v1/authtest/dags", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert answer.status_code == 200 and answer.json() == {"user": "uma", "via": "token"}


def test_public_routes_need_no_credentials(client):
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v2/monitor/health").json()["metadatabase"] == {"status": "healthy"}
    assert "version" in client.get("/api/v2/version").json()
    assert client.get("/static/tradewind.css").status_code == 200
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "authentication required"),
        ({"Authorization": "Digest username=ada"}, "must be 'Bearer <token>' or 'Basic"),
        ({"Authorization": "Basic bm90LWJhc2U2NA=="}, "base64 of 'username:password'"),
        ({"Authorization": "Basic %%%"}, "base64 of 'username:password'"),
        ({"Authorization": "Bearer not-a-token"}, "invalid or expired"),
    ],
)
def test_missing_or_bad_credentials_are_401_json(client, headers, detail):
    response = client.get("/api/v1/authtest/dags", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert detail in body["detail"] and body["status"] == 401 and body["title"] == "Unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_openapi_schema_needs_a_login(client):
    assert client.get("/api/v1/openapi.json").status_code == 401
    schema = client.get("/api/v1/openapi.json", headers=bearer(client, "vera")).json()
    assert "/api/v1/auth/token" in schema["paths"]


@pytest.mark.parametrize(
    ("username", "password"), [("uma", "wrong"), ("nobody", "user-pw"), ("uma", "")],
)
def test_bad_credentials_get_no_token(client, username, password):
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code in (401, 422)
    assert "access_token" not in response.json()


def test_token_signed_with_another_key_is_refused(client, config, db, clock):
    import jwt

    forged = jwt.encode({"sub": "ada", "uid": 4, "typ": "access", "exp": int((T0 + timedelta(hours=1)).timestamp()),
                         "pwv": "x"}, "guessed-key", algorithm="HS256")
    assert client.get("/api/v1/authtest/dags", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_token_expires(client, clock):
    headers = bearer(client, "uma")
    clock.advance(seconds=3599)
    assert client.get("/api/v1/authtest/dags", headers=headers).status_code == 200
    clock.advance(seconds=1)
    response = client.get("/api/v1/authtest/dags", headers=headers)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_deleted_disabled_or_reset_users_lose_their_tokens(client, db, clock):
    uma, otto, ada = bearer(client, "uma"), bearer(client, "otto"), bearer(client, "ada")
    with db.session_scope() as session:
        users.delete_user(session, "uma")
        users.set_active(session, "otto", False)
        users.set_password(session, "ada", "new-admin-pw")
    clock.advance(seconds=3)  # past the short per-user cache
    for headers in (uma, otto, ada):
        assert client.get("/api/v1/authtest/dags", headers=headers).status_code == 401
    # A re-created user of the same name does not inherit the old token.
    with db.session_scope() as session:
        users.create_user(session, username="uma", password="user-pw", role="admin", now=utcnow())
    clock.advance(seconds=3)
    assert client.get("/api/v1/authtest/dags", headers=uma).status_code == 401
    # Disabled users cannot log in either.
    assert client.post("/api/v1/auth/token", json={"username": "otto", "password": "op-pw"}).status_code == 401
    assert client.get("/api/v1/authtest/dags", headers={"Authorization": f"Bearer {token(client, 'ada', 'new-admin-pw')}"}).status_code == 200


def test_failed_logins_are_rate_limited_per_user_and_per_ip(client, clock):
    for _ in range(5):
        assert client.post("/api/v1/auth/token", json={"username": "uma", "password": "nope"}).status_code == 401
    blocked = client.post("/api/v1/auth/token", json={"username": "uma", "password": "user-pw"})
    assert blocked.status_code == 429 and blocked.json()["status"] == 429
    assert blocked.headers["retry-after"] == "60"
    # The client IP is over its limit too, whatever username it tries.
    assert client.post("/api/v1/auth/token", json={"username": "ada", "password": "admin-pw"}).status_code == 429
    clock.advance(seconds=60)
    assert client.post("/api/v1/auth/token", json={"username": "uma", "password": "user-pw"}).status_code == 201


def test_login_page_is_rate_limited_too(client):
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    for _ in range(5):
        response = client.post("/login", data={"username": "ada", "password": "bad", "csrf_token": csrf})
        assert response.status_code == 401 and "Invalid username or password" in response.text
    response = client.post("/login", data={"username": "ada", "password": "admin-pw", "csrf_token": csrf})
    assert response.status_code == 429 and "Try again in 60 seconds" in response.text
    assert SESSION not in response.cookies


# ------------------------------------------------------------------ roles
@pytest.mark.parametrize(
    ("username", "read", "trigger", "variables", "users_list"),
    [
        ("vera", 200, 403, 403, 403),
        ("uma", 200, 200, 403, 403),
        ("otto", 200, 200, 200, 403),
        ("ada", 200, 200, 200, 200),
    ],
)
def test_each_role_gets_exactly_its_permissions(client, username, read, trigger, variables, users_list):
    headers = bearer(client, username)
    assert client.get("/api/v1/authtest/dags", headers=headers).status_code == read
    assert client.post("/api/v1/authtest/dags/d/dagRuns", headers=headers).status_code == trigger
    assert client.get("/api/v1/authtest/variables", headers=headers).status_code == variables
    assert client.get("/api/v1/authtest/users", headers=headers).status_code == users_list


def test_real_routes_enforce_roles(client):
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/version").status_code == 200
    assert client.get("/api/v1/dags").status_code == 401
    viewer, op = bearer(client, "vera"), bearer(client, "otto")
    assert client.get("/api/v1/dags", headers=viewer).status_code == 200
    refused = client.post("/api/v1/dags/some_dag/dagRuns", headers=viewer, json={})
    assert refused.status_code == 403 and refused.json()["status"] == 403
    assert client.patch("/api/v1/dags/some_dag", headers=viewer, json={"is_paused": True}).status_code == 403
    assert client.get("/api/v1/variables", headers=viewer).status_code == 403
    assert client.get("/api/v1/variables", headers=op).status_code == 200


def test_forbidden_is_403_json_naming_the_missing_permission(client):
    response = client.post("/api/v1/authtest/dags/d/dagRuns", headers=bearer(client, "vera"))
    assert response.status_code == 403
    body = response.json()
    assert body["title"] == "Forbidden" and body["status"] == 403
    assert "'viewer'" in body["detail"] and "create dag_run" in body["detail"] and "needs user" in body["detail"]


def test_an_unguarded_route_stops_the_app_from_being_built(config, db):
    router = APIRouter()

    @router.get("/api/v1/forgotten")
    def forgotten() -> dict:
        return {}

    with pytest.raises(RuntimeError, match=r"GET /api/v1/forgotten"):
        create_app(config, db, extra_routers=[router])


# ------------------------------------------------------------------ browser session
SESSION = "tradewind_session"


def test_login_sets_a_hardened_session_cookie_and_redirects_to_next(client):
    response = login(client, "uma", "/api/v1/authtest/dags")
    assert response.status_code == 303 and response.headers["location"] == "/api/v1/authtest/dags"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here
    assert client.get("/api/v1/authtest/dags").json() == {"user": "uma", "via": "session"}


def test_session_cookie_is_secure_over_https(config, db, clock):
    with db.session_scope() as session:
        users.create_user(session, username="uma", password="user-pw", role="user", now=utcnow())
    https = TestClient(create_app(config, db, clock=clock), base_url="https://tradewind.example")
    assert "Secure" in login(https, "uma").headers["set-cookie"]


def test_anonymous_page_views_go_to_login_and_come_back(client):
    response = client.get("/?tab=grid", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/%3Ftab%3Dgrid"
    page = client.get(response.headers["location"])
    assert 'name="next" value="/?tab=grid"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert login(client, "vera", "/?tab=grid").headers["location"] == "/?tab=grid"
    home = client.get("/")
    assert home.status_code == 200 and "vera" in home.text and "viewer" in home.text


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example", "/\\evil.example"])
def test_login_never_redirects_off_site(client, target):
    assert 'name="next" value="/"' in client.get("/login", params={"next": target}).text
    assert login(client, "uma", target).headers["location"] == "/"


def test_login_form_without_its_csrf_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"username": "ada", "password": "admin-pw", "csrf_token": "forged"})
    assert response.status_code == 403 and SESSION not in response.cookies


def test_login_page_escapes_what_it_echoes(client):
    client.get("/login")
    response = client.post("/login", data={"username": "<script>alert(1)</script>", "password": "x",
                                           "csrf_token": "forged"})
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_cookie_writes_need_the_sessions_csrf_token_bearer_writes_do_not(client):
    login(client, "uma")
    refused = client.post("/api/v1/authtest/dags/d/dagRuns")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert client.post("/api/v1/authtest/dags/d/dagRuns", headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    csrf = session_csrf(client)
    assert client.post("/api/v1/authtest/dags/d/dagRuns", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.post("/api/v1/authtest/dags/d/dagRuns", data={"csrf_token": csrf}).status_code == 200
    # Another session's token does not fit this one.
    other = TestClient(client.app)
    login(other, "uma")
    assert other.post("/api/v1/authtest/dags/d/dagRuns", headers={"X-CSRF-Token": csrf}).status_code == 403
    # A script with a bearer token needs no CSRF token (a browser never sends that header by itself).
    fresh = TestClient(client.app)
    assert fresh.post("/api/v1/authtest/dags/d/dagRuns", headers=bearer(fresh, "uma")).status_code == 200


def test_logout_needs_csrf_and_ends_the_session(client):
    login(client, "uma")
    assert client.post("/logout", follow_redirects=False).status_code == 403
    csrf = session_csrf(client)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/api/v1/authtest/dags").status_code == 401


def test_session_expires(client, clock):
    login(client, "uma")
    clock.advance(days=30)
    assert client.get("/api/v1/authtest/dags").status_code == 401


# ------------------------------------------------------------------ Airflow 3's token login
def basic(username: str, password: str | None = None) -> dict[str, str]:
    pair = f"{username}:{password or PASSWORDS[username]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def app_with(tw_home, db, clock, **api: str) -> TestClient:
    """The app of a config with ``[api]`` overrides (the users of ``client`` must exist already)."""
    config = Config.load(home=tw_home, environ={}, overrides={"core": {"load_examples": "False"}, "api": api})
    return TestClient(create_app(config, db, extra_routers=[_guarded_router()], clock=clock))


@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/cli"])
def test_airflow3_token_endpoint_gives_a_token_for_v1_and_v2(client, path):
    response = client.post(path, json={"username": "otto", "password": "op-pw"})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert client.get("/api/v2/importErrors", headers=headers).json() == {"import_errors": [], "total_entries": 0}
    assert client.get("/api/v1/authtest/variables", headers=headers).json() == {"ok": True}


def test_token_endpoint_takes_an_oauth2_password_form(client):
    form = {"grant_type": "password", "username": "vera", "password": "viewer-pw", "scope": ""}
    response = client.post("/auth/token", data=form)
    assert response.status_code == 201 and response.json()["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert client.get("/api/v1/authtest/dags", headers=headers).json() == {"user": "vera", "via": "token"}


def test_token_endpoint_refuses_bad_passwords_and_bad_bodies_clearly(client):
    wrong = client.post("/auth/token", json={"username": "vera", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid username or password"
    assert "access_token" not in wrong.json()
    missing = client.post("/auth/token", json={"username": "vera"})
    assert missing.status_code == 422 and missing.json()["field"] == "password"
    not_json = client.post("/auth/token", content=b"{username", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["detail"]
    text = client.post("/auth/token", content=b"vera:viewer-pw", headers={"content-type": "text/plain"})
    assert text.status_code == 415 and "application/x-www-form-urlencoded" in text.json()["detail"]


def test_token_endpoints_share_the_login_rate_limit(client, clock):
    for path in ("/auth/token", "/auth/token/cli", "/api/v1/auth/token", "/auth/token", "/auth/token"):
        assert client.post(path, json={"username": "uma", "password": "nope"}).status_code == 401
    blocked = client.post("/auth/token", json={"username": "uma", "password": "user-pw"})
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
    assert client.post("/auth/token/cli", data={"username": "uma", "password": "user-pw"}).status_code == 429
    clock.advance(seconds=60)
    assert client.post("/auth/token", json={"username": "uma", "password": "user-pw"}).status_code == 201


def test_v2_login_redirects_to_the_login_page_keeping_next_on_site(client):
    plain = client.get("/api/v2/auth/login", follow_redirects=False)
    assert plain.status_code == 307 and plain.headers["location"] == "/login"
    onward = client.get("/api/v2/auth/login", params={"next": "/dags?tab=grid"}, follow_redirects=False)
    assert onward.status_code == 307 and onward.headers["location"] == "/login?next=/dags%3Ftab%3Dgrid"
    own_url = client.get("/api/v2/auth/login", params={"next": "http://testserver/dags"}, follow_redirects=False)
    assert own_url.headers["location"] == "/login?next=/dags"
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        refused = client.get("/api/v2/auth/login", params={"next": target}, follow_redirects=False)
        assert refused.status_code == 400 and "next must be a path" in refused.json()["detail"]


def test_v2_logout_ends_the_session_and_goes_to_the_login_page(client):
    login(client, "uma")
    assert client.get("/api/v1/authtest/dags").status_code == 200
    response = client.get("/api/v2/auth/logout", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/login"
    assert 'tradewind_session=""' in response.headers["set-cookie"]
    assert client.get("/api/v1/authtest/dags").status_code == 401


# ------------------------------------------------------------------ basic auth
def test_basic_auth_works_on_v1_and_v2_and_is_exempt_from_csrf(client):
    assert client.get("/api/v1/authtest/dags", headers=basic("uma")).json() == {"user": "uma", "via": "basic"}
    assert client.get("/api/v1/dags", headers=basic("vera")).status_code == 200
    assert client.get("/api/v2/importErrors", headers=basic("vera")).status_code == 200
    # A state change with basic credentials needs no CSRF token (nothing a browser adds by itself).
    assert client.post("/api/v1/authtest/dags/d/dagRuns", headers=basic("uma")).json() == {"dag_id": "d", "by": "uma"}
    # The role still decides.
    assert client.post("/api/v1/authtest/dags/d/dagRuns", headers=basic("vera")).status_code == 403


def test_basic_auth_with_a_wrong_password_is_401_and_rate_limited(client, clock):
    wrong = client.get("/api/v1/authtest/dags", headers=basic("uma", "nope"))
    assert wrong.status_code == 401 and "invalid username or password" in wrong.json()["detail"]
    assert wrong.headers["www-authenticate"] == "Bearer"  # never a Basic challenge: browsers would cache it
    for _ in range(4):
        assert client.get("/api/v1/authtest/dags", headers=basic("uma", "nope")).status_code == 401
    blocked = client.get("/api/v1/authtest/dags", headers=basic("uma"))
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
    # The same counter as the token endpoint: the user cannot get a token either.
    assert client.post("/auth/token", json={"username": "uma", "password": "user-pw"}).status_code == 429
    clock.advance(seconds=60)
    assert client.get("/api/v1/authtest/dags", headers=basic("uma")).status_code == 200


def test_basic_auth_stops_working_at_once_after_a_password_reset(client, db, clock):
    assert client.get("/api/v1/authtest/dags", headers=basic("ada")).status_code == 200
    with db.session_scope() as session:
        users.set_password(session, "ada", "new-admin-pw")
    clock.advance(seconds=3)  # past the per-user cache, well inside the verified-password cache
    assert client.get("/api/v1/authtest/dags", headers=basic("ada")).status_code == 401
    assert client.get("/api/v1/authtest/dags", headers=basic("ada", "new-admin-pw")).status_code == 200


def test_basic_auth_is_for_the_api_not_the_ui_pages(client):
    response = client.get("/", headers=basic("ada"), follow_redirects=False)
    assert response.status_code == 401 and "/api/v1 and /api/v2 only" in response.json()["detail"]


def test_basic_auth_is_refused_naming_the_key_when_its_backend_is_off(client, tw_home, db, clock):
    off = app_with(tw_home, db, clock, auth_backends="session")
    response = off.get("/api/v1/dags", headers=basic("ada"))
    assert response.status_code == 401
    assert "basic auth is not enabled" in response.json()["detail"]
    assert "[api] auth_backends" in response.json()["detail"]
    assert off.get("/api/v1/dags", headers=bearer(off, "ada")).status_code == 200  # tokens still work


def test_auth_backends_takes_airflow_module_paths_and_refuses_unknown_names(client, tw_home, db, clock):
    airflow_style = app_with(tw_home, db, clock,
                             auth_backends="airflow.api.auth.backend.session, airflow.api.auth.backend.basic_auth")
    assert airflow_style.get("/api/v1/dags", headers=basic("ada")).status_code == 200
    with pytest.raises(ConfigError, match=r"\[api\] auth_backends: unknown backend 'kerberos_auth'"):
        app_with(tw_home, db, clock, auth_backends="session,kerberos_auth")


# ------------------------------------------------------------------ standalone (real process)
@pytest.mark.slow
def test_standalone_creates_an_admin_once_and_prints_its_password_once(tmp_path):
    home = Home(tmp_path / "home")
    port = free_port()

    def start_and_stop() -> str:
        proc = home.popen("standalone", "--port", str(port), "--host", "127.0.0.1")
        try:
            # Health answers before the scheduler starts; stop only once everything runs.
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                     .json()["scheduler"]["status"] == "healthy", deadline=60, what="standalone scheduler health")
            if first_password[0] is None:
                password_file = home.path / "standalone_admin_password.txt"
                first_password[0] = wait_for(lambda: password_file.exists() and password_file.read_text().strip(),
                                             deadline=30, what="admin password file")
                answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/token",
                                    json={"username": "admin", "password": first_password[0]}, timeout=10)
                assert answer.status_code == 201, answer.text
                schema = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10,
                                   headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
                assert schema.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        return out

    first_password: list[str | None] = [None]
    first = start_and_stop()
    password_file = home.path / "standalone_admin_password.txt"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert f"admin / {first_password[0]}" in first
    second = start_and_stop()
    assert first_password[0] not in second
    assert f"admin, password in {password_file}" in second
    listed = home.json("users", "list")
    assert [(u["username"], u["role"]) for u in listed] == [("admin", "admin")]
