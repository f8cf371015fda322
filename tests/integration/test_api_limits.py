"""Bad input at the door: request bodies over ``[api] max_body_size`` and who may set the client address.

The app is built as ``create_app`` builds it, then given the request limits with
:func:`install_request_limits` exactly as ``create_app`` calls it. Where it matters whether a body
was read at all, a real uvicorn server on a free port is driven with a raw socket.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from tradewind.config import Config, ConfigError
from tradewind.observe.api.app import create_app
from tradewind.observe.api.limits import (
    TrustedProxies,
    client_address,
    install_request_limits,
    uvicorn_forwarded_allow_ips,
)
from tradewind.persist.db import utcnow
from tradewind.persist.queries import users

PASSWORD = "admin-pw"
T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


def make_config(tw_home, **api: str) -> Config:
    return Config.load(home=tw_home, environ={}, overrides={"core": {"load_examples": "False"}, "api": api})


def make_app(config: Config, db):
    app = create_app(config, db)
    install_request_limits(app, config)
    return app


@pytest.fixture
def admin(db) -> str:
    with db.session_scope() as session:
        users.create_user(session, username="ada", password=PASSWORD, role="admin", now=utcnow())
    return "ada"


# ------------------------------------------------------------------ body size (in-process)
def test_a_declared_length_over_the_limit_is_413_naming_the_limit(tw_home, db, admin):
    client = TestClient(make_app(make_config(tw_home, max_body_size="2000"), db))
    response = client.post("/auth/token", content=b" " * 2001, headers={"content-type": "application/json"})
    assert response.status_code == 413
    body = response.json()
    assert body["status"] == 413 and body["title"] == "Content Too Large"
    assert "2000 bytes" in body["detail"] and "[api] max_body_size" in body["detail"]
    assert response.headers["content-type"] == "application/problem+json"


def test_a_body_under_the_limit_passes(tw_home, db, admin):
    client = TestClient(make_app(make_config(tw_home, max_body_size="2000"), db))
    padded = b'{"username": "ada", "password": "admin-pw"' + b" " * 1900 + b"}"
    assert len(padded) <= 2000
    assert client.post("/auth/token", content=padded, headers={"content-type": "application/json"}).status_code == 201


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(tw_home, db, admin):
    client = TestClient(make_app(make_config(tw_home, max_body_size="2000"), db))

    def pieces() -> Iterator[bytes]:  # no Content-Length: httpx streams it chunked
        yield b'{"username": "ada", "password": "admin-pw", "pad": "'
        for _ in range(50):
            yield b"x" * 500
        yield b'"}'

    response = client.post("/api/v1/dags/d/dagRuns", content=pieces(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["title"] == "Content Too Large"
    assert "2000 bytes" in response.json()["detail"]
    # A chunked body under the limit is read and handled as usual (here: no credentials, 401).
    small = client.post("/api/v1/dags/d/dagRuns", content=iter([b"{", b"}"]), headers={"content-type": "application/json"})
    assert small.status_code == 401


def test_the_execution_api_takes_larger_bodies(tw_home, db, admin):
    client = TestClient(make_app(make_config(tw_home, max_body_size="2000"), db))
    # Over [api] max_body_size but within the execution API's floor: read, then refused for its token.
    response = client.post("/execution/v1/try/logs", content=b" " * 5000, headers={"content-type": "application/json"})
    assert response.status_code in (401, 403, 422)


def test_a_non_positive_limit_is_a_start_up_error(tw_home, db):
    with pytest.raises(ConfigError, match=r"\[api\] max_body_size must be a positive"):
        make_app(make_config(tw_home, max_body_size="0"), db)


# ------------------------------------------------------------------ body size (real server)
@dataclass
class Server:
    port: int
    thread: threading.Thread
    server: uvicorn.Server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def real_server(tw_home, db, admin) -> Iterator[Server]:
    """The app under uvicorn on a free port, configured as ``tradewind api-server`` should be."""
    config = make_config(tw_home)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(make_app(config, db), log_level="warning", lifespan="off", access_log=False,
                                       forwarded_allow_ips=uvicorn_forwarded_allow_ips(config)))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Server(sock.getsockname()[1], thread, uv)
    uv.should_exit = True
    thread.join(timeout=30)


def _request_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def _read_status(conn: socket.socket, timeout: float) -> str:
    """The status line the server sent, waiting at most ``timeout`` seconds (``""`` if none came)."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            piece = conn.recv(4096)
            if not piece:
                break
            data += piece
    except socket.timeout:
        return ""
    return data.split(b"\r\n", 1)[0].decode()


def test_an_unauthenticated_50_mb_body_is_refused_before_it_is_sent(real_server):
    fifty_mb = 50 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", real_server.port)) as conn:
        conn.sendall(_request_head("/api/v1/dags/d/dagRuns", {"Content-Length": str(fifty_mb)}))
        conn.sendall(b"{" + b" " * 65_535)  # 64 KiB of the 50 MB, then nothing more
        # Had the server waited for the body, no answer would come until the 50 MB arrived.
        assert _read_status(conn, timeout=10).startswith("HTTP/1.1 413 ")


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit(real_server):
    limit = 1_048_576  # the default [api] max_body_size
    chunk = b" " * 65_536
    with socket.create_connection(("127.0.0.1", real_server.port)) as conn:
        conn.sendall(_request_head("/api/v1/dags/d/dagRuns", {"Transfer-Encoding": "chunked"}))
        sent = 0
        while sent <= limit:
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        # The body is not finished (no last chunk): the answer can only come from counting it.
        assert _read_status(conn, timeout=10).startswith("HTTP/1.1 413 ")


