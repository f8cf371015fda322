"""``tradewind users``: real CLI processes against a real SQLite home."""

from __future__ import annotations

import pytest
from cli_support import Home

from tradewind.persist.db import Database, utcnow
from tradewind.persist.queries import users

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    home.ok("db", "migrate")
    return home


def _password_ok(home: Home, username: str, password: str) -> bool:
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    try:
        with db.session_scope() as session:
            return users.authenticate(session, username, password, now=utcnow()) is not None
    finally:
        db.engine.dispose()


def test_create_list_reset_delete(home):
    created = home.ok("users", "create", "--username", "ada", "--password", "pw-1", "--role", "Admin",
                      "--email", "ada@example.com", "--firstname", "Ada", "--lastname", "Lovelace")
    assert "User ada created with role admin." in created.stdout
    listed = home.json("users", "list")
    assert listed == [{
        "id": 1, "username": "ada", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
        "role": "admin", "active": True, "last_login": None,
    }]
    assert "pw-1" not in home.ok("users", "list", "-o", "plain").stdout
    assert _password_ok(home, "ada", "pw-1")
    home.ok("users", "reset-password", "--username", "ada", "--password", "pw-2")
    assert not _password_ok(home, "ada", "pw-1") and _password_ok(home, "ada", "pw-2")
    assert "User ada deleted." in home.ok("users", "delete", "--username", "ada").stdout
    assert home.json("users", "list") == []
    events = [(e["event"], e["extra"]) for e in home.json("audit", "list")]
    names = [event for event, _ in events]
    assert {"user.create", "user.reset_password", "user.delete"} <= set(names)
    assert all("pw-" not in (extra or "") for _, extra in events)


def test_password_is_prompted_twice_when_not_given(home):
    result = home.run("users", "create", "-u", "bob", "-r", "viewer", input="s3cret\ns3cret\n")
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout
    assert _password_ok(home, "bob", "s3cret")
    mismatch = home.run("users", "create", "-u", "carl", "-r", "viewer", input="one\ntwo\none\none\n")
    assert mismatch.returncode == 0 and "do not match" in (mismatch.stdout + mismatch.stderr)
    assert _password_ok(home, "carl", "one")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "create", "-u", "ada", "-r", "public", "-p", "x"), "unknown role 'public'; valid roles: viewer, user, op, admin"),
        (("users", "create", "-u", "ada", "-r", "admin", "-p", "x"), "user 'ada' already exists"),
        (("users", "create", "-u", "a b", "-r", "admin", "-p", "x"), "spaces or control characters"),
        (("users", "create", "-u", "zed", "-r", "admin", "-p", ""), "password must not be empty"),
        (("users", "delete", "-u", "zed"), "user 'zed' does not exist"),
        (("users", "reset-password", "-u", "zed", "-p", "x"), "user 'zed' does not exist"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(home, args, message):
    home.ok("users", "create", "-u", "ada", "-r", "admin", "-p", "pw")
    result = home.run(*args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert [u["username"] for u in home.json("users", "list")] == ["ada"]
