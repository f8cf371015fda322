"""Variables and the DB variable backend, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tradewind.config import Config
from tradewind.persist.db import Database
from tradewind.persist.fernet import build_fernet, generate_key, register_config_for_database
from tradewind.persist.queries import variables as q

KEY = generate_key()


@pytest.fixture(autouse=True)
def _database_key(any_db: Database, tmp_path: Path) -> None:
    """This test's database is encrypted with KEY (as the CLI registers its settings' key)."""
    config = Config.load(home=tmp_path / "key_home", environ={}, overrides={"core": {"fernet_key": KEY}})
    register_config_for_database(config, any_db.engine.url)


def _raw(db: Database, key: str) -> tuple[str, bool]:
    """The stored column values, read past the query module."""
    with db.engine.connect() as conn:
        val, encrypted = conn.execute(text("SELECT val, is_encrypted FROM variable WHERE key = :k"), {"k": key}).one()
    return val, bool(encrypted)


def test_set_get_replace_delete(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.set_variable(s, "greeting", "héllo ☃", "a description")
    with any_db.session_scope() as s:
        assert q.get_variable(s, "greeting") == "héllo ☃"
        assert q.get_variable_row(s, "greeting").description == "a description"
        q.set_variable(s, "greeting", "bye")
    with any_db.session_scope() as s:
        row = q.get_variable_row(s, "greeting")
        assert (q.variable_value(s, row), row.description) == ("bye", None)
        assert q.delete_variable(s, "greeting") is True
        assert q.delete_variable(s, "greeting") is False
        assert q.get_variable(s, "greeting") is None


def test_json_values_round_trip(any_db: Database) -> None:
    value = {"list": [1, 2.5, None, True], "nested": {"ü": "ñ"}, "empty": {}}
    with any_db.session_scope() as s:
        q.set_variable(s, "cfg", value, serialize_json=True)
        q.set_variable(s, "nothing", None, serialize_json=True)
    with any_db.session_scope() as s:
        assert q.get_variable(s, "cfg", deserialize_json=True) == value
        assert q.get_variable(s, "nothing") == "null"
        assert q.get_variable(s, "nothing", deserialize_json=True) is None


def test_bad_input_is_rejected_with_the_key_named(any_db: Database) -> None:
    with any_db.session_scope() as s:
        with pytest.raises(q.VariableError, match="'k'.*serialize_json"):
            q.set_variable(s, "k", 42)
        with pytest.raises(q.VariableError, match="non-empty"):
            q.set_variable(s, "", "x")
        with pytest.raises(q.VariableError, match="longer than 250"):
            q.set_variable(s, "k" * 251, "x")
        q.set_variable(s, "plain", "not json")
        with pytest.raises(q.VariableError, match="'plain'.*JSON"):
            q.get_variable(s, "plain", deserialize_json=True)


def test_list_in_key_order_with_prefix(any_db: Database) -> None:
    with any_db.session_scope() as s:
        for key in ("b", "a_1", "a_2", "a%"):
            q.set_variable(s, key, key)
    with any_db.session_scope() as s:
        assert [v.key for v in q.list_variables(s)] == sorted(["b", "a_1", "a_2", "a%"])
        # "_" and "%" are literal in the prefix, not LIKE wildcards.
        assert [v.key for v in q.list_variables(s, prefix="a_")] == ["a_1", "a_2"]
        assert [v.key for v in q.list_variables(s, prefix="a%")] == ["a%"]


def test_import_then_export(any_db: Database) -> None:
    data = {"s": "text", "n": 3, "obj": {"a": [1, "x"]}, "nul": None, "uni": "日本"}
    with any_db.session_scope() as s:
        q.set_variable(s, "s", "old")
        counts = q.import_variables(s, data)
    assert counts == q.ImportCounts(created=4, updated=1, skipped=0)
    with any_db.session_scope() as s:
        assert q.get_variable(s, "n") == "3"
        assert q.get_variable(s, "obj", deserialize_json=True) == {"a": [1, "x"]}
        assert q.export_variables(s) == data


def test_import_skip_and_fail_on_existing(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.set_variable(s, "x", "keep")
    with any_db.session_scope() as s:
        assert q.import_variables(s, {"x": "new", "y": "1"}, on_existing="skip") == q.ImportCounts(1, 0, 1)
        assert q.get_variable(s, "x") == "keep"
    with any_db.session_scope() as s:
        with pytest.raises(q.VariableError, match="already exist: x"):
            q.import_variables(s, {"x": "new", "z": "2"}, on_existing="fail")
        assert q.get_variable(s, "z") is None
    with any_db.session_scope() as s:
        with pytest.raises(q.VariableError, match="JSON object"):
            q.import_variables(s, ["not", "a", "dict"])  # type: ignore[arg-type]


def test_db_variable_backend_protocol(any_db: Database) -> None:
    backend = q.DbVariableBackend(any_db)
    assert backend.get("missing") is None
    backend.set("k", "v", "desc")
    assert backend.get("k") == "v"
    with any_db.session_scope() as s:
        assert q.get_variable_row(s, "k").description == "desc"
    assert backend.delete("k") is True
    assert backend.delete("k") is False
    assert backend.get("k") is None


def test_values_are_ciphertext_in_the_database(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.set_variable(s, "secret", "hunter2-plain")
        q.import_variables(s, {"imported": "imported-plain"})
    for key, clear in (("secret", "hunter2-plain"), ("imported", "imported-plain")):
        stored, encrypted = _raw(any_db, key)
        assert encrypted is True
        assert clear not in stored
        assert build_fernet([KEY]).decrypt(stored.encode()).decode() == clear
    with any_db.session_scope() as s:
        assert q.get_variable(s, "secret") == "hunter2-plain"
        assert [(v.key, v.value) for v in q.list_variable_values(s)] == [
            ("imported", "imported-plain"), ("secret", "hunter2-plain")]


def test_plaintext_rows_stay_readable_and_rotation_encrypts_them(any_db: Database) -> None:
    with any_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO variable (key, val, is_encrypted) VALUES ('legacy', 'in-clear', :f)"),
                     {"f": False})
    with any_db.session_scope() as s:
        assert q.get_variable(s, "legacy") == "in-clear"
        q.set_variable(s, "modern", "v1")
    new_key = generate_key()
    rotating = build_fernet([new_key, KEY])
    with any_db.session_scope() as s:
        assert q.rotate_variables(s, rotating) == 2
    for key, clear in (("legacy", "in-clear"), ("modern", "v1")):
        stored, encrypted = _raw(any_db, key)
        assert encrypted is True
        assert build_fernet([new_key]).decrypt(stored.encode()).decode() == clear
    with any_db.session_scope() as s:
        assert q.get_variable(s, "modern", fernet=build_fernet([new_key])) == "v1"
        with pytest.raises(q.VariableError, match="'modern'.*cannot be decrypted.*rotate-fernet-key"):
            q.get_variable(s, "modern", fernet=build_fernet([KEY]))


def test_rotation_with_a_missing_old_key_changes_nothing(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.set_variable(s, "a", "1")
    before = _raw(any_db, "a")
    with any_db.session_scope() as s:
        with pytest.raises(q.VariableError, match="'a'.*any key"):
            q.rotate_variables(s, build_fernet([generate_key()]))
    assert _raw(any_db, "a") == before


def test_an_unregistered_sqlite_home_uses_its_own_key(any_db: Database, tmp_path: Path) -> None:
    """A process that never registered settings (no CLI) still agrees with the home's other processes:
    a SQLite file named tradewind.db takes the key of the home it lives in."""
    from tradewind.persist.migrate import upgrade

    if any_db.engine.dialect.name != "sqlite":
        pytest.skip("the home of a database is found from its SQLite file")
    home = tmp_path / "other_home"
    other = Database.from_url(f"sqlite:///{home}/tradewind.db")
    try:
        upgrade(other, default_pool_slots=128)
        with other.session_scope() as s:
            q.set_variable(s, "k", "home-value")
        stored, encrypted = _raw(other, "k")
        home_key = (home / "fernet_key").read_text().strip()
        assert encrypted and build_fernet([home_key]).decrypt(stored.encode()).decode() == "home-value"
    finally:
        other.engine.dispose()
