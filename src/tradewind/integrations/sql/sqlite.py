"""``SqliteHook``: the DB-API hook on a SQLite file (Python's own ``sqlite3``; no extra needed).

As in Airflow the connection's ``host`` is the database file's path
(``sqlite://%2Ftmp%2Fdata.db``); a URI with the path after the host part
(``sqlite:////tmp/data.db``, which puts it in ``schema``) works too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tradewind.integrations.sql.hooks import DbApiHook


class SqliteHook(DbApiHook):
    """Runs SQL on a SQLite database file; parameters use ``?`` or ``:name``."""

    conn_name_attr: ClassVar[str] = "sqlite_conn_id"
    default_conn_name: ClassVar[str] = "sqlite_default"
    conn_type: ClassVar[str] = "sqlite"
    hook_name: ClassVar[str] = "Sqlite"
    placeholder: ClassVar[str] = "?"
    sqlalchemy_scheme: ClassVar[str] = "sqlite"

    def database_path(self) -> str:
        """The database file of the connection (``host``, else ``schema``)."""
        conn = self.connection
        path = conn.host or conn.schema
        if not path:
            raise ValueError(f"SQLite connection {self.get_conn_id()!r} names no database file: "
                             "set its host to the file's path (e.g. sqlite://%2Ftmp%2Fdata.db)")
        return path

    def get_conn(self) -> Any:
        import sqlite3

        return sqlite3.connect(self.database_path())

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        # sqlite3 (before Python 3.12) commits each statement itself when isolation_level is None.
        conn.isolation_level = None if autocommit else ""

    def get_autocommit(self, conn: Any) -> bool:
        return conn.isolation_level is None

    def get_uri(self) -> str:
        return f"sqlite:///{self.database_path()}"
