"""``tradewind connections`` and ``rotate-fernet-key``: real CLI processes against a real SQLite home."""

from __future__ import annotations

import json
import os
import stat
from urllib.parse import unquote

import pytest
from cli_support import Home
from sqlalchemy import select

from tradewind.persist.db import Database
from tradewind.persist.models import Connection as ConnectionRow

pytestmark = pytest.mark.slow

PASSWORD = "pa$$-w0rd-xyz"


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    home.ok("db", "migrate")
    return home


def _rows(home: Home) -> list[ConnectionRow]:
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    try:
        with db.session_scope() as session:
            rows = list(session.scalars(select(ConnectionRow).order_by(ConnectionRow.conn_id)))
            session.expunge_all()
            return rows
    finally:
        db.engine.dispose()


def test_add_get_list_delete_never_print_the_password(home):
    added = home.ok("connections", "add", "warehouse", "--conn-uri",
                    f"postgresql://etl:{PASSWORD}@db.example:5432/sales?sslmode=require")
    assert "Successfully added `conn_id`=warehouse" in added.stdout and PASSWORD not in added.stdout
    home.ok("connections", "add", "s3", "--conn-type", "aws", "--conn-login", "minio",
            "--conn-extra", '{"endpoint_url": "http://localhost:9000", "aws_secret_access_key": "topsecret1"}',
            "--conn-description", "local object storage")

    got = home.json("connections", "get", "warehouse")
    assert got["conn_type"] == "postgres" and got["host"] == "db.example" and got["port"] == 5432
    assert got["schema"] == "sales" and got["login"] == "etl" and got["password"] == "***"
    assert got["extra"] == {"sslmode": "require"}
    assert got["uri"] == "postgres://etl:%2A%2A%2A@db.example:5432/sales?sslmode=require"

    listed = home.json("connections", "list")
    assert [c["conn_id"] for c in listed] == ["s3", "warehouse"]
    assert listed[0]["extra"] == {"endpoint_url": "http://localhost:9000", "aws_secret_access_key": "***"}
    assert listed[0]["password"] is None and listed[0]["description"] == "local object storage"
    for fmt in ("table", "plain", "json"):
        out = home.ok("connections", "list", "-o", fmt).stdout
        assert PASSWORD not in out and "topsecret1" not in out
    assert home.json("connections", "list", "--conn-id", "s3")[0]["conn_id"] == "s3"

    # At rest: both secrets are Fernet tokens, flagged encrypted.
    rows = {row.conn_id: row for row in _rows(home)}
    assert rows["warehouse"].is_encrypted and PASSWORD not in rows["warehouse"].password
    assert rows["s3"].is_extra_encrypted and "topsecret1" not in rows["s3"].extra and not rows["s3"].is_encrypted

    again = home.run("connections", "add", "warehouse", "--conn-type", "postgres")
    assert again.returncode == 1 and "connection 'warehouse' already exists" in again.stderr

    assert "Successfully deleted" in home.ok("connections", "delete", "warehouse").stdout
    missing = home.run("connections", "delete", "warehouse")
    assert missing.returncode == 1 and "connection 'warehouse' does not exist" in missing.stderr
    assert home.run("connections", "get", "warehouse").returncode == 1

    events = [entry["event"] for entry in home.json("audit", "list")]
    assert events.count("connection.add") == 2 and events.count("connection.delete") == 1


def test_the_fernet_key_is_generated_once_private_and_used(home):
    home.ok("connections", "add", "api", "--conn-type", "http", "--conn-password", PASSWORD)
    key_file = home.path / "fernet_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_text().strip()
    home.ok("connections", "add", "api2", "--conn-type", "http", "--conn-password", PASSWORD)
    assert key_file.read_text().strip() == key
    from cryptography.fernet import Fernet

    row = next(r for r in _rows(home) if r.conn_id == "api")
    assert Fernet(key.encode()).decrypt(row.password.encode()).decode() == PASSWORD


def test_bad_input_is_named(home):
    cases = [
        (("--conn-uri", "postgres://h", "--conn-host", "x"), "cannot be combined with --conn-uri: --conn-host"),
        (("--conn-host", "x"), "give --conn-type"),
        (("--conn-type", "http", "--conn-extra", "{nope"), "--conn-extra is not valid JSON"),
        (("--conn-type", "http", "--conn-port", "99999"), "port 99999 is out of range"),
        (("--conn-uri", "not a uri"), "is not a URI"),
        (("--conn-json", '{"conn_type": "http", "hots": "x"}'), "unknown field(s) hots"),
    ]
    for args, message in cases:
        result = home.run("connections", "add", "c1", *args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    assert _rows(home) == []
    home.env["TRADEWIND__CORE__FERNET_KEY"] = "not-a-key"
    result = home.run("connections", "add", "c1", "--conn-type", "http", "--conn-password", "whatever")
    assert result.returncode == 1 and "[core] fernet_key: key 1 of 1 is not a Fernet key" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "yaml", "env"])
