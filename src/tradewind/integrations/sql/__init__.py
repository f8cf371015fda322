"""SQL databases: the DB-API hooks (SQLite, PostgreSQL, MySQL/MariaDB), the SQL operators and
``SqlSensor``. The drivers (psycopg, PyMySQL) and pandas are imported only when used."""

from tradewind.integrations.sql.hooks import DbApiHook, fetch_all_handler, fetch_one_handler, get_db_hook
from tradewind.integrations.sql.mysql import MySqlHook
from tradewind.integrations.sql.operators import (
    BaseSQLOperator,
    SQLCheckOperator,
    SqlCheckFailed,
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SQLTableCheckOperator,
    SQLValueCheckOperator,
)
from tradewind.integrations.sql.postgres import PostgresHook
from tradewind.integrations.sql.sensors import SqlSensor, SqlSensorFailed
from tradewind.integrations.sql.sqlite import SqliteHook

__all__ = [
    "BaseSQLOperator", "DbApiHook", "MySqlHook", "PostgresHook", "SQLCheckOperator", "SQLColumnCheckOperator",
    "SQLExecuteQueryOperator", "SQLTableCheckOperator", "SQLValueCheckOperator", "SqlCheckFailed", "SqlSensor",
    "SqlSensorFailed", "SqliteHook", "fetch_all_handler", "fetch_one_handler", "get_db_hook",
]
