"""Variables and the DB variable backend, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tradewind.persist.db import Database
from tradewind.persist.queries import variables as q


def test_set_get_replace_delete(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.set_variable(s, "greeting", "héllo ☃", "a description")
    with any_db.session_scope() as s:
        assert q.get_variable(s, "greeting") == "héllo ☃"
        assert q.get_variable_row(s, "greeting").description == "a description"
        q.set_variable(s, "greeting", "bye")
    with any_db.session_scope() as s:
        row = q.get_variable_row(s, "greeting")
        assert (row.val, row.description) == ("bye", None)
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
