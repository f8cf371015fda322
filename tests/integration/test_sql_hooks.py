"""The DB-API hooks on real databases: a SQLite file, the session's PostgreSQL and MariaDB servers.

Every test runs on all three (ids ``[sqlite]``, ``[postgres]``, ``[mariadb]``); the connection
comes from a ``TRADEWIND_CONN_<ID>`` environment variable, as a task would see it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tradewind.definition.connection import ConnectionNotFound
from tradewind.integrations.sql import (
    DbApiHook,
    MySqlHook,
    PostgresHook,
    SqliteHook,
    fetch_all_handler,
    get_db_hook,
)
from tradewind.integrations.sql.hooks import NoSqlHookError, split_sql_string


@dataclass
class Backend:
    name: str
    conn_id: str
    hook_class: type[DbApiHook]
    param: str  # the driver's positional parameter marker

    def hook(self) -> DbApiHook:
        return self.hook_class(self.conn_id)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mariadb"])
def backend(request, tmp_path, monkeypatch) -> Backend:
    if request.param == "sqlite":
        monkeypatch.setenv("TRADEWIND_CONN_WAREHOUSE", f"sqlite:///{tmp_path / 'warehouse.db'}")
        return Backend("sqlite", "warehouse", SqliteHook, "?")
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        name = server.new_database_name("sqlhook")
        server.execute_autocommit(f'CREATE DATABASE "{name}"')
        monkeypatch.setenv("TRADEWIND_CONN_WAREHOUSE", f"postgres://postgres@127.0.0.1:{server.port}/{name}")
        request.addfinalizer(lambda: server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return Backend("postgres", "warehouse", PostgresHook, "%s")
    server = request.getfixturevalue("mariadb_server")
    with server.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS items")
    monkeypatch.setenv("TRADEWIND_CONN_WAREHOUSE", server.uri())
    return Backend("mariadb", "warehouse", MySqlHook, "%s")


def _create_items(hook: DbApiHook) -> None:
    hook.run("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50), price INTEGER)")


def test_run_insert_rows_and_read_back(backend):
    hook = backend.hook()
    _create_items(hook)
    written = hook.insert_rows("items", [(1, "apple", 3), (2, "pear", 5), (3, "plum", None)],
                               target_fields=["id", "name", "price"], commit_every=2)
    assert written == 3
    assert hook.get_records("SELECT id, name, price FROM items ORDER BY id") == [
        (1, "apple", 3), (2, "pear", 5), (3, "plum", None)]
    assert hook.get_first(f"SELECT name FROM items WHERE price > {backend.param} ORDER BY id", parameters=[4]) \
        == ("pear",)
    assert hook.get_first("SELECT name FROM items WHERE id = 99") is None


def test_named_parameters(backend):
    hook = backend.hook()
    _create_items(hook)
    hook.insert_rows("items", [(1, "apple", 3), (2, "pear", 5)])
    marker = ":wanted" if backend.name == "sqlite" else "%(wanted)s"
    assert hook.get_records(f"SELECT name FROM items WHERE id = {marker}", {"wanted": 2}) == [("pear",)]


def test_run_results_follow_return_last_and_split_statements(backend):
    hook = backend.hook()
    _create_items(hook)
    hook.insert_rows("items", [(1, "apple", 3), (2, "pear", 5)])
    two = "SELECT COUNT(*) FROM items; SELECT name FROM items ORDER BY id"
    assert hook.run(two, split_statements=True, handler=fetch_all_handler) == [("apple",), ("pear",)]
    assert hook.run(two, split_statements=True, return_last=False, handler=fetch_all_handler) == [
        [(2,)], [("apple",), ("pear",)]]
    assert hook.run(["SELECT 1", "SELECT 2"], handler=fetch_all_handler) == [[(1,)], [(2,)]]
    assert hook.run("SELECT 1") is None  # no handler: nothing fetched
    with pytest.raises(ValueError, match="no SQL statement"):
        hook.run("   ")


def test_a_failing_statement_rolls_back_the_transaction_unless_autocommit(backend):
    hook = backend.hook()
    _create_items(hook)
    statements = ["INSERT INTO items VALUES (1, 'apple', 3)", "INSERT INTO no_such_table VALUES (1)"]
    with pytest.raises(Exception, match="no_such_table"):
        hook.run(statements)
    assert hook.get_first("SELECT COUNT(*) FROM items") == (0,)
    with pytest.raises(Exception, match="no_such_table"):
        hook.run(statements, autocommit=True)
    assert hook.get_first("SELECT COUNT(*) FROM items") == (1,)


def test_insert_rows_replace_overwrites_by_key(backend):
    hook = backend.hook()
    _create_items(hook)
    fields = ["id", "name", "price"]
    hook.insert_rows("items", [(1, "apple", 3), (2, "pear", 5)], target_fields=fields)
    extra = {"replace_index": "id"} if backend.name == "postgres" else {}
    hook.insert_rows("items", [(2, "pear", 6), (3, "fig", 9)], target_fields=fields, replace=True, **extra)
    assert hook.get_records("SELECT id, name, price FROM items ORDER BY id") == [
        (1, "apple", 3), (2, "pear", 6), (3, "fig", 9)]
    with pytest.raises(ValueError, match="row 2 has 2 values, expected 3"):
        hook.insert_rows("items", [(4, "kiwi", 1), (5, "lime")])


def test_get_pandas_df_and_sqlalchemy_engine(backend):
    hook = backend.hook()
    _create_items(hook)
    hook.insert_rows("items", [(1, "apple", 3), (2, "pear", 5)])
    frame = hook.get_pandas_df("SELECT id, name, price FROM items ORDER BY id")
    assert list(frame.columns) == ["id", "name", "price"]
    assert frame["name"].tolist() == ["apple", "pear"]
    assert int(frame["price"].sum()) == 8

    import sqlalchemy

    engine = hook.get_sqlalchemy_engine()
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT COUNT(*) FROM items")).scalar() == 2
    finally:
        engine.dispose()


def test_test_connection_and_hook_choice_by_conn_type(backend, monkeypatch, tmp_path):
    assert backend.hook().test_connection() == (True, "Connection successfully tested")
    chosen = get_db_hook(backend.conn_id)
    assert type(chosen) is backend.hook_class
    assert getattr(chosen, backend.hook_class.conn_name_attr) == backend.conn_id

    broken = {
        "sqlite": f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}",
        "postgres": "postgres://postgres@127.0.0.1:1/nope",
        "mariadb": backend.hook().connection.get_uri().replace("tw-s3cret", "wrong"),
    }[backend.name]
    monkeypatch.setenv("TRADEWIND_CONN_BROKEN", broken)
    ok, message = backend.hook_class("broken").test_connection()
    assert not ok and message


def test_hook_arguments_and_lookup_errors(monkeypatch):
    assert SqliteHook(sqlite_conn_id="a").sqlite_conn_id == "a"
    assert PostgresHook().postgres_conn_id == "postgres_default"
    assert PostgresHook("pg", database="other").schema == "other"
    with pytest.raises(TypeError, match="unexpected argument"):
        MySqlHook(mysql_conn="typo")
    monkeypatch.setenv("TRADEWIND_CONN_WEB", "http://example.com")
    with pytest.raises(NoSqlHookError, match="conn_type 'http', which has no SQL hook; SQL connection types: "
                                             "mysql, postgres, sqlite"):
        get_db_hook("web")
    with pytest.raises(ConnectionNotFound):
        get_db_hook("no_such_connection_here")
    monkeypatch.setenv("TRADEWIND_CONN_NOFILE", "sqlite://")
    with pytest.raises(ValueError, match="names no database file"):
        SqliteHook("nofile").get_conn()


def test_split_sql_string_keeps_quoted_and_commented_semicolons():
    sql = """
    INSERT INTO t VALUES ('a;b', "c;d");  -- trailing; comment
    /* block; comment */ SELECT 'it''s; fine';
    CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
    ;
    """
    assert split_sql_string(sql) == [
        "INSERT INTO t VALUES ('a;b', \"c;d\")",
        "-- trailing; comment\n    /* block; comment */ SELECT 'it''s; fine'",
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
    ]
