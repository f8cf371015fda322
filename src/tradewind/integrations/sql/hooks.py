"""``DbApiHook``: Airflow's DB-API hook contract, shared by the SQLite, PostgreSQL and MySQL hooks.

A subclass says how to open a DB-API 2 connection from a :class:`Connection` (``get_conn``), how
to switch autocommit, its parameter placeholder and the SQLAlchemy URL of the same database;
everything else — running statements, fetching rows, bulk inserts, data frames — is here, so
the three databases behave the same way.

Every statement runs on a fresh connection that is closed afterwards (Airflow's behaviour): a
hook object holds no open connection between calls, so it is safe to keep in an operator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from typing import Any, ClassVar

from tradewind.definition.connection import Connection
from tradewind.definition.hooks import BaseHook
from tradewind.definition.exceptions import TradewindException


#: A PostgreSQL dollar-quote opener: ``$$`` or ``$tag$``.
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")


def fetch_all_handler(cursor: Any) -> list[tuple] | None:
    """All rows of the last statement, or None when it returns no rows (an INSERT, a DDL)."""
    if cursor.description is None:
        return None
    return list(cursor.fetchall())  # PyMySQL gives a tuple of rows


def fetch_one_handler(cursor: Any) -> tuple | None:
    """The first row of the last statement, or None when it returns no rows."""
    if cursor.description is None:
        return None
    return cursor.fetchone()


def return_single_query_results(sql: str | Iterable[str], return_last: bool, split_statements: bool) -> bool:
    """Whether ``run`` returns one result (a string of SQL, not split or asked for the last)
    rather than a list with one result per statement — Airflow's rule."""
    return isinstance(sql, str) and (return_last or not split_statements)