def test_curl_style_basic_auth_works_against_the_real_server(real_server):
    answer = httpx.get(f"{real_server.url}/api/v1/dags", auth=("ada", PASSWORD), timeout=30)
    assert answer.status_code == 200 and "dags" in answer.json()
    token = httpx.post(f"{real_server.url}/auth/token", json={"username": "ada", "password": PASSWORD}, timeout=30)
    assert token.status_code == 201
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert httpx.get(f"{real_server.url}/api/v2/importErrors", headers=bearer, timeout=30).status_code == 200


def test_the_real_server_ignores_a_spoofed_forwarded_for_from_an_untrusted_peer(real_server):
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default; configured as above it does not."""
    for n in range(5):
        spoofed = {"X-Forwarded-For": f"198.51.100.{n}"}
        wrong = httpx.post(f"{real_server.url}/auth/token", headers=spoofed, timeout=30,
                           json={"username": f"nobody{n}", "password": "x"})
        assert wrong.status_code == 401
    # Every failure counted against 127.0.0.1, whatever the header said: the next is blocked.
    blocked = httpx.post(f"{real_server.url}/auth/token", headers={"X-Forwarded-For": "198.51.100.99"}, timeout=30,
                         json={"username": "ada", "password": PASSWORD})
    assert blocked.status_code == 429


# ------------------------------------------------------------------ X-Forwarded-For
PROXIES = TrustedProxies.parse("10.0.0.0/8, 192.0.2.1")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # untrusted peer: header ignored
        ("10.1.2.3", [], "10.1.2.3"),  # trusted peer, no header: the peer
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # left of the real client: client-written
        ("10.1.2.3", ["198.51.100.1, 10.9.9.9, 192.0.2.1"], "198.51.100.1"),  # trusted hops skipped
        ("10.1.2.3", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # two headers read as one list
        ("10.1.2.3", ["10.2.2.2, 10.3.3.3"], "10.2.2.2"),  # only proxies: the left-most
        ("10.1.2.3", ["not-an-ip, 10.3.3.3"], "10.3.3.3"),  # garbage stops the walk
        ("10.1.2.3", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.1.2.3", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),  # IPv4-mapped peer of a dual-stack socket
        ("testclient", ["198.51.100.1"], "testclient"),  # not an IP: never trusted
        (None, ["198.51.100.1"], None),
    ],
)
def test_client_address(peer, forwarded, expected):
    assert client_address(peer, forwarded, PROXIES) == expected


def test_no_trusted_proxies_means_the_header_never_counts():
    assert client_address("127.0.0.1", ["198.51.100.1"], TrustedProxies.parse("")) == "127.0.0.1"


def test_a_bad_trusted_proxy_entry_stops_the_app_naming_the_key(tw_home, db):
    with pytest.raises(ConfigError, match=r"\[api\] trusted_proxies: '10.0.0.300' is not an IP"):
        make_app(make_config(tw_home, trusted_proxies="10.0.0.1, 10.0.0.300"), db)


def _fail_logins(client: TestClient, forwarded_for: str, times: int, first: int = 0) -> None:
    """``times`` failed logins, each as another made-up user (so only the address key fills up)."""
    for n in range(first, first + times):
        response = client.post("/auth/token", headers={"X-Forwarded-For": forwarded_for},
                               json={"username": f"nobody{n}", "password": "x"})
        assert response.status_code == 401


def test_login_rate_limit_keys_on_the_forwarded_client_behind_a_trusted_proxy(tw_home, db, admin):
    app = make_app(make_config(tw_home, trusted_proxies="10.0.0.0/8"), db)
    proxy = TestClient(app, client=("10.0.0.7", 50000))
    _fail_logins(proxy, "198.51.100.7", 5)
    login = {"username": "ada", "password": PASSWORD}
    assert proxy.post("/auth/token", headers={"X-Forwarded-For": "198.51.100.7"}, json=login).status_code == 429
    # Another client behind the same proxy is not blocked by the first one's failures.
    assert proxy.post("/auth/token", headers={"X-Forwarded-For": "198.51.100.8"}, json=login).status_code == 201


def test_login_rate_limit_ignores_forwarded_for_from_an_untrusted_peer(tw_home, db, admin):
    app = make_app(make_config(tw_home, trusted_proxies="10.0.0.0/8"), db)
    outsider = TestClient(app, client=("203.0.113.9", 50000))
    for n in range(5):  # a new made-up address each time does not escape the limit
        _fail_logins(outsider, f"198.51.100.{n}", 1, first=n)
    login = {"username": "ada", "password": PASSWORD}
    assert outsider.post("/auth/token", headers={"X-Forwarded-For": "198.51.100.200"}, json=login).status_code == 429
