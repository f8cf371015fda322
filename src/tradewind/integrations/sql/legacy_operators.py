"""The per-database SQL operators Airflow deprecated for ``SQLExecuteQueryOperator``.

``PostgresOperator``, ``MySqlOperator`` and ``SqliteOperator`` are what books and older
tutorials use. In their last Airflow releases they were thin subclasses of
``SQLExecuteQueryOperator`` that only renamed the connection argument; these are the same:
``postgres_conn_id`` / ``mysql_conn_id`` / ``sqlite_conn_id`` (default ``postgres_default`` ...),
``sql``, ``parameters``, ``autocommit`` and (Postgres, MySQL) ``database``. Anything else of theirs
(e.g. Postgres ``runtime_parameters``) is refused at parse time by name. Each try's log starts with
a note naming the replacement, as Airflow warns.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tradewind.integrations.sql.operators import SQLExecuteQueryOperator

__all__ = ["MySqlOperator", "PostgresOperator", "SqliteOperator"]


class _LegacySqlOperator(SQLExecuteQueryOperator):
    """Renames ``<db>_conn_id`` to ``conn_id`` and notes the deprecation in the task log."""

    conn_argument: ClassVar[str] = ""
    template_fields: ClassVar[tuple[str, ...]] = ("sql", "parameters")

    def execute(self, context: dict[str, Any]) -> Any:
        self.task_logger(context).warning(
            "%s is deprecated in Airflow (removed from its provider); it runs as SQLExecuteQueryOperator "
            "with conn_id=%r. Use SQLExecuteQueryOperator(conn_id=...) instead.",
            type(self).__name__, self.conn_id)
        return super().execute(context)


class PostgresOperator(_LegacySqlOperator):
    """Runs ``sql`` on the connection ``postgres_conn_id`` (Airflow's old ``PostgresOperator``)."""

    conn_argument = "postgres_conn_id"

    def __init__(self, *, sql: str | list[str], postgres_conn_id: str = "postgres_default", autocommit: bool = False,
                 parameters: Any = None, database: str | None = None, **kwargs: Any) -> None:
        super().__init__(sql=sql, conn_id=postgres_conn_id, autocommit=autocommit, parameters=parameters,
                         database=database, **kwargs)
        self.postgres_conn_id = postgres_conn_id


class MySqlOperator(_LegacySqlOperator):
    """Runs ``sql`` on the connection ``mysql_conn_id`` (Airflow's old ``MySqlOperator``)."""

    conn_argument = "mysql_conn_id"

    def __init__(self, *, sql: str | list[str], mysql_conn_id: str = "mysql_default", autocommit: bool = False,
                 parameters: Any = None, database: str | None = None, **kwargs: Any) -> None:
        super().__init__(sql=sql, conn_id=mysql_conn_id, autocommit=autocommit, parameters=parameters,
                         database=database, **kwargs)
        self.mysql_conn_id = mysql_conn_id


class SqliteOperator(_LegacySqlOperator):
    """Runs ``sql`` on the connection ``sqlite_conn_id`` (Airflow's old ``SqliteOperator``)."""

    conn_argument = "sqlite_conn_id"

    def __init__(self, *, sql: str | list[str], sqlite_conn_id: str = "sqlite_default", parameters: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(sql=sql, conn_id=sqlite_conn_id, parameters=parameters, **kwargs)
        self.sqlite_conn_id = sqlite_conn_id
