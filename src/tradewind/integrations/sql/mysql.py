"""``MySqlHook``: the DB-API hook on MySQL and MariaDB with PyMySQL (the ``mysql`` extra).

PyMySQL is a pure-Python driver, so the extra installs without a C compiler or client library.
The connection's ``schema`` is the database; the extra may set ``charset`` (default
``utf8mb4``), ``connect_timeout``, ``local_infile``, ``unix_socket`` and ``ssl`` (a dict of
PyMySQL's ssl options).
"""

from __future__ import annotations

from typing import Any, ClassVar

from tradewind.integrations.sql.hooks import DbApiHook

#: Extra keys passed on to ``pymysql.connect``.
PYMYSQL_EXTRAS = ("charset", "connect_timeout", "local_infile", "unix_socket", "ssl", "init_command")


class MySqlHook(DbApiHook):
    """Runs SQL on MySQL/MariaDB; parameters use ``%s`` or ``%(name)s``."""

    conn_name_attr: ClassVar[str] = "mysql_conn_id"
    default_conn_name: ClassVar[str] = "mysql_default"
    conn_type: ClassVar[str] = "mysql"
    hook_name: ClassVar[str] = "MySQL"
    sqlalchemy_scheme: ClassVar[str] = "mysql+pymysql"

    def get_conn(self) -> Any:
        try:
            import pymysql
        except ImportError:
            raise ImportError("MySqlHook needs PyMySQL: pip install 'tradewind[mysql]'") from None
        conn = self.connection
        extra = conn.extra_dejson
        params: dict[str, Any] = {"host": conn.host or "localhost", "port": conn.port or 3306,
                                  "user": conn.login or "", "password": conn.password or "",
                                  "charset": "utf8mb4"}
        database = self.schema or conn.schema
        if database:
            params["database"] = database
        params.update({k: extra[k] for k in PYMYSQL_EXTRAS if k in extra})
        if "local_infile" in params:
            params["local_infile"] = str(params["local_infile"]).lower() in ("1", "true")
        return pymysql.connect(**params)

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        conn.autocommit(autocommit)

    def get_autocommit(self, conn: Any) -> bool:
        return bool(conn.get_autocommit())
