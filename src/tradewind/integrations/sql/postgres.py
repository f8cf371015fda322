"""``PostgresHook``: the DB-API hook on PostgreSQL with psycopg 3 (the ``postgres`` extra).

The connection's ``schema`` is the database name (Airflow's convention); the extra's keys are
passed to libpq as connection parameters (``sslmode``, ``connect_timeout``,
``application_name``, ``options`` ...), except the Airflow-only keys listed in
:data:`NOT_LIBPQ_EXTRAS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from tradewind.integrations.sql.hooks import DbApiHook

#: Extra keys Airflow's PostgresHook reads itself; they are not libpq parameters.
NOT_LIBPQ_EXTRAS = frozenset({"cursor", "iam", "redshift", "aws_conn_id", "cluster-identifier",
                              "enable_log_db_messages", "sqlalchemy_scheme", "sqlalchemy_query"})


class PostgresHook(DbApiHook):
    """Runs SQL on PostgreSQL; parameters use ``%s`` or ``%(name)s``. ``database=`` overrides the
    connection's database (Airflow's argument)."""

    conn_name_attr: ClassVar[str] = "postgres_conn_id"
    default_conn_name: ClassVar[str] = "postgres_default"
    conn_type: ClassVar[str] = "postgres"
    hook_name: ClassVar[str] = "Postgres"
    sqlalchemy_scheme: ClassVar[str] = "postgresql+psycopg"

    def __init__(self, *args: str, database: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if database is not None:
            self.schema = database

    @property
    def database(self) -> str | None:
        return self.schema or self.connection.schema

    def get_conn(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise ImportError("PostgresHook needs psycopg 3: pip install 'tradewind[postgres]'") from None
        conn = self.connection
        params = {k: v for k, v in conn.extra_dejson.items() if k not in NOT_LIBPQ_EXTRAS}
        for name, value in (("host", conn.host), ("port", conn.port), ("user", conn.login),
                            ("password", conn.password), ("dbname", self.database)):
            if value not in (None, ""):
                params[name] = value
        return psycopg.connect(**params)

    def _insert_statement(self, table: str, width: int, target_fields: Sequence[str] | None, replace: bool,
                          replace_index: str | Sequence[str] | None = None, **kwargs: Any) -> str:
        """``INSERT ... ON CONFLICT (replace_index) DO UPDATE`` for ``replace`` (PostgreSQL has no
        REPLACE INTO), which needs ``target_fields`` and ``replace_index`` (Airflow's arguments)."""
        if kwargs:
            raise TypeError(f"PostgresHook.insert_rows got unexpected argument(s): {', '.join(sorted(kwargs))}")
        statement = super()._insert_statement(table, width, target_fields, replace=False)
        if not replace:
            return statement
        if not target_fields or not replace_index:
            raise ValueError(f"PostgresHook.insert_rows into {table} with replace=True needs target_fields "
                             "and replace_index (the columns of the unique key to upsert on)")
        index = [replace_index] if isinstance(replace_index, str) else list(replace_index)
        others = [f for f in target_fields if f not in index]
        if not others:
            return f"{statement} ON CONFLICT ({', '.join(index)}) DO NOTHING"
        updates = ", ".join(f"{f} = excluded.{f}" for f in others)
        return f"{statement} ON CONFLICT ({', '.join(index)}) DO UPDATE SET {updates}"