def test_export_then_import_round_trips(home, tmp_path, fmt):
    home.ok("connections", "add", "warehouse", "--conn-uri", f"postgresql://etl:{PASSWORD}@db:5432/sales")
    home.ok("connections", "add", "s3", "--conn-type", "aws",
            "--conn-extra", '{"endpoint_url": "http://localhost:9000", "region_name": "eu-west-1"}')
    target = tmp_path / f"conns.{fmt}"
    home.ok("connections", "export", str(target))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert PASSWORD in unquote(target.read_text())  # export's purpose: passwords in clear (URI-quoted in env)

    other = Home(tmp_path / "other")
    other.ok("db", "migrate")
    imported = other.ok("connections", "import", str(target))
    assert "2 of 2 connections imported" in imported.stdout
    assert other.json("connections", "list") == home.json("connections", "list")
    db = Database.from_url(f"sqlite:///{other.path}/tradewind.db")
    try:
        from tradewind.persist.fernet import fernet_from_config
        from tradewind.config import Config
        from tradewind.persist.queries.connections import get_connection

        with db.session_scope() as session:
            conn = get_connection(session, "warehouse", fernet_from_config(Config.load(home=other.path)))
        assert conn.password == PASSWORD and conn.host == "db"
    finally:
        db.engine.dispose()

    again = other.ok("connections", "import", str(target))
    assert "0 of 2 connections imported" in again.stdout and "2 skipped" in again.stdout


def test_export_to_stdout_and_import_errors(home, tmp_path):
    home.ok("connections", "add", "api", "--conn-type", "http", "--conn-host", "example.com")
    out = home.ok("connections", "export", "-", "--file-format", "env").stdout
    assert out == "api=http://example.com\n"
    data = json.loads(home.ok("connections", "export", "-").stdout)
    assert data == {"api": {"conn_type": "http", "description": None, "host": "example.com", "login": None,
                            "password": None, "schema": None, "port": None, "extra": None}}

    bad = tmp_path / "bad.env"
    bad.write_text("good=http://ok.example\nbroken\n")
    result = home.run("connections", "import", str(bad))
    assert result.returncode == 1 and f"{bad}:2: expected CONN_ID=URI" in result.stderr
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"a": {"conn_type": "http", "port": "x"}}')
    result = home.run("connections", "import", str(bad_json))
    assert result.returncode == 1 and "port 'x' is not a number" in result.stderr
    assert [r.conn_id for r in _rows(home)] == ["api"]  # nothing imported


def test_rotate_fernet_key_reencrypts_with_the_first_key(home):
    from cryptography.fernet import Fernet, InvalidToken

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    home.env["TRADEWIND__CORE__FERNET_KEY"] = old
    home.ok("connections", "add", "api", "--conn-type", "http", "--conn-password", PASSWORD,
            "--conn-extra", '{"token": "abcdefgh"}')
    home.env["TRADEWIND__CORE__FERNET_KEY"] = f"{new},{old}"
    assert home.json("connections", "get", "api")["password"] == "***"  # old key still decrypts
    assert "Re-encrypted 1 connection(s)" in home.ok("rotate-fernet-key").stdout
    row = _rows(home)[0]
    assert Fernet(new.encode()).decrypt(row.password.encode()).decode() == PASSWORD
    assert json.loads(Fernet(new.encode()).decrypt(row.extra.encode())) == {"token": "abcdefgh"}
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(row.password.encode())
    home.env["TRADEWIND__CORE__FERNET_KEY"] = new
    assert home.json("connections", "get", "api")["conn_type"] == "http"

    home.env["TRADEWIND__CORE__FERNET_KEY"] = Fernet.generate_key().decode()
    result = home.run("connections", "get", "api")
    assert result.returncode == 1 and "cannot be decrypted" in result.stderr


def test_connections_test_without_a_hook_fails_clearly(home):
    home.ok("connections", "add", "odd", "--conn-type", "no_such_system")
    result = home.run("connections", "test", "odd")
    assert result.returncode == 1 and "no hook can test conn_type 'no_such_system'" in result.stderr
    missing = home.run("connections", "test", "nothing")
    assert missing.returncode == 1 and "connection 'nothing' does not exist" in missing.stderr


def test_a_task_reads_a_stored_connection_and_its_password_is_masked_in_the_log(home):
    home.ok("connections", "add", "warehouse", "--conn-uri", f"postgresql://etl:{PASSWORD}@db:5432/sales")
    home.add_dag("conn_dag.py", """
        from datetime import datetime
        from tradewind import DAG, task
        from tradewind.definition.hooks import BaseHook

        with DAG("conn_dag", start_date=datetime(2024, 1, 1), schedule=None):
            @task
            def show():
                conn = BaseHook.get_connection("warehouse")
                print("host", conn.host, "password", conn.password, "uri", conn.get_uri())
                return conn.schema

            show()
    """)
    result = home.ok("dags", "test", "conn_dag", "2024-01-02")
    assert "host db password *** uri postgres://etl:***@db:5432/sales" in result.stdout
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr
    logs = list((home.path / "logs").rglob("*.log"))
    assert logs and all(PASSWORD not in path.read_text() for path in logs)
    assert any("password ***" in path.read_text() for path in logs)