def split_sql_string(sql: str) -> list[str]:
    """The statements of ``sql`` split on ``;``, keeping semicolons inside quotes, quoted
    identifiers, ``$tag$`` strings (PostgreSQL) and comments; empty statements are dropped."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"', "`"):
            end = i + 1
            while end < n:
                if sql[end] == "\\" and ch != "`":
                    end += 2
                    continue
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # doubled quote inside the literal
                        end += 2
                        continue
                    break
                end += 1
            current.append(sql[i:end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            current.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            current.append(sql[i:end])
            i = end
        elif ch == "$" and (tag := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(tag.group(), tag.end())
            end = n if end == -1 else end + len(tag.group())
            current.append(sql[i:end])
            i = end
        elif ch == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(ch)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    """Whether a piece of SQL holds more than whitespace and comments."""
    for line in statement.splitlines():
        text = line.strip()
        if text and not text.startswith("--"):
            if text.startswith("/*") and text.endswith("*/"):
                continue
            return True
    return False


class DbApiHook(BaseHook):
    """Base of the SQL hooks (Airflow's ``DbApiHook``); the connection id is the first positional
    argument or the keyword named by ``conn_name_attr``."""

    #: Whether the driver can switch autocommit on a connection.
    supports_autocommit: ClassVar[bool] = True
    #: The parameter marker of the driver's paramstyle, used by ``insert_rows``.
    placeholder: ClassVar[str] = "%s"
    #: The SQLAlchemy dialect+driver of ``get_uri`` (e.g. ``postgresql+psycopg``).
    sqlalchemy_scheme: ClassVar[str] = ""

    def __init__(self, *args: str, schema: str | None = None, log_sql: bool = True, **kwargs: Any) -> None:
        super().__init__()
        if len(args) > 1:
            raise TypeError(f"{type(self).__name__} takes at most one positional argument (the connection id)")
        conn_id = args[0] if args else kwargs.pop(self.conn_name_attr, self.default_conn_name)
        unknown = sorted(kwargs)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s): {', '.join(unknown)}")
        setattr(self, self.conn_name_attr, conn_id)
        self.schema = schema
        self.log_sql = log_sql
        self._connection: Connection | None = None

    # ------------------------------------------------------------------ connection
    def get_conn_id(self) -> str:
        return getattr(self, self.conn_name_attr)

    @property
    def connection(self) -> Connection:
        """The :class:`Connection` (looked up once per hook)."""
        if self._connection is None:
            self._connection = self.get_connection(self.get_conn_id())
        return self._connection

    def get_uri(self) -> str:
        """A SQLAlchemy URL of the same database (password included; never log it)."""
        from sqlalchemy.engine import URL

        conn = self.connection
        return URL.create(self.sqlalchemy_scheme, username=conn.login or None, password=conn.password or None,
                          host=conn.host or None, port=conn.port,
                          database=self.schema or conn.schema or None).render_as_string(hide_password=False)

    def get_sqlalchemy_engine(self, engine_kwargs: dict[str, Any] | None = None) -> Any:
        """A SQLAlchemy engine on the same database (for ``DataFrame.to_sql`` and the like)."""
        from sqlalchemy import create_engine

        return create_engine(self.get_uri(), **(engine_kwargs or {}))

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        """Switch autocommit on ``conn`` (DB-API drivers spell it as an attribute by default)."""
        conn.autocommit = autocommit

    def get_autocommit(self, conn: Any) -> bool:
        return bool(getattr(conn, "autocommit", False))

    def get_cursor(self) -> Any:
        """A cursor on a new connection (the caller closes both)."""
        return self.get_conn().cursor()

    # ------------------------------------------------------------------ queries
    def run(
        self,
        sql: str | Iterable[str],
        autocommit: bool = False,
        parameters: Sequence[Any] | dict[str, Any] | None = None,
        handler: Callable[[Any], Any] | None = None,
        split_statements: bool = False,
        return_last: bool = True,
    ) -> Any:
        """Run one statement or several on one connection and commit (unless autocommit).

        With a ``handler`` (e.g. :func:`fetch_all_handler`) the result of each statement is
        ``handler(cursor)``; a single SQL string gives the last statement's result, a list gives
        one result per statement (Airflow's ``return_last``/``split_statements`` rules).
        """
        single = return_single_query_results(sql, return_last, split_statements)
        statements = self._statements(sql, split_statements)
        results: list[Any] = []
        last: Any = None
        with closing(self.get_conn()) as conn:
            if self.supports_autocommit:
                self.set_autocommit(conn, autocommit)
            with closing(conn.cursor()) as cur:
                for statement in statements:
                    self._run_command(cur, statement, parameters)
                    if handler is not None:
                        result = self._make_common_data_structure(handler(cur))
                        if single:
                            last = result
                        else:
                            results.append(result)
            if not self.get_autocommit(conn):
                conn.commit()
        if handler is None:
            return None
        return last if single else results

    def _statements(self, sql: str | Iterable[str], split_statements: bool) -> list[str]:
        if isinstance(sql, str):
            statements = split_sql_string(sql) if split_statements else ([sql] if sql.strip() else [])
        else:
            statements = [s for s in sql if isinstance(s, str) and s.strip()]
            bad = [s for s in sql if not isinstance(s, str)]
            if bad:
                raise TypeError(f"{type(self).__name__}.run: SQL statements must be strings, got {bad[0]!r}")
        if not statements:
            raise ValueError(f"{type(self).__name__}.run: no SQL statement to run (empty SQL)")
        return statements

    def _run_command(self, cur: Any, sql: str, parameters: Any) -> None:
        if self.log_sql:
            self.log.info("Running statement: %s, parameters: %s", sql, parameters)
        if parameters is None:
            cur.execute(sql)
        else:
            cur.execute(sql, parameters)
        if cur.rowcount is not None and cur.rowcount >= 0:
            self.log.info("Rows affected: %s", cur.rowcount)

    @staticmethod
    def _make_common_data_structure(result: Any) -> Any:
        """Rows as plain tuples whatever the driver's row type (so results compare and serialise alike)."""
        if isinstance(result, list):
            return [tuple(row) if isinstance(row, tuple | list) else row for row in result]
        if isinstance(result, tuple):
            return tuple(result)
        return result

    def get_records(self, sql: str | Iterable[str], parameters: Any = None) -> Any:
        """All rows of ``sql`` as a list of tuples (a list of such lists for a list of statements)."""
        return self.run(sql=sql, parameters=parameters, handler=fetch_all_handler)

    def get_first(self, sql: str | Iterable[str], parameters: Any = None) -> Any:
        """The first row of ``sql`` as a tuple, or None when there is none."""
        return self.run(sql=sql, parameters=parameters, handler=fetch_one_handler)

    def get_pandas_df(self, sql: str, parameters: Any = None, **kwargs: Any) -> Any:
        """The rows of ``sql`` as a ``pandas.DataFrame`` with the query's column names
        (``pandas`` extra); ``kwargs`` go to ``DataFrame.from_records`` (e.g. ``index``)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                f"{type(self).__name__}.get_pandas_df needs pandas: pip install 'tradewind[pandas]'") from None
        with closing(self.get_conn()) as conn, closing(conn.cursor()) as cur:
            self._run_command(cur, sql, parameters)
            columns = [d[0] for d in cur.description or ()]
            rows = cur.fetchall() if cur.description is not None else []
        return pandas.DataFrame.from_records([tuple(r) for r in rows], columns=columns, **kwargs)

    def get_df(self, sql: str, parameters: Any = None, *, df_type: str = "pandas", **kwargs: Any) -> Any:
        """common-sql's newer name (``df_type="pandas"``; the slack SQL transfers call it): the rows
        of ``sql`` as a DataFrame. Only pandas is supported; ``"polars"`` is refused naming it."""
        if df_type != "pandas":
            raise ValueError(f"{type(self).__name__}.get_df(df_type={df_type!r}): only df_type='pandas' is "
                             "supported by Tradewind's SQL hooks")
        return self.get_pandas_df(sql, parameters, **kwargs)

    # ------------------------------------------------------------------ writes
    def _insert_statement(self, table: str, width: int, target_fields: Sequence[str] | None,
                          replace: bool, **kwargs: Any) -> str:
        """``INSERT INTO table (fields) VALUES (%s, ...)``; ``REPLACE INTO`` when ``replace``."""
        if kwargs:
            raise TypeError(f"{type(self).__name__}.insert_rows got unexpected argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        columns = f" ({', '.join(target_fields)})" if target_fields else ""
        verb = "REPLACE INTO" if replace else "INSERT INTO"
        return f"{verb} {table}{columns} VALUES ({', '.join([self.placeholder] * width)})"

    def insert_rows(
        self,
        table: str,
        rows: Iterable[Sequence[Any]],
        target_fields: Sequence[str] | None = None,
        commit_every: int = 1000,
        replace: bool = False,
        **kwargs: Any,
    ) -> int:
        """Insert ``rows`` into ``table``, committing every ``commit_every`` rows (0: once at the end);
        ``replace`` overwrites rows with the same key. Returns how many rows were written."""
        if isinstance(target_fields, str):
            target_fields = [target_fields]
        width = len(target_fields) if target_fields else None
        statement: str | None = None
        total = 0
        batch: list[tuple] = []
        with closing(self.get_conn()) as conn:
            if self.supports_autocommit:
                self.set_autocommit(conn, False)
            with closing(conn.cursor()) as cur:
                for number, row in enumerate(rows, 1):
                    values = tuple(row)
                    if width is None:
                        width = len(values)
                    if len(values) != width:
                        raise ValueError(f"{type(self).__name__}.insert_rows into {table}: row {number} has "
                                         f"{len(values)} values, expected {width}")
                    if statement is None:
                        statement = self._insert_statement(table, width, target_fields, replace, **kwargs)
                        if self.log_sql:
                            self.log.info("Inserting rows with: %s", statement)
                    batch.append(values)
                    if commit_every and len(batch) >= commit_every:
                        cur.executemany(statement, batch)
                        conn.commit()
                        total += len(batch)
                        batch = []
                        self.log.info("Loaded %s rows into %s so far", total, table)
                if batch and statement is not None:
                    cur.executemany(statement, batch)
                    total += len(batch)
            conn.commit()
        self.log.info("Done loading. Loaded a total of %s rows into %s", total, table)
        return total

    def test_connection(self) -> tuple[bool, str]:
        """Run ``SELECT 1`` on the database: (ok, message)."""
        try:
            self.get_first("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return False, f"{type(exc).__name__}: {exc}"
        return True, "Connection successfully tested"


class NoSqlHookError(TradewindException, ValueError):
    """A connection whose type has no SQL hook (an operator cannot run SQL through it)."""


def get_db_hook(conn_id: str, hook_params: dict[str, Any] | None = None) -> DbApiHook:
    """The SQL hook for connection ``conn_id``, chosen by its ``conn_type`` in
    :data:`tradewind.integrations.HOOKS_BY_CONN_TYPE` (Airflow's ``Connection.get_hook``)."""
    import importlib

    from tradewind.integrations import HOOKS_BY_CONN_TYPE

    conn = BaseHook.get_connection(conn_id)
    target = HOOKS_BY_CONN_TYPE.get(conn.conn_type or "")
    hook_class = None
    if target:
        module_name, _, class_name = target.partition(":")
        hook_class = getattr(importlib.import_module(module_name), class_name)
    if hook_class is None or not issubclass(hook_class, DbApiHook):
        sql_types = sorted(t for t, path in HOOKS_BY_CONN_TYPE.items() if path.startswith("tradewind.integrations.sql."))
        raise NoSqlHookError(f"connection {conn_id!r} has conn_type {conn.conn_type!r}, which has no SQL hook; "
                             f"SQL connection types: {', '.join(sql_types)}")
    hook = hook_class(**{hook_class.conn_name_attr: conn_id}, **(hook_params or {}))
    hook._connection = conn
    return hook
