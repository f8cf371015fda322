"""Stored connections: Fernet encryption at rest, MultiFernet, rotation and the DB backend, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from tradewind.config import Config
from tradewind.definition import masking
from tradewind.definition.connection import Connection, get_connection, set_connection_backend
from tradewind.persist.db import Database
from tradewind.persist.fernet import FernetKeyError, build_fernet, fernet_from_config
from tradewind.persist.models import Connection as ConnectionRow
from tradewind.persist.queries import connections as q

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _conn(conn_id: str = "warehouse", password: str | None = "s3cret-pw") -> Connection:
    return Connection(conn_id=conn_id, conn_type="postgres", host="db", login="etl", password=password,
                      schema="sales", port=5432, extra={"sslmode": "require", "api_token": "tok-123456"},
                      description="the warehouse")


def _row(db: Database, conn_id: str) -> ConnectionRow:
    with db.session_scope() as s:
        row = s.scalars(select(ConnectionRow).where(ConnectionRow.conn_id == conn_id)).one()
        s.expunge(row)
        return row


def test_round_trip_encrypted_at_rest(any_db: Database) -> None:
    fernet = build_fernet([NEW])
    with any_db.session_scope() as s:
        q.add_connection(s, _conn(), fernet)
    row = _row(any_db, "warehouse")
    assert row.is_encrypted and row.is_extra_encrypted
    assert "s3cret-pw" not in row.password and "tok-123456" not in row.extra
    assert Fernet(NEW.encode()).decrypt(row.password.encode()) == b"s3cret-pw"
    with any_db.session_scope() as s:
        assert q.get_connection(s, "warehouse", fernet) == _conn()
        assert q.get_connection(s, "nope", fernet) is None
        with pytest.raises(q.ConnectionStorageError, match="connection 'warehouse' already exists"):
            q.add_connection(s, _conn(), fernet)


def test_no_password_stores_null_unflagged(any_db: Database) -> None:
    fernet = build_fernet([NEW])
    with any_db.session_scope() as s:
        q.add_connection(s, Connection(conn_id="plain", conn_type="http", host="example.com"), fernet)
    row = _row(any_db, "plain")
    assert (row.password, row.is_encrypted, row.extra, row.is_extra_encrypted) == (None, False, None, False)


def test_multifernet_first_key_encrypts_all_decrypt(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.add_connection(s, _conn(), build_fernet([OLD]))
    with any_db.session_scope() as s:  # the old key, second in the list, still decrypts
        assert q.get_connection(s, "warehouse", build_fernet([NEW, OLD])).password == "s3cret-pw"
        q.save_connection(s, _conn("second"), build_fernet([NEW, OLD]))
    assert Fernet(NEW.encode()).decrypt(_row(any_db, "second").password.encode()) == b"s3cret-pw"
    with any_db.session_scope() as s:
        with pytest.raises(q.ConnectionStorageError, match="connection 'warehouse': the stored password cannot"):
            q.get_connection(s, "warehouse", build_fernet([NEW]))


def test_rotate_reencrypts_everything_with_the_first_key(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.add_connection(s, _conn("a"), build_fernet([OLD]))
        q.add_connection(s, _conn("b", password=None), build_fernet([OLD]))
        s.add(ConnectionRow(conn_id="legacy", conn_type="http", password="in-clear-pw", is_encrypted=False,
                            is_extra_encrypted=False))
    with any_db.session_scope() as s:
        assert q.rotate_fernet_key(s, build_fernet([NEW, OLD])) == 3
    new_only = build_fernet([NEW])
    with any_db.session_scope() as s:
        conns = {c.conn_id: c for c in q.list_connections(s, new_only)}
    assert conns["a"] == _conn("a") and conns["b"] == _conn("b", password=None)
    assert conns["legacy"].password == "in-clear-pw"
    legacy = _row(any_db, "legacy")
    assert legacy.is_encrypted and legacy.password != "in-clear-pw"
    with pytest.raises(InvalidToken):
        Fernet(OLD.encode()).decrypt(_row(any_db, "a").password.encode())


def test_rotate_with_an_unknown_key_changes_nothing(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.add_connection(s, _conn("a"), build_fernet([OLD]))
    before = _row(any_db, "a").password
    with any_db.session_scope() as s:
        with pytest.raises(q.ConnectionStorageError, match="cannot be decrypted with any key"):
            q.rotate_fernet_key(s, build_fernet([NEW]))
    assert _row(any_db, "a").password == before


def test_import_validates_everything_first(any_db: Database) -> None:
    fernet = build_fernet([NEW])
    with any_db.session_scope() as s:
        q.add_connection(s, _conn("a"), fernet)
    with any_db.session_scope() as s:
        with pytest.raises(q.ConnectionStorageError, match="conn_type is required"):
            q.import_connections(s, [_conn("new"), Connection(conn_id="bad")], fernet)
        with pytest.raises(q.ConnectionStorageError, match="connections already exist: a"):
            q.import_connections(s, [_conn("a")], fernet, on_existing="fail")
        with pytest.raises(q.ConnectionStorageError, match="must not contain whitespace"):
            q.import_connections(s, [_conn("has space")], fernet)
    with any_db.session_scope() as s:
        assert [c.conn_id for c in q.list_connections(s, fernet)] == ["a"]
        counts = q.import_connections(s, [_conn("a", password="changed1"), _conn("b")], fernet,
                                      on_existing="overwrite")
    assert (counts.created, counts.updated, counts.skipped) == (1, 1, 0)
    with any_db.session_scope() as s:
        assert q.get_connection(s, "a", fernet).password == "changed1"
        assert q.count_connections(s) == 2
        assert q.delete_connection(s, "a") is True and q.delete_connection(s, "a") is False


def test_db_backend_serves_get_connection_and_registers_secrets(any_db: Database, config: Config) -> None:
    with any_db.session_scope() as s:
        q.add_connection(s, _conn(), fernet_from_config(config))
    previous = set_connection_backend(q.DbConnectionBackend(any_db, config))
    masking.forget_secrets()
    try:
        conn = get_connection("warehouse")
    finally:
        set_connection_backend(previous)
    assert conn.password == "s3cret-pw" and conn.extra_dejson["sslmode"] == "require"
    line = "connect etl/s3cret-pw with tok-123456 (sslmode=require)"
    assert masking.redact_text(line) == "connect etl/*** with *** (sslmode=require)"
    masking.forget_secrets()


def test_generated_key_file_and_bad_keys(config: Config, tw_home) -> None:
    first = fernet_from_config(config)
    key_file = tw_home / "fernet_key"
    assert (key_file.stat().st_mode & 0o777) == 0o600
    token = first.encrypt(b"x")
    assert fernet_from_config(config).decrypt(token) == b"x"  # the same key on the next load
    bad = Config.load(home=tw_home, environ={}, overrides={"core": {"fernet_key": f"{NEW}, short"}})
    with pytest.raises(FernetKeyError, match=r"\[core\] fernet_key: key 2 of 2 is not a Fernet key"):
        fernet_from_config(bad)
    with pytest.raises(FernetKeyError, match="only commas"):
        fernet_from_config(Config.load(home=tw_home, environ={}, overrides={"core": {"fernet_key": " , "}}))
